import {CompactSign, compactVerify} from 'jose'
import {createPublicKey, type KeyObject} from 'node:crypto'
import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {z} from 'zod'

import type {OpsContext} from '../context.js'
import {keyId, KeyFileError, loadEd25519KeyPair, readEd25519PublicKey, type Ed25519KeyPair} from '../crypto/ed25519.js'
import {ConfigError, UserError} from '../errors/index.js'
import {verifyAuditChain, type ChainVerification} from './verify.js'

export const CHECKPOINT_FORMAT = 'raiops-audit-checkpoint-v1'

/** What a checkpoint states: the chain's head at a moment, signed. */
export interface CheckpointStatement {
  seq: number
  hash: string
  at: string
}

export interface CheckpointFile extends CheckpointStatement {
  format: typeof CHECKPOINT_FORMAT
  /** The fingerprint of the public key that verifies it. */
  kid: string
  /** The statement as an EdDSA (Ed25519) JWS: the part that counts. */
  jws: string
}

const statementSchema = z.object({seq: z.number().int().nonnegative(), hash: z.string().regex(/^[0-9a-f]{64}$/), at: z.string().datetime()})
const fileSchema = z.object({format: z.literal(CHECKPOINT_FORMAT), jws: z.string().min(1)}).passthrough()

/**
 * The checkpoint signing key (Ed25519, PEM), created 0600 on first use, with its
 * public key beside it (`.pub`). Whoever can write the audit table could
 * re-compute the chain; they cannot sign its head without this key.
 */
export function loadSigningKey(file: string, options: {create: boolean}): Ed25519KeyPair {
  let pair: Ed25519KeyPair | null
  try {
    pair = loadEd25519KeyPair({privateFile: file, publicFile: `${file}.pub`}, options)
  } catch (error) {
    if (error instanceof KeyFileError)
      throw new ConfigError(`${file} is not an Ed25519 private key (${error.detail})`, {
        hint: 'give the key audit:checkpoint created, with --key',
      })
    throw error
  }
  if (!pair) throw new ConfigError(`no checkpoint signing key at ${file}`, {hint: 'run `raiops audit:checkpoint` first, or give --key'})
  return pair
}

/** A public key to verify checkpoints with: a PEM public key, or the private key it belongs to. */
export function loadVerifyKey(file: string): KeyObject {
  if (!existsSync(file)) throw new UserError(`no key at ${file}`, {hint: 'give the checkpoint public key with --public-key'})
  try {
    return readEd25519PublicKey(file)
  } catch (error) {
    if (error instanceof KeyFileError)
      throw new UserError(`${file} is not an Ed25519 key (${error.detail})`, {
        hint: 'give the .pub file audit:checkpoint wrote beside its key',
      })
    throw error
  }
}

/** The chain's head, signed. */
export async function createCheckpoint(ctx: Pick<OpsContext, 'db' | 'now'>, input: {privateKey: KeyObject}): Promise<CheckpointFile> {
  const {privateKey} = input
  const now = ctx.now()
  const head = await ctx.db('audit_head').where({id: 1}).first('seq', 'hash')
  if (!head) throw new ConfigError('audit_head is missing', {hint: 'run `raiops db:migrate`'})
  const statement: CheckpointStatement = {seq: Number(head.seq), hash: head.hash, at: now.toISOString()}
  const kid = keyId(createPublicKey(privateKey))
  const jws = await new CompactSign(new TextEncoder().encode(JSON.stringify(statement)))
    .setProtectedHeader({alg: 'EdDSA', kid, typ: CHECKPOINT_FORMAT})
    .sign(privateKey)
  return {format: CHECKPOINT_FORMAT, ...statement, kid, jws}
}

/** A checkpoint file read and its signature verified: the signed statement, never the file's readable copy. */
export async function readCheckpoint(file: string, publicKey: KeyObject): Promise<CheckpointStatement & {file: string}> {
  let parsed: z.infer<typeof fileSchema>
  try {
    parsed = fileSchema.parse(JSON.parse(readFileSync(file, 'utf8')))
  } catch (error) {
    throw new UserError(`${file} is not a raiops audit checkpoint (${(error as NodeJS.ErrnoException).code ?? 'unreadable'})`, {
      hint: 'give a file written by `raiops audit:checkpoint`',
    })
  }
  try {
    const {payload} = await compactVerify(parsed.jws, publicKey, {algorithms: ['EdDSA']})
    return {...statementSchema.parse(JSON.parse(new TextDecoder().decode(payload))), file}
  } catch {
    throw new UserError(`${file}: the checkpoint's signature does not verify with this key`, {
      hint: 'the file was altered, or it was signed with another key (see --public-key)',
    })
  }
}

/**
 * `audit:checkpoint`: the chain's head signed with the key in `keyFile`
 * ($RAIOPS_HOME/audit-signing.key by default), created when missing; `onKeyCreated`
 * is told at once, so the news survives a failure after it.
 */
export async function signCheckpoint(
  ctx: Pick<OpsContext, 'db' | 'now'>,
  input: {home: string; keyFile?: string; onKeyCreated?: (keyFile: string) => void},
): Promise<CheckpointFile> {
  const keyFile = input.keyFile ?? join(input.home, 'audit-signing.key')
  const {privateKey, created} = loadSigningKey(keyFile, {create: true})
  if (created) input.onKeyCreated?.(keyFile)
  return createCheckpoint(ctx, {privateKey})
}

/** What audit:verify finds: the chain walk, and the checkpoints it was held against. */
export type VerifiedChain = ChainVerification & {checkpoints: Array<{file: string; seq: number; at: string}>}

/**
 * `audit:verify`: each checkpoint file's signature verified with the public key
 * in `publicKeyFile` ($RAIOPS_HOME/audit-signing.key.pub by default), then the
 * chain walked and held against them.
 */
export async function verifyAuditTrail(
  ctx: Pick<OpsContext, 'db'>,
  input: {home: string; checkpointFiles: readonly string[]; publicKeyFile?: string},
): Promise<VerifiedChain> {
  const files = input.checkpointFiles
  const publicKey = files.length > 0 ? loadVerifyKey(input.publicKeyFile ?? join(input.home, 'audit-signing.key.pub')) : undefined
  const checkpoints = publicKey ? await Promise.all(files.map((file) => readCheckpoint(file, publicKey))) : []
  const result = await verifyAuditChain(ctx, {checkpoints})
  return {...result, checkpoints: checkpoints.map(({file, seq, at}) => ({file, seq, at}))}
}
