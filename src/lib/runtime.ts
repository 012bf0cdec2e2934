import type {Knex} from 'knex'
import {chmodSync, closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync} from 'node:fs'
import {hostname, userInfo} from 'node:os'
import {dirname, join} from 'node:path'

import type {AuditContext} from './audit/writer.js'
import {assertPermitted, auditActor, resolveIdentity, type Identity} from './auth/identity.js'
import type {Permission} from './auth/permissions.js'
import {readSessionToken} from './auth/session.js'
import {loadConfig, loadEnvironment, type Environment, type RaiopsConfig} from './config/index.js'
import type {OpsContext} from './context.js'
import {checkKeyring} from './crypto/key-check.js'
import {loadKeyring, type Keyring} from './crypto/keyring.js'
import {assertReachable, assertReady, controlDbExists, openControlDb, parseDatabaseUrl, type ControlDbTarget} from './db/control-db.js'
import type {ConnectionRegistry} from './db/registry.js'
import {describeStorageError} from './db/storage-errors.js'
import {BusyError, ConfigError} from './errors/index.js'
import {rememberSecret, scrubArgv} from './redact/index.js'

export interface RuntimeOptions {
  env: NodeJS.ProcessEnv
  cwd: string
  /** The permission the command needs, checked before the control database is handed out; null: none (signing in, init). */
  permission?: Permission | null
  /** The command's id, for refusals. */
  commandId?: string
  /** The command line, for the audit trail (secrets are scrubbed). */
  commandLine: readonly string[]
}

/**
 * Everything a command run shares, built lazily so that a command only pays for
 * what it touches, and torn down in bounded time when the command ends.
 */
export class Runtime {
  private readonly options: RuntimeOptions
  private cachedEnv?: Environment
  private cachedConfig?: RaiopsConfig
  private database?: Promise<Knex>
  private registry?: ConnectionRegistry
  private keys?: Promise<Keyring>
  private identityResolved?: Identity
  /** The SQLite control database file this run created (init, db:migrate), until the run ends well. */
  private createdFile?: string
  private setupLock?: string

  constructor(options: RuntimeOptions) {
    this.options = options
  }

  /** The environment with the `.env` files underneath it (see `loadEnvironment`). */
  get env(): Record<string, string | undefined> {
    return this.environment.env
  }

  /** Settings of a `.env` that were ignored, one line each, for stderr. */
  get envWarnings(): readonly string[] {
    return this.environment.warnings
  }

  private get environment(): Environment {
    this.cachedEnv ??= loadEnvironment(this.options.env, this.options.cwd)
    return this.cachedEnv
  }

  get config(): RaiopsConfig {
    this.cachedConfig ??= loadConfig(this.env)
    return this.cachedConfig
  }

  get target(): ControlDbTarget {
    return parseDatabaseUrl(this.config.databaseUrl, this.config.home)
  }

  /** A full disk or a read-only place behind `error`, as one line naming the place; null for any other error. */
  storageError(error: unknown): ConfigError | null {
    let target: ControlDbTarget | undefined
    try {
      target = this.target
    } catch {
      // The configuration itself is wrong: the error says so on its own.
    }
    return describeStorageError(error, target)
  }

  /**
   * The control database. By default it must exist and be fully migrated;
   * `init` and `db:migrate` ask for it as it is (`prepare: true` creates RAIOPS_HOME).
   */
  async db(options: {prepare?: boolean} = {}): Promise<Knex> {
    if (!this.database) {
      const target = this.target
      const file = target.sqliteFile
      if (options.prepare && file) {
        makeHome(dirname(file))
        // One init (or db:migrate) at a time in a home: the file it creates is its own, to remove if it fails.
        this.setupLock = takeSetupLock(dirname(file))
      }
      if (!options.prepare && !controlDbExists(target)) {
        throw new ConfigError(`raiops is not initialised: no control database at ${file}`, {
          hint: 'run `raiops init` (or set RAIOPS_DATABASE_URL / RAIOPS_HOME)',
        })
      }
      // The file is claimed before it is opened: of two `init` runs at once, only the one that created it may remove it on failure.
      const isNew = options.prepare === true && file !== undefined && claimNewFile(file)
      if (isNew) this.createdFile = file
      this.database = openControlDb(target, {connectTimeoutMs: this.config.fleet.connectTimeoutMs}).then(async (db) => {
        try {
          if (options.prepare) await assertReachable(db, target)
          else await assertReady(db, target)
          // It holds password hashes and ciphertexts: readable by its owner only.
          if (isNew && file) chmodSync(file, 0o600)
          // init and db:migrate open the database as it is, before anyone can be signed in: no permission.
          if (!options.prepare && this.options.permission) {
            const identity = await this.identity(db)
            assertPermitted(identity, this.options.permission, this.options.commandId ?? 'this command')
          }
          return db
        } catch (error) {
          // Nobody will get this handle: its pool is closed here, not left to the process exit.
          await db.destroy().catch(() => undefined)
          throw error
        }
      })
    }
    return this.database
  }

