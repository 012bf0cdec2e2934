import {UserError} from '../../lib/errors/index.js'

/**
 * Reads a secret from standard input (`--password-stdin`): the first line,
 * without its line ending. Refuses a terminal, where the secret would be echoed.
 */
export async function readSecretFromStdin(stream: NodeJS.ReadStream = process.stdin, what = 'password'): Promise<string> {
  if (stream.isTTY) throw new UserError(`--password-stdin expects the ${what} piped in`, {hint: `as: printf '%s' "$SECRET" | raiops …`})
  const [line] = await readLines(stream, 1)
  if (line === '') throw new UserError(`--password-stdin read an empty ${what}`, {hint: 'pipe the secret into raiops'})
  return line
}

/**
 * Reads several secrets from standard input, one a line, as `whats` names them
 * (as the current password, then the new one). Refuses a terminal and a
 * missing or empty line.
 */
export async function readSecretsFromStdin(whats: readonly string[], stream: NodeJS.ReadStream = process.stdin): Promise<string[]> {
  if (stream.isTTY)
    throw new UserError(`standard input must carry the ${whats.join(' and the ')}, one a line`, {hint: `as: printf '%s\\n' "$CURRENT" "$NEW" | raiops …`})
  const lines = await readLines(stream, whats.length)
  whats.forEach((what, i) => {
    if (!lines[i]) throw new UserError(`standard input has no ${what} on line ${i + 1}`, {hint: `give the ${whats.join(' and the ')}, one a line`})
  })
  return lines
}

/** The first `count` lines of a stream, returned as soon as they end: an open pipe is not waited for. */
function readLines(stream: NodeJS.ReadStream, count: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    const finish = () => {
      stream.off('data', onData)
      stream.off('end', finish)
      stream.off('error', onError)
      stream.pause()
      stream.unref?.()
      resolve(Buffer.concat(chunks).toString('utf8').split(/\r?\n/).slice(0, count))
    }
    const onData = (chunk: Buffer | string) => {
      const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk)
      chunks.push(buffer)
      if (Buffer.concat(chunks).toString('utf8').split('\n').length > count) finish()
    }
    const onError = (error: Error) => reject(error)
    stream.on('data', onData)
    stream.on('end', finish)
    stream.on('error', onError)
  })
}
