import {readdirSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {describe, expect, it} from 'vitest'

import {readFixtureFile, runFixture, shippedFixturesDir} from '../../src/lib/alerts/fixtures.js'
import {DEFAULT_RULES} from '../../src/lib/alerts/rules.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const dir = shippedFixturesDir()
const files = readdirSync(dir)
  .filter((name) => name.endsWith('.json'))
  .sort()

describe("the default rules' shipped fixtures", () => {
  it('ship with the package, one per default rule, each parsing', () => {
    expect(dir).toBe(join(root, 'alerts', 'fixtures'))
    expect(files).toEqual(DEFAULT_RULES.map((rule) => `${rule.name}.json`).sort())
    for (const file of files) expect(() => readFixtureFile(join(dir, file)), file).not.toThrow()
  })

  it.each(files)('%s passes', async (file) => {
    const report = await runFixture(readFixtureFile(join(dir, file)))
    const failed = report.steps.filter((s) => !s.passed).map((s) => ({step: s.index + 1, name: s.name, problems: s.problems, diff: s.diff}))
    expect(failed).toEqual([])
  })
})
