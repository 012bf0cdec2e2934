import bcrypt from 'bcryptjs'
import {createRequire} from 'node:module'
import {availableParallelism} from 'node:os'
import {Worker} from 'node:worker_threads'

/**
 * bcrypt as Laravel writes and checks it, for tenants' users' passwords:
 * bcryptjs (it verifies `$2y$`; it generates `$2b$`, the same algorithm, written
 * here as `$2y$`). Several hashes and checks run at once on worker threads, so a
 * run costs about one bcrypt, not one per hash.
 */

/** The cost when none of a person's hashes tells the fleet's. */
export const DEFAULT_COST = 12
/** bcrypt reads no further than this many bytes of a password. */
export const MAX_PASSWORD_BYTES = 72

const BCRYPT = /^\$2[abxy]?\$(\d{2})\$[./A-Za-z0-9]{53}$/

/** The cost of a bcrypt hash; null when the value is not one. */
export function costOf(hash: string | null | undefined): number | null {
  const match = hash ? BCRYPT.exec(hash) : null
  if (!match) return null
  const cost = Number(match[1])
  return cost >= 4 && cost <= 31 ? cost : null
}

/** The most common cost among these hashes (the higher on a tie); DEFAULT_COST when none is a bcrypt hash. */
export function fleetCost(hashes: Iterable<string | null>): number {
  const counts = new Map<number, number>()
  for (const hash of hashes) {
    const cost = costOf(hash)
    if (cost !== null) counts.set(cost, (counts.get(cost) ?? 0) + 1)
  }
  let best: [number, number] | null = null
  for (const [cost, n] of counts) if (!best || n > best[1] || (n === best[1] && cost > best[0])) best = [cost, n]
  return best ? best[0] : DEFAULT_COST
}

/** Why a new password cannot be used (never quoting it); null when it can. */
export function passwordProblem(password: string, what = 'the new password'): string | null {
  if (password.trim() === '') return `${what} is empty`
  const bytes = Buffer.byteLength(password, 'utf8')
  if (bytes > MAX_PASSWORD_BYTES) return `${what} is ${bytes} bytes long; bcrypt reads only the first ${MAX_PASSWORD_BYTES}: choose a shorter one`
  return null
}

export type BcryptJob = {kind: 'hash'; password: string; cost: number} | {kind: 'compare'; password: string; hash: string}

const toLaravel = (hash: string): string => `$2y$${hash.slice(4)}`

async function runHere(job: BcryptJob): Promise<string | boolean> {
  if (job.kind === 'hash') return toLaravel(await bcrypt.hash(job.password, job.cost))
  return costOf(job.hash) === null ? false : bcrypt.compare(job.password, job.hash)
}

const WORKER = `
const {parentPort, workerData} = require('node:worker_threads')
const bcrypt = require(workerData.module)
parentPort.postMessage(workerData.jobs.map((job) =>
  job.kind === 'hash' ? '$2y$' + bcrypt.hashSync(job.password, job.cost).slice(4) : job.valid && bcrypt.compareSync(job.password, job.hash)))
`

let bcryptModule: string | undefined

function runInWorker(jobs: BcryptJob[]): Promise<Array<string | boolean>> {
  bcryptModule ??= createRequire(import.meta.url).resolve('bcryptjs')
  const data = jobs.map((job) => (job.kind === 'compare' ? {...job, valid: costOf(job.hash) !== null} : job))
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER, {eval: true, workerData: {module: bcryptModule, jobs: data}})
    worker.once('message', (value: Array<string | boolean>) => resolve(value))
    worker.once('error', reject)
    worker.once('exit', (code) => reject(new Error(`a bcrypt worker ended (${code}) without an answer`)))
  })
}

/**
 * The jobs' results in order (a hash, or whether the password matches), spread
 * over the machine's cores: the first share on this thread, each other on a
 * worker thread.
 */
export async function runBcrypt(jobs: readonly BcryptJob[]): Promise<Array<string | boolean>> {
  const lanes = Math.max(1, Math.min(jobs.length, availableParallelism()))
  const shares: BcryptJob[][] = Array.from({length: lanes}, () => [])
  jobs.forEach((job, i) => shares[i % lanes].push(job))
  const results = await Promise.all(
    shares.map(async (share, lane) => {
      if (lane > 0) return runInWorker(share)
      const out: Array<string | boolean> = []
      for (const job of share) out.push(await runHere(job))
      return out
    }),
  )
  return jobs.map((_, i) => results[i % lanes][Math.floor(i / lanes)])
}
