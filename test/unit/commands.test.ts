import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {PERMISSIONS} from '../../src/lib/auth/permissions.js'

const root = join(import.meta.dirname, '..', '..')
const manifest = JSON.parse(readFileSync(join(root, 'oclif.manifest.json'), 'utf8')) as {
  commands: Record<string, {permission?: string | null; summary?: string; description?: string; examples?: string[]; enableJsonFlag?: boolean}>
}
const readme = readFileSync(join(root, 'README.md'), 'utf8')

describe.each(Object.entries(manifest.commands))('command %s', (id, command) => {
  it('declares a known permission, help text, examples and --json', () => {
    // null: open to anyone (signing in and out, init, the demo in its own home).
    if (command.permission === null) expect(['init', 'db:migrate', 'auth:login', 'auth:logout', 'auth:whoami', 'demo']).toContain(id)
    else expect(Object.keys(PERMISSIONS)).toContain(command.permission)
    expect(command.summary, 'summary').toMatch(/^[a-z]/)
    expect(command.description?.length ?? 0, 'description').toBeGreaterThan(40)
    expect(command.examples?.length ?? 0, 'examples').toBeGreaterThan(0)
    expect(command.enableJsonFlag).toBe(true)
  })

  it('is in the README command reference and permission table', () => {
    expect(readme).toContain(`## \`raiops ${id}`)
    expect(readme).toContain(command.permission === null ? `| \`${id}\` | anyone |` : `| \`${id}\` | \`${command.permission}\` |`)
  })
})
