export * from './claims.js'
export * from './consume.js'
export * from './issue.js'
export * from './keys.js'
