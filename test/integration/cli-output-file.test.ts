import {execFileSync, spawn} from 'node:child_process'
import {lstatSync, mkdirSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {type CliResult} from '../support/cli.js'
import {createTestDir, type TestDir} from '../support/servers.js'
import {initialisedHome, type CliSession} from '../support/session.js'

const CSV_HEADER = /^id,name,engine,/m

describe('--output writes files atomically, devices and FIFOs through, and never replaces a link', () => {
  let home: TestDir
  let dir: string
  let session: CliSession
  // Spawned: a link to /proc/self/fd/1 is the command's own standard output only in a process of its own.
  const cli = (args: string[]): Promise<CliResult> => session.run(args)
  const modeOf = (path: string) => statSync(path).mode & 0o777

  beforeAll(async () => {
    home = createTestDir('raiops-output-')
    dir = join(home.path, 'out')
    mkdirSync(dir)
    session = await initialisedHome({
      home: join(home.path, 'raiops'),
      password: 'output-admin-password-1',
      env: {RAIOPS_TOKEN: ''},
      timeoutMs: 30_000,
    })
  })

  afterAll(() => home?.drop())

  it('a new file and an existing one (0644) are written whole with mode 0600', async () => {
    const fresh = join(dir, 'operators.csv')
    const made = await cli(['operator:list', '--format', 'csv', '--output', fresh])
    expect(made.code, made.stderr).toBe(0)
    expect(readFileSync(fresh, 'utf8')).toMatch(/ops@example\.com/)
    expect(modeOf(fresh)).toBe(0o600)

    const existing = join(dir, 'existing.csv')
    writeFileSync(existing, 'old contents\n', {mode: 0o644})
    const replaced = await cli(['rds:list', '--format', 'csv', '--output', existing])
    expect(replaced.code, replaced.stderr).toBe(0)
    expect(readFileSync(existing, 'utf8')).toMatch(CSV_HEADER)
    expect(modeOf(existing)).toBe(0o600)
  })

  it('a symbolic link to a file stays a link; its target gets the output, mode 0600', async () => {
    const target = join(dir, 'target.csv')
    writeFileSync(target, 'old contents\n', {mode: 0o644})
    const link = join(dir, 'link.csv')
    symlinkSync(target, link)
    const result = await cli(['rds:list', '--format', 'csv', '--output', link])
    expect(result.code, result.stderr).toBe(0)
    expect(lstatSync(link).isSymbolicLink()).toBe(true)
    expect(readlinkSync(link)).toBe(target)
    expect(readFileSync(target, 'utf8')).toMatch(CSV_HEADER)
    expect(modeOf(target)).toBe(0o600)

    const exported = await cli(['audit:export', '--format', 'ndjson', '--output', link])
    expect(exported.code, exported.stderr).toBe(0)
    expect(lstatSync(link).isSymbolicLink()).toBe(true)
    expect(readFileSync(target, 'utf8')).toMatch(/"action":"operator\.create"/)
    expect(modeOf(target)).toBe(0o600)
  })

  it("a link to this process's stdout (what /dev/stdout is) is written through and stays a link", async () => {
    const stdoutLink = join(dir, 'stdout')
    symlinkSync('/proc/self/fd/1', stdoutLink)
    for (const args of [['rds:list', '--format', 'csv'], ['audit:export', '--format', 'ndjson'], ['audit:checkpoint']]) {
      const result = await cli([...args, '--output', stdoutLink])
      expect(result.code, result.stderr).toBe(0)
      expect(lstatSync(stdoutLink).isSymbolicLink(), args[0]).toBe(true)
      expect(result.stdout, args[0]).toMatch(args[0] === 'rds:list' ? CSV_HEADER : args[0] === 'audit:export' ? /"action":"operator\.create"/ : /"jws"/)
    }
  })

  it('--json with --output naming standard output by a link is refused: stdout carries one document', async () => {
    const stdoutLink = join(dir, 'stdout-json')
    symlinkSync('/proc/self/fd/1', stdoutLink)
    for (const args of [['rds:list'], ['audit:export', '--format', 'ndjson'], ['audit:checkpoint']]) {
      const result = await cli([...args, '--json', '--output', stdoutLink])
      expect(result.code, args[0]).toBe(2)
      expect(JSON.parse(result.stdout).error.message, args[0]).toMatch(/and --json both write to standard output/)
    }
  })

  it('a character device and a link to one are written through and stay what they are', async () => {
    const device = join(dir, 'null')
    execFileSync('mknod', [device, 'c', '1', '3'])
    const link = join(dir, 'to-dev-null')
    symlinkSync('/dev/null', link)
    for (const path of [device, link]) {
      const result = await cli(['rds:list', '--format', 'csv', '--output', path])
      expect(result.code, result.stderr).toBe(0)
    }
    expect(lstatSync(device).isCharacterDevice()).toBe(true)
    expect(lstatSync(link).isSymbolicLink()).toBe(true)
    expect(lstatSync('/dev/null').isCharacterDevice()).toBe(true)
  })

  it('a FIFO is written through to its reader and stays a FIFO', async () => {
    const fifo = join(dir, 'pipe')
    execFileSync('mkfifo', [fifo])
    const reader = spawn('cat', [fifo], {stdio: ['ignore', 'pipe', 'inherit']})
    let read = ''
    reader.stdout.on('data', (chunk) => (read += chunk))
    const closed = new Promise((resolve) => reader.on('close', resolve))
    const result = await cli(['rds:list', '--format', 'csv', '--output', fifo])
    const stillFifo = lstatSync(fifo).isFIFO()
    // A FIFO replaced by a file never gets a writer: its reader would wait for ever.
    if (!stillFifo) reader.kill()
    await closed
    expect(result.code, result.stderr).toBe(0)
    expect(stillFifo).toBe(true)
    expect(read).toMatch(CSV_HEADER)
  })

  it('- is standard output (refused with --json where the output is a file of its own); a directory is refused', async () => {
    const listed = await cli(['rds:list', '--format', 'csv', '--output', '-'])
    expect(listed.code, listed.stderr).toBe(0)
    expect(listed.stdout).toMatch(CSV_HEADER)
    const exported = await cli(['audit:export', '--format', 'csv', '--output', '-'])
    expect(exported.code, exported.stderr).toBe(0)
    expect(exported.stdout).toMatch(/^id,seq,occurred_at/)
    const checkpoint = await cli(['audit:checkpoint', '--output', '-'])
    expect(checkpoint.code, checkpoint.stderr).toBe(0)
    expect(JSON.parse(checkpoint.stdout)).toHaveProperty('jws')
    const both = await cli(['audit:export', '--format', 'csv', '--output', '-', '--json'])
    expect(both.code).toBe(2)
    expect(JSON.parse(both.stdout).error.message).toMatch(/--output - and --json both write to standard output/)
    const intoDir = await cli(['rds:list', '--format', 'csv', '--output', dir])
    expect(intoDir.code).toBe(2)
    expect(intoDir.stderr.trim().split('\n')).toHaveLength(1)
    expect(intoDir.stderr).toMatch(/--output .* is a directory/)
    expect(lstatSync(dir).isDirectory()).toBe(true)
  })

  it('every --output file is 0600 (checkpoint, export, health), but the Prometheus textfile node_exporter reads, 0644', async () => {
    const checkpoint = join(dir, 'head.json')
    expect((await cli(['audit:checkpoint', '--output', checkpoint])).code).toBe(0)
    expect(modeOf(checkpoint)).toBe(0o600)
    const exported = join(dir, 'audit.csv')
    expect((await cli(['audit:export', '--format', 'csv', '--output', exported])).code).toBe(0)
    expect(modeOf(exported)).toBe(0o600)
    const health = join(dir, 'health.json')
    expect((await cli(['rds:health', '--format', 'json', '--output', health])).code).toBe(0)
    expect(modeOf(health)).toBe(0o600)
    const prom = join(dir, 'raiops.prom')
    expect((await cli(['rds:health', '--format', 'prometheus', '--output', prom])).code).toBe(0)
    expect(modeOf(prom)).toBe(0o644)
  })
})
