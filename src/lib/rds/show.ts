import {assertPermitted} from '../auth/identity.js'
import type {Permission} from '../auth/permissions.js'
import type {OpsContext} from '../context.js'
import {revealRdsPassword, showRds} from './service.js'
import type {RdsView} from './types.js'

/** What `reveal` needs beside rds.view: rds:show declares it for its --reveal flag, so it is checked (and explained) before the service runs. */
export const REVEAL_PERMISSION: Permission = 'rds.secrets'

/**
 * `rds:show`: an RDS's settings; with `reveal`, also its stored password, for a
 * caller whose role has rds.secrets (checked first; the reveal is audited).
 */
export async function showRdsSettings(
  ctx: Pick<OpsContext, 'db' | 'audit' | 'now' | 'keyring' | 'principal'>,
  input: {ref: string; reveal?: boolean},
): Promise<RdsView & {password?: string | null}> {
  if (!input.reveal) return showRds(ctx, {ref: input.ref})
  const principal = await ctx.principal()
  // Checked here too for callers other than rds:show; raiops acting for itself holds every permission.
  if (principal.kind !== 'system') assertPermitted(principal, REVEAL_PERMISSION, 'rds:show --reveal')
  const {rds, password} = await revealRdsPassword(ctx, {ref: input.ref})
  return {...rds, password}
}
