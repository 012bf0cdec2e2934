import {defineConfig} from 'vitest/config'

/**
 * Files that change a setting of the shared test servers (MariaDB's global
 * local_infile): they run on their own, after every other file, so that no other
 * test runs while the setting is off and quietly takes another code path.
 */
const SERVER_SETTING_FILES = ['test/integration/sync-routing-local-infile.test.ts']

export default defineConfig({
  test: {
    pool: 'forks',
    // Three test files at a time: most of a file's time is spent waiting on servers and spawned commands.
    // On this 2-core machine the suite took 615 s with two workers and 535 s with three.
    maxWorkers: 3,
    minWorkers: 1,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    globalSetup: ['test/support/global-setup.ts'],
    projects: [
      {extends: true, test: {name: 'shared servers', include: ['test/**/*.test.ts'], exclude: SERVER_SETTING_FILES}},
      {extends: true, test: {name: 'server settings', include: SERVER_SETTING_FILES, sequence: {groupOrder: 1}}},
    ],
  },
})
