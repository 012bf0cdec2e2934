import {readFileSync, readlinkSync} from 'node:fs'

/**
 * What makes a pid name one process and no other, as far as Linux can tell:
 * the boot of the kernel (a pid means nothing on another machine, or after a
 * reboot), the pid namespace (two containers on one kernel, even with the same
 * hostname, number their processes apart), and the process's start time (a pid
 * is reused once its process is gone). Elsewhere (no /proc) nothing is known,
 * and nothing can be proven about a pid.
 */
export interface ProcessIdentity {
  /** /proc/sys/kernel/random/boot_id. */
  bootId: string
  /** The inode of /proc/self/ns/pid. */
  pidNamespace: string
  /** Field 22 of /proc/<pid>/stat (clock ticks after boot); null when the process was not found. */
  startTime: string | null
}

interface ProcStat {
  pid: number
  state: string
  startTime: string
}

/** /proc/<pid>/stat: 'absent' when there is no such process, null when it cannot be read or understood. */
function readStat(pid: number | 'self'): ProcStat | 'absent' | null {
  let text: string
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    return code === 'ENOENT' || code === 'ESRCH' ? 'absent' : null
  }
  // The command name (field 2) is in parentheses and may hold spaces or parentheses itself.
  const close = text.lastIndexOf(')')
  if (close < 0) return null
  // After the name: state is field 3, starttime field 22.
  const fields = text.slice(close + 2).split(' ')
  const startTime = fields[19]
  if (!startTime || !/^\d+$/.test(startTime)) return null
  return {pid: Number.parseInt(text, 10), state: fields[0], startTime}
}

const statOf = (pid: number | 'self'): ProcStat | null => {
  const stat = readStat(pid)
  return stat === 'absent' ? null : stat
}

let here: {bootId: string; pidNamespace: string} | null | undefined

/**
 * This process's machine and pid namespace, read once; null when /proc cannot
 * tell (not Linux, or a /proc mounted for another pid namespace, where a pid
 * would be looked up among the wrong processes).
 */
function machineHere(): {bootId: string; pidNamespace: string} | null {
  if (here !== undefined) return here
  here = null
  try {
    const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()
    const namespace = /^pid:\[(\d+)\]$/.exec(readlinkSync('/proc/self/ns/pid'))
    if (/^[0-9a-f-]{8,64}$/i.test(bootId) && namespace && statOf('self')?.pid === process.pid) here = {bootId, pidNamespace: namespace[1]}
  } catch {
    // not Linux: nothing to go by
  }
  return here
}

/** The identity of the process `pid` of this machine and pid namespace (startTime null when it is not running); null without /proc. */
export function processIdentity(pid: number): ProcessIdentity | null {
  const machine = machineHere()
  if (!machine) return null
  return {...machine, startTime: Number.isSafeInteger(pid) && pid > 0 ? (statOf(pid)?.startTime ?? null) : null}
}

/**
 * Whether the process a lease recorded (`pid` with `identity`) is proven gone:
 * recorded on this very machine and pid namespace, and its pid now names no
 * process, a zombie, or a process started at another time. Anything unknown
 * (no identity, another machine or namespace, a start time never recorded) is
 * no proof.
 */
export function provenGone(pid: number, identity: ProcessIdentity | null): boolean {
  const machine = machineHere()
  if (!machine || !identity || identity.bootId !== machine.bootId || identity.pidNamespace !== machine.pidNamespace) return false
  if (!Number.isSafeInteger(pid) || pid <= 0) return false
  const now = readStat(pid)
  if (now === 'absent') return true
  if (now === null) return false
  if (now.state === 'Z' || now.state === 'X') return true
  return identity.startTime !== null && now.startTime !== identity.startTime
}
