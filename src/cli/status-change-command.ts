import type {StatusChange} from '../lib/tenant/status-change.js'
import {PlannedChangeCommand, type PlannedChangeView} from './planned-change-command.js'
import {renderStatusPlan, renderStatusSides, statusChangeAdvice} from './reporters/suspend.js'

/** user:suspend, user:reactivate, tenant:suspend and tenant:reactivate: a planned change (see PlannedChangeCommand). */
export abstract class StatusChangeCommand extends PlannedChangeCommand<StatusChange> {
  // oclif's manifest reads inherited statics only through classes that declare some of their own.
  static override enableJsonFlag = true

  protected readonly view: PlannedChangeView<StatusChange> = {
    renderPlan: renderStatusPlan,
    renderSides: renderStatusSides,
    advice: statusChangeAdvice,
    what: (plan) => `${plan.action} changes`,
    question: 'Make these changes?',
  }
}
