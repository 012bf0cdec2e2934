import {describe, expect, it} from 'vitest'

import {alertsRunExitCode} from '../../src/cli/reporters/alerts-run.js'
import type {AlertRunResult} from '../../src/lib/alerts/engine.js'

const run = (notifications: Partial<AlertRunResult['notifications']>, critical = 0): AlertRunResult =>
  ({
    firingUnmuted: {critical, warning: 0, info: 0},
    notifications: {queued: 0, sent: 0, failed: 0, deferred: 0, pendingAfter: 0, ...notifications},
  }) as AlertRunResult

describe('alerts:run exit code', () => {
  it('is 3 when a notification failed or was deferred to the next run, 0 when all went, 4 with --fail-on before either', () => {
    expect(alertsRunExitCode(run({sent: 2}), undefined)).toBe(0)
    expect(alertsRunExitCode(run({failed: 1}), undefined)).toBe(3)
    expect(alertsRunExitCode(run({deferred: 1, pendingAfter: 1}), undefined)).toBe(3)
    expect(alertsRunExitCode(run({deferred: 1}, 1), 'critical')).toBe(4)
    expect(alertsRunExitCode(run({}, 1), undefined)).toBe(0)
  })
})
