#!/usr/bin/env node
import {execute} from '@oclif/core'

await execute({dir: import.meta.url})
// The work is done and its output written. A fleet server that never answered can
// still hold a socket after the bounded teardown; it must not keep the process alive.
process.exit()
