import type {PasswordSync} from '../lib/password/sync.js'
import {PlannedChangeCommand, type PlannedChangeView} from './planned-change-command.js'
import {passwordSyncAdvice, renderPasswordPlan, renderPasswordSides} from './reporters/password-sync.js'

/** password:sync: a planned change (see PlannedChangeCommand). */
export abstract class PasswordSyncCommand extends PlannedChangeCommand<PasswordSync> {
  // oclif's manifest reads inherited statics only through classes that declare some of their own.
  static override enableJsonFlag = true

  protected readonly view: PlannedChangeView<PasswordSync> = {
    renderPlan: renderPasswordPlan,
    renderSides: renderPasswordSides,
    advice: passwordSyncAdvice,
    what: () => 'password:sync writes',
    question: 'Write the hash to these rows?',
  }
}
