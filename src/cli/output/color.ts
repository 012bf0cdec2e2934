import {Chalk, type ChalkInstance} from 'chalk'

/**
 * Colours honour --no-color, NO_COLOR and FORCE_COLOR (in that order), and are
 * off when stdout is not a terminal unless forced.
 */
export function makeChalk(options: {noColorFlag: boolean; env: Record<string, string | undefined>; isTTY: boolean}): ChalkInstance {
  const {env} = options
  if (options.noColorFlag || (env.NO_COLOR !== undefined && env.NO_COLOR !== '')) return new Chalk({level: 0})
  if (env.FORCE_COLOR !== undefined) {
    const forced = env.FORCE_COLOR === '' || env.FORCE_COLOR === 'true' ? 1 : Number(env.FORCE_COLOR)
    return new Chalk({level: Math.max(0, Math.min(3, Number.isFinite(forced) ? forced : 1)) as 0 | 1 | 2 | 3})
  }
  return new Chalk({level: options.isTTY && env.TERM !== 'dumb' ? 1 : 0})
}

/** How a value reads at a glance: good, needs a look, broken, or not applicable. */
export type Tone = 'ok' | 'warn' | 'fail' | 'dim'

/** The colour of a tone (green, yellow, red, dim); no tone, no colour. */
export function paint(c: ChalkInstance, tone: Tone | undefined, text: string): string {
  switch (tone) {
    case 'ok':
      return c.green(text)
    case 'warn':
      return c.yellow(text)
    case 'fail':
      return c.red(text)
    case 'dim':
      return c.dim(text)
    default:
      return text
  }
}
