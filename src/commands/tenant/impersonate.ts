import {BaseCommand} from '../../cli/base-command.js'
import {impersonateFlags, tenantArg} from '../../cli/flags/tenant.js'
import {ghostUserWarning, impersonationKeyCreated, impersonationNote} from '../../cli/reporters/tenant.js'
import {issueImpersonation, type ImpersonationLink} from '../../lib/impersonation/issue.js'
import {escapeControl} from '../../lib/text/escape.js'

export default class TenantImpersonate extends BaseCommand<ImpersonationLink> {
  static override summary = "a single-use link that opens a tenant's RAI application as that tenant, for support"
  static override description = `Prints a link (one line on stdout, so \`$(raiops tenant:impersonate …)\` works) to the tenant's RAI application at its RDS's app URL, carrying a token signed with the impersonation key: the tenant as subject, you as the actor, the reason and ticket. The application accepts it once, within its lifetime: --ttl (30s to 5m), else the RDS's own setting, else 5 minutes.

The link names your ghost user on the tenant (a \`ghost_user_id\` claim), the account the application logs in as; when you have none there, the link is issued without it and a warning says how to create it (\`raiops sync:ghost-users --rds NAME\`).

Every link is recorded by its id and written to the audit trail with the reason and ticket (never the token). A tenant gone from its RDS, an inactive RDS, or one with impersonation turned off or no app URL is refused (exit 2). Tenant applications verify the links with the public key \`raiops tenant:impersonation-key\` prints.`

  static override examples = [
    '<%= config.bin %> <%= command.id %> 42 --reason "customer cannot see the March invoices" --ticket SUP-1234',
    '<%= config.bin %> <%= command.id %> main:17 --reason "reproduce the failing report export" --ttl 2m',
    '<%= config.bin %> <%= command.id %> main:17 --reason "check the location settings with the customer" | xargs xdg-open',
    '<%= config.bin %> <%= command.id %> 42 --reason "customer cannot see the March invoices" --json',
  ]

  static override permission = 'tenant.impersonate' as const
  static override args = {tenant: tenantArg}
  static override flags = impersonateFlags

  async run(): Promise<ImpersonationLink> {
    const {args, flags} = await this.parse(TenantImpersonate)
    const {reason, ticket, ttl: ttlSeconds} = flags
    const {home, ghostDomain} = this.runtime.config
    const link = await issueImpersonation(await this.context(), {tenant: args.tenant, reason, ticket, ttlSeconds, home, ghostDomain})
    if (link.keyCreated) this.warn(impersonationKeyCreated(link))
    const noGhost = ghostUserWarning(link)
    if (noGhost) this.warn(noGhost)
    this.print(`${escapeControl(link.url)}\n`)
    this.note(impersonationNote(link))
    return link
  }
}
