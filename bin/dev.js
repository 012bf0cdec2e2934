#!/usr/bin/env -S node --import tsx --disable-warning=ExperimentalWarning
import {execute} from '@oclif/core'

// Debug output (DEBUG=knex:*, DEBUG=*) prints queries' bindings and the command line: scrubbed of secrets from the first line on.
if (process.env.DEBUG) {
  const {installDebugScrubber} = await import('../src/lib/redact/debug-output.ts')
  installDebugScrubber(process.argv.slice(2))
}

await execute({development: true, dir: import.meta.url})
await new Promise((resolve) => process.stdout.write('', resolve))
await new Promise((resolve) => process.stderr.write('', resolve))
process.exit()
