import {BaseCommand} from '../../cli/base-command.js'
import {impersonationPublicKey, type ImpersonationPublicKey} from '../../lib/impersonation/keys.js'

export default class TenantImpersonationKey extends BaseCommand<ImpersonationPublicKey> {
  static override summary = 'the public key tenant applications verify impersonation links with'
  static override description = `Prints the public key (PEM) of $RAIOPS_HOME/impersonation.pub, creating the key pair on first use (the private key mode 0600). Give it to every tenant RAI application: it is all they need to verify the links \`raiops tenant:impersonate\` issues. The private key never leaves RAIOPS_HOME; operators sharing a control database share it too, like the master key. With --json: the file, the key's id (the tokens' kid) and the PEM.`

  static override examples = ['<%= config.bin %> <%= command.id %> > raiops-impersonation.pub', '<%= config.bin %> <%= command.id %> --json']

  static override permission = 'tenant.impersonate' as const

  async run(): Promise<ImpersonationPublicKey> {
    await this.parse(TenantImpersonationKey)
    const key = impersonationPublicKey(this.runtime.config.home)
    if (key.created)
      this.warn(`created the impersonation key pair in ${this.runtime.config.home} (key id ${key.keyId}); give the public key to the tenant applications`)
    this.print(key.publicKey)
    return key
  }
}
