import {Args} from '@oclif/core'

import {NotFoundError} from '../../lib/errors/index.js'

/** A command as access:explain names it (`rds:add` or `rds add`): its id and the permission it declares (null: anyone). */
export const commandArg = Args.custom<{id: string; permission: string | null}>({
  async parse(input, context) {
    const id = input.replaceAll(' ', ':')
    const command = context.config.findCommand(id)
    if (!command) throw new NotFoundError(`no command "${input}"`, {hint: 'see `raiops --help`'})
    return {id, permission: (command as unknown as {permission?: string | null}).permission ?? null}
  },
})({description: 'a raiops command, e.g. rds:add', required: true})
