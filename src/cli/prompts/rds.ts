import {resolve} from 'node:path'

import type {OpsContext} from '../../lib/context.js'
import {UserError} from '../../lib/errors/index.js'
import {showRds} from '../../lib/rds/service.js'
import {RDS_ENGINES, type RdsEngine} from '../../lib/rds/types.js'
import {DEFAULT_PORTS, type RdsFields} from '../../lib/rds/validation.js'
import {escapeControl} from '../../lib/text/escape.js'
import {promptConfirm, type Asker} from './prompt.js'

export interface RdsAddFlags {
  name?: string
  engine?: RdsEngine
  host?: string
  port?: number
  username?: string
  'password-stdin': boolean
  'rai-database'?: string
  'providers-database'?: string
  'app-url'?: string
  file?: string
  /** Absent: asked on a terminal (default yes when there is no master yet), else no. */
  master?: boolean
}

/** A port as a prompt's answer: a whole number from 1 to 65535, else asked again. */
const validPort = (value: string): true | string =>
  (/^\d+$/.test(value.trim()) && Number(value) >= 1 && Number(value) <= 65_535) || 'a port is a whole number from 1 to 65535'

/**
 * The values of a new RDS: from flags, asking on a terminal for what is missing,
 * or a one-line error naming the missing flag when nobody can be asked.
 * `masterExists` tells whether the question "master?" defaults to no.
 */
export async function collectRdsFields(
  flags: RdsAddFlags,
  ask: Asker | undefined,
  readPassword: () => Promise<string>,
  masterExists: () => Promise<boolean> = async () => false,
): Promise<RdsFields> {
  const need = async (value: string | undefined, flag: string, question: string, fallback?: string): Promise<string> => {
    if (value !== undefined) return value
    if (ask) return ask.text(question, fallback)
    if (fallback !== undefined) return fallback
    throw new UserError(`${flag} is required`, {hint: `pass ${flag}, or run on a terminal to be asked`})
  }
  const optional = async (value: string | undefined, question: string): Promise<string | undefined> =>
    value ?? (ask ? (await ask.text(question)) || undefined : undefined)

  const engine = flags.engine ?? (ask ? await ask.select('Engine', RDS_ENGINES, 'mysql') : 'mysql')
  const name = await need(flags.name, '--name', 'Name (as main or eu-west-2)')
  const master = flags.master ?? (ask ? await ask.confirm('Is it the master RDS (the one holding user_email_routing)?', !(await masterExists())) : false)
  const common = {name, engine, master}
  if (engine === 'sqlite') {
    const file = await need(flags.file ?? flags['rai-database'], '--file', 'SQLite database file')
    return {...common, raiDatabase: file ? resolve(file) : '', providersDatabase: flags['providers-database'], appUrl: flags['app-url']}
  }
  const host = await need(flags.host, '--host', 'Host')
  const port = flags.port ?? (ask ? Number(await ask.text('Port', String(DEFAULT_PORTS[engine]), validPort)) : undefined)
  const username = await need(flags.username, '--username', 'Username')
  const password = flags['password-stdin'] ? await readPassword() : ask ? (await ask.secret('Password (hidden, empty for none)')) || undefined : undefined
  const raiDatabase = await need(flags['rai-database'], '--rai-database', 'RAI database name', ask ? 'rai' : undefined)
  return {
    ...common,
    host,
    port,
    username,
    password,
    raiDatabase,
    providersDatabase: await optional(flags['providers-database'], 'Providers database (empty for none)'),
    appUrl: await optional(flags['app-url'], 'App URL (empty for none)'),
  }
}

/** rds:remove's confirmation: asked on a terminal unless `yes`; without one, refused. */
export async function confirmRdsRemoval(ctx: Pick<OpsContext, 'db'>, input: {ref: string; yes: boolean; interactive: boolean}): Promise<void> {
  if (input.yes) return
  const rds = await showRds(ctx, {ref: input.ref})
  if (!input.interactive) throw new UserError(`removing RDS ${rds.name} needs confirmation`, {hint: 'pass --yes'})
  if (!(await promptConfirm(`Remove RDS ${escapeControl(rds.name)} (id ${rds.id}) from the registry?`))) throw new UserError('cancelled: nothing was removed')
}
