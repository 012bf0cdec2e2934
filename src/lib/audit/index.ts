export * from './writer.js'
export * from './verify.js'
