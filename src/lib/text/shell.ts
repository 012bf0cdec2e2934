/** One argument as a POSIX shell reads it back: bare when safe, else in single quotes. */
export function shellQuote(arg: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(arg)) return arg
  return `'${arg.replaceAll("'", `'\\''`)}'`
}

/** A command line to paste into a shell. */
export function shellLine(args: readonly string[]): string {
  return args.map(shellQuote).join(' ')
}
