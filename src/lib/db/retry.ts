/** A transaction the engine chose to abort so another could go on (MySQL deadlock, PostgreSQL serialization/deadlock, SQLite busy). */
export function isTransientConflict(error: unknown): boolean {
  const e = error as {errno?: number; code?: string} | null
  return e?.errno === 1213 || e?.errno === 1205 || e?.code === '40P01' || e?.code === '40001' || e?.code === 'SQLITE_BUSY'
}

/** Runs a transaction again (up to `attempts` times in all) when the engine aborted it for a conflict with another. */
export async function retryOnDeadlock<T>(work: () => Promise<T>, attempts = 3): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work()
    } catch (error) {
      if (attempt >= attempts || !isTransientConflict(error)) throw error
      await new Promise((resolve) => setTimeout(resolve, 50 * attempt + Math.floor(Math.random() * 50)))
    }
  }
}
