#!/usr/bin/env node
import {execute} from '@oclif/core'

// Debug output (DEBUG=knex:*, DEBUG=*) prints queries' bindings and the command line: scrubbed of secrets from the first line on.
if (process.env.DEBUG) {
  const {installDebugScrubber} = await import('../dist/src/lib/redact/debug-output.js')
  installDebugScrubber(process.argv.slice(2))
}

await execute({dir: import.meta.url})
// The work is done and its output written. A fleet server that never answered can
// still hold a socket after the bounded teardown; it must not keep the process alive.
// Flush both streams first: a pipe may be asynchronous on some platforms.
await new Promise((resolve) => process.stdout.write('', resolve))
await new Promise((resolve) => process.stderr.write('', resolve))
process.exit()
