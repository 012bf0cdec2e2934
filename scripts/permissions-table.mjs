#!/usr/bin/env node
// Writes the command → permission → built-in roles table into README.md, between
// <!-- permissions --> and <!-- permissionsstop -->, from the built manifest and roles.
import {readFileSync, writeFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const manifest = JSON.parse(readFileSync(join(root, 'oclif.manifest.json'), 'utf8'))
const {BUILTIN_ROLES} = await import(join(root, 'dist/src/lib/auth/permissions.js'))
const roles = Object.keys(BUILTIN_ROLES)

const rows = Object.entries(manifest.commands)
  .sort(([a], [b]) => a.localeCompare(b))
  .map(([id, command]) => {
    // A command without a permission (signing in, init) is open to anyone.
    const allowed = roles.map((role) => (command.permission === null || BUILTIN_ROLES[role].permissions.includes(command.permission) ? 'yes' : '-'))
    return `| \`${id}\` | ${command.permission === null ? 'anyone' : `\`${command.permission}\``} | ${allowed.join(' | ')} |`
  })
const table = [`| command | permission | ${roles.join(' | ')} |`, `|---|---|${roles.map(() => '---').join('|')}|`, ...rows].join('\n')

const readmePath = join(root, 'README.md')
const readme = readFileSync(readmePath, 'utf8')
const start = '<!-- permissions -->'
const stop = '<!-- permissionsstop -->'
if (!readme.includes(start) || !readme.includes(stop)) throw new Error(`README.md lacks ${start} … ${stop}`)
writeFileSync(readmePath, readme.replace(new RegExp(`${start}[\\s\\S]*${stop}`), `${start}\n${table}\n${stop}`))
console.error(`wrote the permissions of ${rows.length} commands to README.md`)
