import type {Db} from '../../db/control-db.js'

const WATERMARK = 'routing.watermark'
/** Rows changed this long before the watermark are read again, so a row whose transaction committed late is not missed. */
export const WATERMARK_OVERLAP_MS = 5 * 60_000

/** The newest (updated_at, id) a run has copied: incremental runs read from there. */
export interface Watermark {
  updatedAt: number
  id: number
}

/** A row of sync_state. */
interface SyncStateRow {
  name: string
  value: string | null
  updated_at: Date
}

export async function readWatermark(db: Db): Promise<Watermark | null> {
  const row = await db<SyncStateRow>('sync_state').where({name: WATERMARK}).first()
  if (!row?.value) return null
  try {
    const value = JSON.parse(row.value) as {updatedAt?: string; id?: number}
    const ms = value.updatedAt ? Date.parse(value.updatedAt) : Number.NaN
    return Number.isNaN(ms) || typeof value.id !== 'number' ? null : {updatedAt: ms, id: value.id}
  } catch {
    return null
  }
}

export async function writeWatermark(db: Db, mark: Watermark, now: Date): Promise<void> {
  const value = JSON.stringify({updatedAt: new Date(mark.updatedAt).toISOString(), id: mark.id})
  await db<SyncStateRow>('sync_state').insert({name: WATERMARK, value, updated_at: now}).onConflict('name').merge(['value', 'updated_at'])
}

/** The later of two positions in (updated_at, id) order. */
export const later = (a: Watermark | null, b: Watermark): Watermark =>
  a === null || b.updatedAt > a.updatedAt || (b.updatedAt === a.updatedAt && b.id > a.id) ? b : a
