#!/usr/bin/env -S node --import tsx --disable-warning=ExperimentalWarning
import {execute} from '@oclif/core'

await execute({development: true, dir: import.meta.url})
await new Promise((resolve) => process.stdout.write('', resolve))
await new Promise((resolve) => process.stderr.write('', resolve))
process.exit()
