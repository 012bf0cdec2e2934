export * from './keyring.js'
export * from './secret-box.js'
export * from './key-check.js'
export * from './rotate.js'
