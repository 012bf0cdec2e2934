import {Args, Flags, type Interfaces} from '@oclif/core'

import type {RdsChanges} from '../../lib/rds/service.js'
import {RDS_ENGINES} from '../../lib/rds/types.js'
import {parseDuration} from '../../lib/time/duration.js'
import {listFlags} from '../base-command.js'

/** The RDS argument every command that takes one accepts: a name or an id. */
export const rdsArg = Args.string({name: 'RDS', description: 'RDS name or id', required: true})

/** Connection flags shared by rds:add and rds:edit. */
const rdsFieldFlags = {
  name: Flags.string({description: 'unique name of the RDS, as main or eu-west-2'}),
  host: Flags.string({description: 'server host name or address'}),
  port: Flags.integer({description: 'server port (default 3306 for mysql, 5432 for postgres)'}),
  username: Flags.string({description: 'database user raiops connects as'}),
  'password-stdin': Flags.boolean({description: 'read the database password from standard input'}),
  'rai-database': Flags.string({description: 'name of the RAI database on the server'}),
  'providers-database': Flags.string({description: 'name of the providers database, if the server has one'}),
  'app-url': Flags.string({description: 'URL of the RAI application served from this RDS'}),
  file: Flags.string({description: 'for --engine sqlite: path of the database file'}),
  'no-test': Flags.boolean({description: 'save without testing the connection first'}),
}

/** The flags of rds:test. */
export const rdsTestFlags = {
  all: Flags.boolean({description: 'test every active RDS'}),
  timeout: Flags.integer({description: 'seconds each RDS may take', default: 7, min: 1, max: 600}),
  ...listFlags,
}

const engineFlag = Flags.option({options: RDS_ENGINES, description: 'database engine'})

/** The flags of rds:add. */
export const rdsAddFlags = {
  ...rdsFieldFlags,
  engine: engineFlag(),
  master: Flags.boolean({description: 'make this the master RDS (holds user_email_routing); only one may be'}),
}

/** The flags of rds:edit: the fields, and --[no-]master, --[no-]active and the impersonation settings. */
export const rdsEditFlags = {
  ...rdsFieldFlags,
  master: Flags.boolean({allowNo: true, description: 'make this the master RDS (--no-master to unset)'}),
  active: Flags.boolean({allowNo: true, description: 'include it in syncs and health checks (--no-active to leave it out)'}),
  impersonation: Flags.boolean({
    allowNo: true,
    description: 'let tenant:impersonate issue links for its tenants (--no-impersonation to refuse them)',
  }),
  'impersonation-audience': Flags.string({
    description: 'the audience (aud) its RAI application expects in impersonation links; "" for its app URL',
  }),
  'impersonation-ttl': Flags.string({description: 'how long its impersonation links are valid by default, 30s to 5m; "" for 5m'}),
}

/** The changes `rds:edit` asks for: only the flags given (undefined: unchanged; an empty value clears an optional setting). */
export function rdsEditChanges(flags: Interfaces.InferredFlags<typeof rdsEditFlags>, password: string | undefined): RdsChanges {
  const ttl = flags['impersonation-ttl']
  return {
    name: flags.name,
    host: flags.host,
    port: flags.port,
    username: flags.username,
    password,
    raiDatabase: flags['rai-database'] ?? flags.file,
    providersDatabase: flags['providers-database'],
    appUrl: flags['app-url'],
    master: flags.master,
    active: flags.active,
    impersonation: flags.impersonation,
    impersonationAudience: flags['impersonation-audience'],
    impersonationTtlSeconds: ttl === undefined ? undefined : ttl.trim() === '' ? null : parseDuration(ttl, '--impersonation-ttl') / 1000,
  }
}
