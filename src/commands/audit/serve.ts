import {BaseCommand} from '../../cli/base-command.js'
import {auditServeFlags} from '../../cli/flags/audit.js'
import {closeWhenStopped} from '../../cli/output/interrupt.js'
import {accessLog, listeningLine} from '../../cli/reporters/audit.js'
import {startWebhookServer, WEBHOOK_PATH} from '../../lib/webhook/server.js'

export default class AuditServe extends BaseCommand<void> {
  static override summary = 'receive audit events pushed by the RAI application (signed webhook)'
  static override description = `Serves POST ${WEBHOOK_PATH}: each event, signed with HMAC-SHA256 in the X-Raiops-Signature header (t=<unix seconds>,v1=<hex HMAC of "<t>.<body>">), is checked and stored as an audit entry of actor type "rai", joined to the hash chain. A request with a bad or missing signature, a timestamp off by more than --tolerance, malformed JSON, an invalid event (also one no control database could store as sent: values nested deeper than 32 levels or over 65,535 bytes once redacted, an id out of range, a control character in a name), a body over 64 KiB or another content type gets a 4xx and stores nothing, for good; a 503 (retry) means the control database could not be written. An event id seen before is acknowledged (200, "duplicate": true) but not stored twice. GET /healthz answers 200 while the control database does.

The secrets come from RAIOPS_WEBHOOK_SECRETS (comma-separated, 16 characters or more each): during a rotation list the new and the old one, then drop the old one. Binds 127.0.0.1 unless --host says otherwise; put a TLS-terminating proxy in front for other machines. SIGTERM or Ctrl-C stops accepting, lets the requests in flight finish, and exits 0.`

  static override examples = [
    '<%= config.bin %> <%= command.id %>   # the secret in RAIOPS_WEBHOOK_SECRETS',
    '<%= config.bin %> <%= command.id %> --port 8787 --tolerance 120   # rotating: RAIOPS_WEBHOOK_SECRETS=$NEW,$OLD',
    '<%= config.bin %> <%= command.id %> --json   # access log as NDJSON',
  ]

  static override permission = 'audit.manage' as const
  static override flags = auditServeFlags

  async run(): Promise<void> {
    const {flags} = await this.parse(AuditServe)
    const secrets = this.runtime.config.webhookSecrets
    const server = await startWebhookServer(await this.context(), {
      secrets,
      toleranceS: flags.tolerance,
      host: flags.host,
      port: flags.port,
      onRequest: accessLog({json: this.jsonEnabled(), quiet: flags.quiet}),
    })
    process.stderr.write(listeningLine(server.url, secrets.length, flags.tolerance))
    await closeWhenStopped(server, this.stopSignal(), () => this.interruptedBy)
  }
}
