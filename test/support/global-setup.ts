import {spawnSync} from 'node:child_process'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

/**
 * vitest globalSetup: the integration tests need both real servers. The
 * project's script checks that each answers a query, starts one that is
 * installed but stopped, and names what to install when one is missing; when it
 * fails, the whole run fails with its message, so no test silently skips or
 * hangs on a dead server.
 */
export default function setup(): void {
  const script = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'scripts', 'test-servers.mjs')
  const result = spawnSync(process.execPath, [script], {encoding: 'utf8', timeout: 90_000})
  if (result.status !== 0) {
    throw new Error(`the test database servers are not ready:\n${(result.stderr || result.error?.message || '').trim()}`)
  }
}
