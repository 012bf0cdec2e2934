/** Exit codes every command keeps (DESIGN.md §6). */
export const ExitCode = {
  ok: 0,
  unexpected: 1,
  badInput: 2,
  partial: 3,
  unhealthy: 4,
  notPermitted: 5,
  busy: 6,
} as const
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode]

export interface RaiopsErrorOptions {
  /** What the user can do about it, shown after the message. */
  hint?: string
  cause?: unknown
}

/**
 * An error the user can act on: a one-line message, an optional next step and
 * the exit code it maps to. Everything that is not a RaiopsError is a bug or an
 * unexpected failure and exits 1.
 */
export class RaiopsError extends Error {
  readonly exitCode: ExitCode
  readonly hint?: string
  readonly code: string

  constructor(code: string, exitCode: ExitCode, message: string, options: RaiopsErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : {cause: options.cause})
    this.name = new.target.name
    this.code = code
    this.exitCode = exitCode
    this.hint = options.hint
  }
}

/** Bad usage or invalid input: exit 2, nothing changed. */
export class UserError extends RaiopsError {
  constructor(message: string, options: RaiopsErrorOptions = {}) {
    super('BAD_INPUT', ExitCode.badInput, message, options)
  }
}

/** A named thing (an RDS, an operator…) does not exist: exit 2. */
export class NotFoundError extends RaiopsError {
  constructor(message: string, options: RaiopsErrorOptions = {}) {
    super('NOT_FOUND', ExitCode.badInput, message, options)
  }
}

/** raiops' own configuration (env, key, control database) is wrong: exit 2. */
export class ConfigError extends RaiopsError {
  constructor(message: string, options: RaiopsErrorOptions = {}) {
    super('CONFIG', ExitCode.badInput, message, options)
  }
}

/** A secret could not be encrypted or decrypted. Never carries the secret. */
export class SecretError extends RaiopsError {
  constructor(message: string, exitCode: ExitCode = ExitCode.unexpected, options: RaiopsErrorOptions = {}) {
    super('SECRET', exitCode, message, options)
  }
}

/** A server (control database or RDS) could not be reached or answered with an error: exit 1. */
export class ConnectionError extends RaiopsError {
  constructor(message: string, options: RaiopsErrorOptions = {}) {
    super('CONNECTION', ExitCode.unexpected, message, options)
  }
}

/** The caller's role lacks the permission the command needs: exit 5. */
export class NotPermittedError extends RaiopsError {
  constructor(message: string, options: RaiopsErrorOptions = {}) {
    super('NOT_PERMITTED', ExitCode.notPermitted, message, options)
  }
}

/** Another run holds the lock: exit 6. */
export class BusyError extends RaiopsError {
  constructor(message: string, options: RaiopsErrorOptions = {}) {
    super('BUSY', ExitCode.busy, message, options)
  }
}

/** The message of anything thrown, without assuming it is an Error. */
export function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message
  return String(error)
}
