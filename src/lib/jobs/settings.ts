/** How the runner retries a step, holds a job, and (in tests) hangs. Commands take them from RAIOPS_JOB_* (lib/config). */
export interface JobSettings {
  /** Transient failures of one step retried before the job fails (RAIOPS_JOB_RETRY_LIMIT). */
  retryLimit: number
  /** The first retry's delay, doubled at each retry (RAIOPS_JOB_RETRY_DELAY_MS). */
  retryDelayMs: number
  /** The longest delay between two attempts (RAIOPS_JOB_RETRY_MAX_MS). */
  retryMaxMs: number
  /** A claimed job is taken over this long after its worker's last heartbeat (RAIOPS_JOB_LEASE_MS). */
  leaseMs: number
  /** The test seam: `<step>:before|unrecorded|after` hangs the runner there, its heartbeat stopped, until a stop (RAIOPS_JOB_HANG). */
  hang: string | null
}

export const DEFAULT_JOB_SETTINGS: JobSettings = {retryLimit: 5, retryDelayMs: 1000, retryMaxMs: 60_000, leaseMs: 60_000, hang: null}

export function jobSettings(settings: Partial<JobSettings> | undefined): JobSettings {
  return {...DEFAULT_JOB_SETTINGS, ...settings}
}

/**
 * The wait before retry number `retry` (1 for the first): retryDelayMs·2^(retry−1),
 * capped at retryMaxMs, then jittered into its upper half so that workers
 * retrying against one server do not all come back at once (pg-boss).
 */
export function retryDelayMs(settings: Pick<JobSettings, 'retryDelayMs' | 'retryMaxMs'>, retry: number, random = Math.random): number {
  const base = Math.min(settings.retryMaxMs, settings.retryDelayMs * 2 ** Math.max(0, retry - 1))
  return Math.round(base / 2 + (random() * base) / 2)
}
