#!/usr/bin/env node
import {execute} from '@oclif/core'

await execute({dir: import.meta.url})
// The work is done and its output written. A fleet server that never answered can
// still hold a socket after the bounded teardown; it must not keep the process alive.
// Flush both streams first: a pipe may be asynchronous on some platforms.
await new Promise((resolve) => process.stdout.write('', resolve))
await new Promise((resolve) => process.stderr.write('', resolve))
process.exit()
