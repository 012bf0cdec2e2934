import {ago} from '../../lib/text/age.js'

/**
 * A time as tables show it: how long ago or how soon it is from `now` (`5 min
 * ago`, `in 3 h`, `just now`), or with `utc` the UTC time to the second
 * (`2026-03-01T14:05:09Z`). CSV and --json keep the exact time.
 */
export function tableTime(iso: string, options: {utc?: boolean; now: Date}): string {
  const at = Date.parse(iso)
  if (Number.isNaN(at)) return iso
  if (options.utc) return new Date(at).toISOString().replace(/\.\d{3}Z$/, 'Z')
  const ahead = at - options.now.getTime()
  if (ahead <= 0) return ago(iso, options.now)
  return ahead < 5000 ? 'just now' : `in ${ago(options.now.toISOString(), new Date(at)).replace(/ ago$/, '')}`
}
