import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {PERMISSIONS} from '../../src/lib/auth/permissions.js'

const root = join(import.meta.dirname, '..', '..')
interface ManifestFlag {
  type: string
  default?: unknown
}
const manifest = JSON.parse(readFileSync(join(root, 'oclif.manifest.json'), 'utf8')) as {
  commands: Record<
    string,
    {
      permission?: string | null
      summary?: string
      description?: string
      examples?: unknown[]
      enableJsonFlag?: boolean
      flags: Record<string, ManifestFlag>
    }
  >
}
const readme = readFileSync(join(root, 'README.md'), 'utf8')
const pjson = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {oclif: {topics: Record<string, {description?: string}>}}

describe('topics', () => {
  const topics = [...new Set(Object.keys(manifest.commands).flatMap((id) => (id.includes(':') ? [id.split(':')[0]] : [])))]
  const summaries = new Set(Object.values(manifest.commands).map((command) => command.summary))

  it.each(topics)("%s has a description of its own, not one of its commands' summaries", (topic) => {
    const description = pjson.oclif.topics[topic]?.description
    expect(description, `package.json oclif.topics.${topic}`).toMatch(/^[a-z].{10,}/)
    expect(summaries.has(description)).toBe(false)
  })
})

/** What a command class declares of a flag (the parts this test reads). */
interface FlagDefinition {
  type: string
  default?: unknown
  parse(input: string, context: unknown, options: unknown): Promise<unknown>
}

describe.each(Object.entries(manifest.commands))('command %s', (id, command) => {
  it('declares a known permission, help text, examples and --json', () => {
    // null: open to anyone (signing in and out, init, the demo in its own home; completion:fish only prints the loaded commands; alerts:test runs in a scratch database of its own).
    if (command.permission === null)
      expect(['init', 'db:migrate', 'auth:login', 'auth:logout', 'auth:whoami', 'demo', 'completion:fish', 'alerts:test']).toContain(id)
    else expect(Object.keys(PERMISSIONS)).toContain(command.permission)
    expect(command.summary, 'summary').toMatch(/^[a-z]/)
    expect(command.description?.length ?? 0, 'description').toBeGreaterThan(40)
    expect(command.examples?.length ?? 0, 'examples').toBeGreaterThan(0)
    expect(command.enableJsonFlag).toBe(true)
  })

  it('has examples that are command lines, so help prints each with the $ prompt', () => {
    for (const example of command.examples ?? []) {
      expect(typeof example).toBe('string')
      expect(example).toMatch(/^<%= config\.bin %> /)
    }
  })

  it('shows each default as the user would type it: typed back, it gives the default', async () => {
    const {default: Command} = (await import(/* @vite-ignore */ join(root, 'src', 'commands', `${id.replaceAll(':', '/')}.ts`))) as {
      default: {flags: Record<string, FlagDefinition>}
    }
    for (const [name, flag] of Object.entries(Command.flags ?? {})) {
      const shown = command.flags[name]?.default
      if (flag.type !== 'option' || shown === undefined || flag.default === undefined) continue
      const value = typeof flag.default === 'function' ? await flag.default({options: flag, flags: {}}) : flag.default
      expect(await flag.parse(String(shown), {}, flag), `--${name} [default: ${String(shown)}]`).toEqual(value)
    }
  })

  it('is in the README command reference and permission table', () => {
    expect(readme).toContain(`## \`raiops ${id}`)
    expect(readme).toContain(command.permission === null ? `| \`${id}\` | anyone |` : `| \`${id}\` | \`${command.permission}\` |`)
  })
})