  /**
   * Who is running this command: RAIOPS_TOKEN, else this machine's session.
   * Refused (exit 5) when neither holds.
   */
  async identity(db?: Knex): Promise<Identity> {
    if (this.identityResolved) return this.identityResolved
    const token = this.config.token
    if (token) rememberSecret(token)
    const session = readSessionToken(this.config.home)
    if (session) rememberSecret(session)
    this.identityResolved = await resolveIdentity({db: db ?? (await this.db()), now: () => new Date()}, {token, session, home: this.config.home})
    return this.identityResolved
  }

  /** The identity, if one was resolved for this run. */
  get resolvedIdentity(): Identity | undefined {
    return this.identityResolved
  }

  /**
   * Checks the caller against the command's permission before any work: opens
   * the control database (which must be ready), resolves the identity and
   * refuses (exit 5) when its role lacks the permission. No permission: nothing to check.
   */
  async authorize(): Promise<void> {
    if (this.options.permission) await this.db()
  }

  /** The keyring, checked against the key fingerprints this registry has seen. */
  async keyring(): Promise<Keyring> {
    this.keys ??= (async () => {
      const keyring = loadKeyring(this.config)
      await checkKeyring(await this.db(), keyring)
      return keyring
    })()
    return this.keys
  }

  async fleet(): Promise<ConnectionRegistry> {
    if (!this.registry) {
      const {ConnectionRegistry} = await import('./db/registry.js')
      this.registry = new ConnectionRegistry(this.config.fleet)
    }
    return this.registry
  }

  get audit(): AuditContext {
    let user = 'unknown'
    try {
      user = userInfo().username
    } catch {
      // no passwd entry (containers): keep "unknown"
    }
    const source = {host: hostname(), command: ['raiops', ...scrubArgv(this.options.commandLine)].join(' ')}
    if (this.identityResolved) return auditActor(this.identityResolved, source)
    return {actorType: 'system', actor: `${user}@${hostname()}`, source}
  }

  async context(): Promise<OpsContext> {
    return {
      db: await this.db(),
      audit: this.audit,
      principal: () => this.identity(),
      keyring: () => this.keyring(),
      fleet: await this.fleet(),
      fleetOptions: this.config.fleet,
      now: () => new Date(),
      billingGraceDays: this.config.billingGraceDays,
      alerts: this.config.alerts,
    }
  }

  /**
   * Removes the SQLite control database file this run created, with its journal:
   * a run that stopped part-way (init failed or was interrupted) leaves nothing
   * that the next command would take for a database to migrate.
   */
  /** The control database this run created is complete (init finished): it stays, whatever happens next. */
  keepCreatedControlDb(): void {
    this.createdFile = undefined
  }

  discardCreatedControlDb(): void {
    const file = this.createdFile
    this.createdFile = undefined
    if (!file) return
    for (const path of [file, `${file}-journal`, `${file}-wal`, `${file}-shm`]) rmSync(path, {force: true})
  }

  /**
   * Destroys every connection, never waiting longer than `timeoutMs`; then,
   * with `discardCreated` (the run failed), removes the control database file it created.
   */
  async close(options: {timeoutMs?: number; discardCreated?: boolean} = {}): Promise<void> {
    const timeoutMs = options.timeoutMs ?? 1500
    const work: Array<Promise<unknown>> = []
    if (this.registry) work.push(this.registry.destroyAll({timeoutMs}))
    if (this.database)
      work.push(
        this.database.then(
          (db) => db.destroy(),
          () => undefined,
        ),
      )
    let timer: NodeJS.Timeout | undefined
    await Promise.race([
      Promise.allSettled(work),
      new Promise((resolve) => {
        timer = setTimeout(resolve, timeoutMs)
        timer.unref()
      }),
    ])
    if (timer) clearTimeout(timer)
    this.registry = undefined
    this.database = undefined
    if (options.discardCreated) this.discardCreatedControlDb()
    if (this.setupLock) rmSync(this.setupLock, {force: true})
    this.setupLock = undefined
  }
}

/**
 * Takes `.raiops-setup.lock` in `dir` for this process, or refuses (exit 6) while
 * another live process holds it; a lock left by a process that is gone is taken over.
 */
function takeSetupLock(dir: string): string {
  const lock = join(dir, '.raiops-setup.lock')
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lock, 'wx', 0o600)
      writeSync(fd, String(process.pid))
      closeSync(fd)
      return lock
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      const holder = Number(readFileSync(lock, 'utf8').trim())
      if (Number.isSafeInteger(holder) && holder > 0 && processAlive(holder)) {
        throw new BusyError(`another raiops init or db:migrate is running in ${dir} (pid ${holder})`, {hint: 'wait for it to finish, then run again'})
      }
      rmSync(lock, {force: true})
    }
  }
  throw new BusyError(`another raiops init or db:migrate is starting in ${dir}`, {hint: 'wait for it to finish, then run again'})
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function makeHome(dir: string): void {
  try {
    mkdirSync(dir, {recursive: true, mode: 0o700})
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error'
    throw new ConfigError(`cannot create ${dir} for the control database (${code})`, {
      hint: 'set RAIOPS_HOME (or RAIOPS_DATABASE_URL) to a directory you can write',
    })
  }
}

/** Creates `file` (empty, mode 0600) if nothing is there yet; whether this call created it. */
function claimNewFile(file: string): boolean {
  try {
    closeSync(openSync(file, 'wx', 0o600))
    return true
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw error
  }
}
