/** The engines an RDS (and the control database) can run on. */
export const RDS_ENGINES = ['mysql', 'postgres', 'sqlite'] as const
export type RdsEngine = (typeof RDS_ENGINES)[number]

/** What the connection registry needs to reach one RDS: plain values, password already decrypted. */
export interface RdsConnectionSpec {
  id: number
  name: string
  engine: RdsEngine
  /** Host name or address; unused for sqlite. */
  host: string | null
  port: number | null
  username: string | null
  password: string | null
  /** The RAI database name, or for sqlite the absolute path of the database file. */
  database: string
}
