import {randomBytes} from 'node:crypto'
import {closeSync, fchmodSync, fsyncSync, openSync, renameSync, rmSync, writeSync} from 'node:fs'
import {basename, dirname, join} from 'node:path'

/** A name for a temporary file beside `path`, in the same directory (so a rename replaces `path` at once). */
export function temporaryBeside(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`)
}

/**
 * Replaces `path` with `text` so that a reader, or a crash, sees the old file
 * or the new one, never half of either: a temporary file beside it (created
 * with `mode`), fsynced, renamed over it, and the directory fsynced so the
 * rename itself survives a power cut. Throws the file system's error.
 */
export function writeFileAtomic(path: string, text: string, mode: number): void {
  const temporary = temporaryBeside(path)
  let fd: number | undefined
  try {
    fd = openSync(temporary, 'wx', mode)
    // The mode asked for, whatever the umask.
    fchmodSync(fd, mode)
    writeSync(fd, text)
    fsyncSync(fd)
    closeSync(fd)
    fd = undefined
    renameSync(temporary, path)
  } catch (error) {
    if (fd !== undefined) closeSync(fd)
    rmSync(temporary, {force: true})
    throw error
  }
  syncDirectory(dirname(path))
}

/** Makes a rename in `dir` durable; a file system that cannot fsync a directory is left as it is. */
export function syncDirectory(dir: string): void {
  let fd: number | undefined
  try {
    fd = openSync(dir, 'r')
    fsyncSync(fd)
  } catch {
    // Best effort: the file itself is already on disk.
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}
