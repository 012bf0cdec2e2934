import {randomBytes} from 'node:crypto'
import {closeSync, fchmodSync, fsyncSync, openSync, renameSync, rmSync, writeSync} from 'node:fs'
import {basename, dirname, join} from 'node:path'

/** A name for a temporary file beside `path`, in the same directory (so a rename replaces `path` at once). */
function temporaryBeside(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`)
}

/** A file being replaced: written beside its final name, then put in place whole by `commit()`, or dropped by `abort()`. */
export interface AtomicFile {
  write(text: string): void
  commit(): void
  abort(): void
}

/**
 * Opens a replacement for `path` so that a reader, or a crash, sees the old
 * file or the new one, never half of either: a temporary file beside it
 * (created with `mode`, whatever the umask), which `commit()` fsyncs and
 * renames over `path`, then fsyncs the directory so the rename itself survives
 * a power cut. The one implementation of raiops' atomic writes (`--output`,
 * key files, the demo marker). Throws the file system's error; a failed commit
 * leaves `path` as it was.
 */
export function openAtomicFile(path: string, mode: number): AtomicFile {
  const temporary = temporaryBeside(path)
  let fd: number | undefined = openSync(temporary, 'wx', mode)
  // Best effort, and never in place of the error that led here: the descriptor may already be closed.
  const abort = () => {
    const open = fd
    fd = undefined
    try {
      if (open !== undefined) closeSync(open)
    } catch {
      // already closed, or the close itself failed: the temporary file goes all the same
    }
    rmSync(temporary, {force: true})
  }
  try {
    fchmodSync(fd, mode)
  } catch (error) {
    abort()
    throw error
  }
  return {
    write(text) {
      if (fd === undefined) throw new Error('the file was already committed or abandoned')
      writeSync(fd, text)
    },
    commit() {
      if (fd === undefined) throw new Error('the file was already committed or abandoned')
      try {
        fsyncSync(fd)
        const open = fd
        fd = undefined
        closeSync(open)
        renameSync(temporary, path)
      } catch (error) {
        abort()
        throw error
      }
      syncDirectory(dirname(path))
    },
    abort,
  }
}

/** Replaces `path` with `text` atomically (see `openAtomicFile`). */
export function writeFileAtomic(path: string, text: string, mode: number): void {
  const file = openAtomicFile(path, mode)
  try {
    file.write(text)
  } catch (error) {
    file.abort()
    throw error
  }
  file.commit()
}

/** Makes a rename in `dir` durable; a file system that cannot fsync a directory is left as it is. */
function syncDirectory(dir: string): void {
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
