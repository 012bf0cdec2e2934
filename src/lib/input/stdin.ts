import {UserError} from '../errors/index.js'

/**
 * Reads a secret from standard input (`--password-stdin`): the first line,
 * without its line ending. Refuses a terminal, where the secret would be echoed.
 */
export async function readSecretFromStdin(stream: NodeJS.ReadStream = process.stdin, what = 'password'): Promise<string> {
  if (stream.isTTY) throw new UserError(`--password-stdin expects the ${what} piped in`, {hint: `as: printf '%s' "$SECRET" | raiops …`})
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)))
  const text = Buffer.concat(chunks).toString('utf8')
  const line = text.split(/\r?\n/)[0]
  if (line === '') throw new UserError(`--password-stdin read an empty ${what}`, {hint: 'pipe the secret into raiops'})
  return line
}
