import {Args} from '@oclif/core'

import {BaseCommand} from '../../base-command.js'
import {PERMISSIONS} from '../../lib/auth/permissions.js'
import {showRole, type RoleView} from '../../lib/auth/roles.js'

export default class RoleShow extends BaseCommand<RoleView> {
  static override summary = 'show a role and each permission it grants'
  static override description = 'Lists the permissions a role grants, each with what it allows.'
  static override examples = ['<%= config.bin %> <%= command.id %> support_admin', '<%= config.bin %> <%= command.id %> read_only --json']
  static override permission = 'operator.view' as const
  static override args = {role: Args.string({description: 'the role', required: true})}

  async run(): Promise<RoleView> {
    const {args} = await this.parse(RoleShow)
    const role = await showRole((await this.context()).db, args.role)
    if (!this.jsonEnabled()) {
      const lines = [`${role.name} (${role.builtin ? 'built-in' : 'custom'}): ${role.description ?? ''}`.trimEnd(), `${role.operators} operator(s), ${role.tokens} active token(s)`, '']
      for (const p of role.permissions) lines.push(`  ${p.padEnd(22)} ${PERMISSIONS[p as keyof typeof PERMISSIONS] ?? ''}`.trimEnd())
      if (role.permissions.length === 0) lines.push('  (no permissions)')
      process.stdout.write(`${lines.join('\n')}\n`)
    }
    return role
  }
}
