// oclif lists commands in the order the file system returns their files, which
// differs between checkouts; sorting them makes oclif.manifest.json reproducible
// (CI checks that a fresh build leaves it unchanged).
import {readFileSync, writeFileSync} from 'node:fs'

const file = new URL('../oclif.manifest.json', import.meta.url)
const manifest = JSON.parse(readFileSync(file, 'utf8'))
manifest.commands = Object.fromEntries(Object.entries(manifest.commands).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
writeFileSync(file, JSON.stringify(manifest, null, 2))
