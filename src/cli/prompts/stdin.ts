import {UserError} from '../../lib/errors/index.js'

/**
 * Reads a secret from standard input (`--password-stdin`): the first line,
 * without its line ending. Refuses a terminal, where the secret would be echoed.
 */
export async function readSecretFromStdin(stream: NodeJS.ReadStream = process.stdin, what = 'password'): Promise<string> {
  if (stream.isTTY) throw new UserError(`--password-stdin expects the ${what} piped in`, {hint: `as: printf '%s' "$SECRET" | raiops …`})
  const line = await readFirstLine(stream)
  if (line === '') throw new UserError(`--password-stdin read an empty ${what}`, {hint: 'pipe the secret into raiops'})
  return line
}

/** The first line of a stream, returned as soon as it ends: an open pipe is not waited for. */
function readFirstLine(stream: NodeJS.ReadStream): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    const finish = () => {
      stream.off('data', onData)
      stream.off('end', finish)
      stream.off('error', onError)
      stream.pause()
      stream.unref?.()
      resolve(Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0])
    }
    const onData = (chunk: Buffer | string) => {
      const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk)
      chunks.push(buffer)
      if (buffer.includes(0x0a)) finish()
    }
    const onError = (error: Error) => reject(error)
    stream.on('data', onData)
    stream.on('end', finish)
    stream.on('error', onError)
  })
}
