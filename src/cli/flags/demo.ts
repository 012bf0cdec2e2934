import {Flags} from '@oclif/core'

import {DEMO_SIZES} from '../../lib/demo/fleet.js'

/** demo's description: what it builds, the tour, and what a second run does. */
export const demoDescription = `Creates a demo in --dir with a home of its own (SQLite control database, master key, a signed-in admin), never touching your own RAIOPS_HOME, and a fleet of four RAI databases in SQLite files: a few hundred tenants with their users (bcrypt hashes as Laravel writes them, a few ghost users, accountants whose one email is a user of tenants on several servers), locations and the routing directory. The data comes from a fixed seed: every build is the same.

One RDS is the master (it holds the routing directory), one is draining, and one is registered but its database file is missing: it shows what a server that is down looks like, in health, syncs and exit codes.

It then takes the tour: the commands of an operator's first day, each run for real on the demo, with its output. It ends with commands to try next, to paste into a shell.

Run it again to see how to use the demo (a complete demo is left as it is); --reset deletes it (only a directory holding a demo) and builds it again. --size large builds tens of thousands of tenants and about a million routing rows, to feel the speed.`

/** The flags of demo. */
export const demoFlags = {
  dir: Flags.string({description: 'where the demo lives: a new or empty directory, or one holding a demo', default: './raiops-demo'}),
  size: Flags.option({
    options: DEMO_SIZES,
    description: "small: 5 RDS, a few hundred tenants; large: tens of thousands of tenants, ~1M routing rows [default: the demo's own size, else small]",
  })(),
  reset: Flags.boolean({description: 'delete the demo in --dir (only a directory holding a demo) and build it again'}),
  quiet: Flags.boolean({description: 'only build the demo: no tour', exclusive: ['tour']}),
  tour: Flags.boolean({description: 'take the tour again on a demo that is already built'}),
}
