/** The words a demo fleet is made of: seeded randomness, people's and businesses' names, and the domains made from them. */

/** A small PRNG (mulberry32) seeded by hashing `keys`, so every row is a pure function of its ids. */
export function rng(...keys: number[]): () => number {
  let h = 0x9e3779b9
  for (const key of keys) {
    h = Math.imul(h ^ key, 0x85ebca6b)
    h ^= h >>> 13
    h = Math.imul(h, 0xc2b2ae35)
    h ^= h >>> 16
  }
  let state = h >>> 0
  return () => {
    state = (state + 0x6d2b79f5) | 0
    let t = Math.imul(state ^ (state >>> 15), 1 | state)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}

export function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)]
}

export const FIRST_NAMES = [
  'Maria',
  'James',
  'Aiko',
  'Olu',
  'Sofia',
  'Liam',
  'Chen',
  'Fatima',
  'Noah',
  'Emma',
  'Mateo',
  'Priya',
  'Lukas',
  'Zoe',
  'Omar',
  'Ines',
] as const
export const LAST_NAMES = [
  'Garcia',
  'Smith',
  'Tanaka',
  'Adeyemi',
  'Rossi',
  'Murphy',
  'Wang',
  'Khan',
  'Müller',
  'Dubois',
  'Silva',
  'Patel',
  'Novak',
  'Jensen',
  "O'Brien",
  'Kowalski',
] as const
export const ADJECTIVES = ['Bright', 'Northern', 'Golden', 'Riverside', 'Summit', 'Harbor', 'Maple', 'Blue Sky', 'Evergreen', 'Pioneer'] as const
export const NOUNS = ['Dental', 'Bakery', 'Fitness', 'Logistics', 'Clinic', 'Studio', 'Motors', 'Cafe', 'Vet Care', 'Builders'] as const
export const CITIES = ['Springfield', 'Riverton', 'Lakeside', 'Fairview', 'Kingston', 'Ashford', 'Brookfield', 'Salem'] as const
// Business names: 24 × 24 × 16 combinations before a number is needed.
export const BUSINESS_FIRST = [
  ...ADJECTIVES,
  'Silver Oak',
  'Redwood',
  'Lighthouse',
  'Cedar',
  'Copper',
  'Meadow',
  'Granite',
  'Willow',
  'Atlas',
  'Orchard',
  'Sunrise',
  'Keystone',
  'Bluebird',
  'Iron Gate',
] as const
export const BUSINESS_KIND = [
  ...NOUNS,
  'Pharmacy',
  'Optics',
  'Physio',
  'Catering',
  'Plumbing',
  'Florist',
  'Bookkeeping',
  'Salon',
  'Garden Center',
  'Print Shop',
  'Brewing',
  'Pet Grooming',
  'Yoga',
  'Auto Repair',
] as const
export const BUSINESS_PLACE = [...CITIES, 'Oakridge', 'Millbrook', 'Westport', 'Hillcrest', 'Bayview', 'Greenville', 'Northgate', 'Clearwater'] as const
export const BUSINESS_NAMES = BUSINESS_FIRST.length * BUSINESS_KIND.length * BUSINESS_PLACE.length
/** Coprime with BUSINESS_NAMES: consecutive tenants get unrelated names, and no two the same. */
export const BUSINESS_STRIDE = 7919

/** "Harbor Bakery of Salem" for the n-th tenant of a fleet (0-based); after 9216 names a number follows. */
export function businessName(n: number): string {
  const k = (n * BUSINESS_STRIDE) % BUSINESS_NAMES
  const first = BUSINESS_FIRST[k % BUSINESS_FIRST.length]
  const kind = BUSINESS_KIND[Math.floor(k / BUSINESS_FIRST.length) % BUSINESS_KIND.length]
  const place = BUSINESS_PLACE[Math.floor(k / (BUSINESS_FIRST.length * BUSINESS_KIND.length))]
  const round = Math.floor(n / BUSINESS_NAMES)
  return `${first} ${kind} of ${place}${round > 0 ? ` ${round + 1}` : ''}`
}

/** 'Müller' -> 'Muller', "O'Brien" -> 'OBrien': names as they appear in email addresses. */
export function asciiLetters(text: string): string {
  return text.normalize('NFD').replace(/[^A-Za-z]/g, '')
}

/** "Harbor Bakery of Salem" -> "harbor-bakery-salem.example.com". */
export function domainOf(name: string): string {
  const slug = name
    .normalize('NFD')
    .toLowerCase()
    .replace(/\bof\b/g, ' ')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '')
  return `${slug || 'tenant'}.example.com`
}
