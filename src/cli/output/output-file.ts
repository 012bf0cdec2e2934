import {closeSync, lstatSync, openSync, readlinkSync, writeSync, type Stats} from 'node:fs'
import {open} from 'node:fs/promises'
import {dirname, resolve, sep} from 'node:path'

import {UserError} from '../../lib/errors/index.js'
import {openAtomicFile, writeFileAtomic, type AtomicFile} from '../../lib/files/atomic.js'

/**
 * The mode of every file `--output` creates: what raiops writes (emails,
 * audit entries, hosts) is for its owner. A caller may widen it for output
 * another service must read (node_exporter's textfile collector).
 */
export const OUTPUT_FILE_MODE = 0o600

/**
 * Where `--output PATH` goes:
 * - `-`: standard output;
 * - a regular file, or a path that does not exist yet: written atomically (a
 *   temporary file beside it, fsynced, then renamed over it), so a reader never
 *   sees half a file; a symbolic link to one is followed, and its target is
 *   replaced, the link kept;
 * - one of this process's descriptors (`/dev/stdout`, `/dev/fd/3`,
 *   `/proc/self/fd/1`): written to that descriptor, whatever it is (a socket
 *   cannot be opened by its /proc name);
 * - a character device or a FIFO, or anything else reached through /dev or
 *   /proc: written through, appended to, never replaced;
 * - anything else (a directory, a socket): refused.
 */
export type OutputTarget = {kind: 'stdout'} | {kind: 'atomic'; path: string} | {kind: 'through'; path: string} | {kind: 'descriptor'; fd: number}

const MAX_LINKS = 40

const DESCRIPTOR_PATH = /^\/(?:dev\/fd|proc\/(?:self|thread-self|(\d+))\/fd)\/(\d+)$/
const STANDARD_STREAMS: Record<string, number> = {'/dev/stdin': 0, '/dev/stdout': 1, '/dev/stderr': 2}

/** The descriptor of this process that `path` names, if it names one. */
function descriptorOf(path: string): number | undefined {
  if (path in STANDARD_STREAMS) return STANDARD_STREAMS[path]
  const match = DESCRIPTOR_PATH.exec(path)
  if (!match || (match[1] !== undefined && Number(match[1]) !== process.pid)) return undefined
  return Number(match[2])
}

/** /dev and /proc hold devices and processes' descriptors: never replaced by a file. */
function isSystemPath(path: string): boolean {
  return ['/dev', '/proc'].some((root) => path === root || path.startsWith(`${root}${sep}`))
}

function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw cannotWrite(path, error)
  }
}

function cannotWrite(file: string, error: unknown): UserError {
  return new UserError(`--output ${file} cannot be written (${(error as NodeJS.ErrnoException).code ?? 'error'})`, {
    hint: 'name a file in a directory that exists and you can write',
  })
}

/** Decides how `--output file` is written (see `OutputTarget`), following symbolic links one by one. */
export function outputTarget(file: string): OutputTarget {
  if (file === '-') return {kind: 'stdout'}
  let current = resolve(file)
  for (let hop = 0; hop <= MAX_LINKS; hop++) {
    const fd = descriptorOf(current)
    if (fd !== undefined) return fd === 1 ? {kind: 'stdout'} : {kind: 'descriptor', fd}
    if (isSystemPath(current)) return {kind: 'through', path: file}
    const stat = lstatOrNull(current)
    if (stat === null || stat.isFile()) return {kind: 'atomic', path: current}
    if (stat.isSymbolicLink()) {
      current = resolve(dirname(current), readlinkSync(current))
      continue
    }
    if (stat.isCharacterDevice() || stat.isFIFO()) return {kind: 'through', path: current}
    if (stat.isDirectory()) throw new UserError(`--output ${file} is a directory`, {hint: 'name a file in it'})
    throw new UserError(`--output ${file} is neither a file, a character device nor a FIFO`, {
      hint: 'name a file, or - for standard output',
    })
  }
  throw new UserError(`--output ${file} is a loop of symbolic links`, {hint: 'name a file'})
}

/** Writes `text` to `--output file` as `outputTarget` decides. */
export function writeOutputText(file: string, text: string, options: {mode?: number} = {}): void {
  const target = outputTarget(file)
  try {
    if (target.kind === 'stdout') process.stdout.write(text)
    else if (target.kind === 'descriptor') writeSync(target.fd, text)
    else if (target.kind === 'atomic') writeFileAtomic(target.path, text, options.mode ?? OUTPUT_FILE_MODE)
    else {
      const fd = openSync(target.path, 'a')
      try {
        writeSync(fd, text)
      } finally {
        closeSync(fd)
      }
    }
  } catch (error) {
    throw cannotWrite(file, error)
  }
}

/** An output being written piece by piece; nothing appears at an atomic target before `commit()`. */
export interface OutputStream {
  write(chunk: string): Promise<void>
  commit(): Promise<void>
  abort(): Promise<void>
}

/** Opens `--output file` for writing in pieces, as `writeOutputText` writes it whole (`-`: standard output). */
export async function openOutputStream(file: string, options: {mode?: number} = {}): Promise<OutputStream> {
  const target = outputTarget(file)
  if (target.kind === 'stdout') {
    return {
      write: (chunk) => new Promise<void>((done, fail) => process.stdout.write(chunk, (error) => (error ? fail(error) : done()))),
      commit: async () => undefined,
      abort: async () => undefined,
    }
  }
  if (target.kind === 'descriptor') {
    return {
      write: async (chunk) => {
        try {
          writeSync(target.fd, chunk)
        } catch (error) {
          throw cannotWrite(file, error)
        }
      },
      commit: async () => undefined,
      abort: async () => undefined,
    }
  }
  const mode = options.mode ?? OUTPUT_FILE_MODE
  if (target.kind === 'atomic') {
    let atomic: AtomicFile
    try {
      atomic = openAtomicFile(target.path, mode)
    } catch (error) {
      throw cannotWrite(file, error)
    }
    const attempt = (step: () => void) => {
      try {
        step()
      } catch (error) {
        atomic.abort()
        throw cannotWrite(file, error)
      }
    }
    return {
      write: async (chunk) => attempt(() => atomic.write(chunk)),
      commit: async () => attempt(() => atomic.commit()),
      abort: async () => atomic.abort(),
    }
  }
  const handle = await open(target.path, 'a', mode).catch((error: unknown) => {
    throw cannotWrite(file, error)
  })
  const failed = async (error: unknown) => {
    await handle.close().catch(() => undefined)
    throw cannotWrite(file, error)
  }
  return {
    write: async (chunk) => void (await handle.write(chunk).catch(failed)),
    commit: async () => void (await handle.close().catch(failed)),
    abort: async () => void (await handle.close().catch(() => undefined)),
  }
}
