/**
 * How far ahead of `now` a time may be and still read `just now`: the clocks of
 * the machine that wrote it (another client, the control database's server) and
 * of this one are never quite the same.
 */
export const CLOCK_SKEW_S = 30

/** How long ago `iso` was, in the largest whole unit: `just now`, `42 s ago`, `5 min ago`, `3 h ago`, `2 d ago`. */
export function ago(iso: string, now: Date): string {
  const seconds = Math.round((now.getTime() - Date.parse(iso)) / 1000)
  if (seconds < -CLOCK_SKEW_S) return 'in the future'
  if (seconds < 5) return 'just now'
  if (seconds < 90) return `${seconds} s ago`
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} min ago`
  if (seconds < 36 * 3600) return `${Math.round(seconds / 3600)} h ago`
  return `${Math.round(seconds / 86_400)} d ago`
}
