/** A whole number with thousands separated by commas (12,345), as `toLocaleString('en-US')` gives it, without loading ICU's locale data at start-up. */
export function groupThousands(n: number): string {
  const [whole, fraction] = String(n).split('.')
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',')
  return fraction === undefined ? grouped : `${grouped}.${fraction}`
}
