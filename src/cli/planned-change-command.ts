import type {ChalkInstance} from 'chalk'

import {ExitCode, UserError} from '../lib/errors/index.js'
import {BaseCommand} from './base-command.js'
import {promptConfirm} from './prompts/prompt.js'

/** What a planned change returns: its plan and, unless a dry run, what each side did. */
export interface PlannedChange {
  dryRun: boolean
  notes: string[]
  complete: boolean
}

/** How a command of this kind shows its plan and outcome, and asks. */
export interface PlannedChangeView<R> {
  renderPlan(color: ChalkInstance, plan: R): string
  renderSides(color: ChalkInstance, result: R): string
  advice(result: R): string | null
  /** What the change is, in the refusal without --yes ("user.suspend changes"). */
  what(plan: R): string
  question: string
}

/**
 * A command that writes several servers after showing its plan (the status
 * changes, password:sync): the plan printed, confirmed at a terminal (default
 * no) unless --yes; without a terminal, or under --json, only with --yes.
 */
export abstract class PlannedChangeCommand<R extends PlannedChange> extends BaseCommand<R> {
  // oclif's manifest reads inherited statics only through classes that declare some of their own.
  static override enableJsonFlag = true

  private planShown = false
  // An email not in the tenant, a user that cannot change: named in the error.
  protected override errorsNameUsers = true

  protected abstract readonly view: PlannedChangeView<R>

  /** The confirmation the service is handed: shows the plan, then asks, or needs --yes. */
  protected confirmation(flags: {yes: boolean}): (plan: R) => Promise<boolean> {
    return async (plan) => {
      this.showPlan(plan)
      if (flags.yes) return true
      if (!this.interactive())
        throw new UserError(`${this.view.what(plan)} the rows above and needs confirmation`, {hint: 'add --yes (or --dry-run to see the plan only)'})
      return promptConfirm(this.view.question, false)
    }
  }

  private showPlan(plan: R): void {
    this.planShown = true
    this.print(this.view.renderPlan(this.color, this.pii(plan)))
  }

  /** The plan (when not shown yet), one line per side, notes and advice on stderr; exit 3 when a side failed. Returns the --json result. */
  protected report(result: R): R {
    const shown = this.pii(result)
    if (!this.planShown) this.showPlan(result)
    if (!result.dryRun) this.print(this.view.renderSides(this.color, shown))
    for (const note of shown.notes) this.warn(note)
    const advice = this.view.advice(result)
    if (advice) this.note(advice)
    if (!result.complete) this.exitWith(ExitCode.partial)
    return shown
  }
}
