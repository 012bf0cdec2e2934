import {ExitCode, UserError} from '../lib/errors/index.js'
import type {PasswordSync} from '../lib/password/sync.js'
import {BaseCommand} from './base-command.js'
import {promptConfirm} from './prompts/prompt.js'
import {passwordSyncAdvice, renderPasswordPlan, renderPasswordSides} from './reporters/password-sync.js'

/**
 * password:sync's plan and confirmation, as the status changes have them
 * (status-change-command.ts): the plan printed, confirmed at a terminal
 * (default no) unless --yes; without one, or under --json, only with --yes.
 */
export abstract class PasswordSyncCommand extends BaseCommand<PasswordSync> {
  static override enableJsonFlag = true

  private planShown = false
  protected override errorsNameUsers = true

  protected confirmation(flags: {yes: boolean}): (plan: PasswordSync) => Promise<boolean> {
    return async (plan) => {
      this.showPlan(plan)
      if (flags.yes) return true
      if (!this.interactive())
        throw new UserError('password:sync writes the rows above and needs confirmation', {hint: 'add --yes (or --dry-run to see the plan only)'})
      return promptConfirm('Write the hash to these rows?', false)
    }
  }

  private showPlan(plan: PasswordSync): void {
    this.planShown = true
    this.print(renderPasswordPlan(this.color, this.pii(plan)))
  }

  /** The plan (when not shown yet), one line per server, notes and advice on stderr; exit 3 when a row is left behind. */
  protected report(result: PasswordSync): PasswordSync {
    const shown = this.pii(result)
    if (!this.planShown) this.showPlan(result)
    if (!result.dryRun) this.print(renderPasswordSides(this.color, shown))
    for (const note of shown.notes) this.warn(note)
    const advice = passwordSyncAdvice(result)
    if (advice) this.note(advice)
    if (!result.complete) this.exitWith(ExitCode.partial)
    return shown
  }
}
