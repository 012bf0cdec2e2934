import type {Knex} from 'knex'

import * as initial from './20261121000000_initial.js'

export interface Migration {
  name: string
  up(knex: Knex): Promise<void>
  down(knex: Knex): Promise<void>
}

/** Every migration, oldest first. A new migration is a new file listed here. */
export const migrations: Migration[] = [{name: '20261121000000_initial', ...initial}]
