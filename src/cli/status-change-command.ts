import {UserError, ExitCode} from '../lib/errors/index.js'
import type {StatusChange} from '../lib/tenant/status-change.js'
import {BaseCommand} from './base-command.js'
import {promptConfirm} from './prompts/prompt.js'
import {renderStatusPlan, renderStatusSides, statusChangeAdvice} from './reporters/suspend.js'

/**
 * user:suspend, user:reactivate, tenant:suspend and tenant:reactivate: the plan
 * shown before anything is written, confirmed at a terminal (default no) unless
 * --yes; without a terminal, or under --json, only with --yes.
 */
export abstract class StatusChangeCommand extends BaseCommand<StatusChange> {
  // oclif's manifest reads inherited statics only through classes that declare some of their own.
  static override enableJsonFlag = true

  private planShown = false
  // An email not in the tenant, a user that cannot change: named in the error.
  protected override errorsNameUsers = true

  /** The confirmation the service is handed: shows the plan, then asks, or needs --yes. */
  protected confirmation(flags: {yes: boolean}): (plan: StatusChange) => Promise<boolean> {
    return async (plan) => {
      this.showPlan(plan)
      if (flags.yes) return true
      if (!this.interactive())
        throw new UserError(`${plan.action} changes the rows above and needs confirmation`, {hint: 'add --yes (or --dry-run to see the plan only)'})
      return promptConfirm('Make these changes?', false)
    }
  }

  private showPlan(plan: StatusChange): void {
    this.planShown = true
    this.print(renderStatusPlan(this.color, this.pii(plan)))
  }

  /** The plan (when not shown yet), one line per side, notes and advice on stderr; exit 3 when a side failed. Returns the --json result. */
  protected report(result: StatusChange): StatusChange {
    const shown = this.pii(result)
    if (!this.planShown) this.showPlan(result)
    if (!result.dryRun) this.print(renderStatusSides(this.color, shown))
    for (const note of shown.notes) this.warn(note)
    const advice = statusChangeAdvice(result)
    if (advice) this.note(advice)
    if (!result.complete) this.exitWith(ExitCode.partial)
    return shown
  }
}
