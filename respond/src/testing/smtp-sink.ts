/**
 * A real SMTP server (the `smtp-server` package) on 127.0.0.1 and a random port that
 * records every message it receives, for tests: point SMTP_URL at `sink.url`. Messages are
 * parsed just enough to assert on headers and on the text and HTML parts (multipart,
 * quoted-printable, base64, RFC 2047 encoded words) — not a general MIME parser.
 *
 * Test support, not a mock of Vigil's code: it stands in for a mail server. Relied on by
 * the notify_email tests and the playbook engine's tests; import it by relative path.
 */
import { SMTPServer } from 'smtp-server'
import type { AddressInfo } from 'node:net'

export interface ReceivedMail {
  /** SMTP envelope. */
  envelope: { from: string | null; to: string[] }
  /** Header names in lower case; the value of the last occurrence, unfolded and decoded. */
  headers: Record<string, string>
  subject: string
  messageId: string | null
  /** The text/plain part (decoded), or null. */
  text: string | null
  /** The text/html part (decoded), or null. */
  html: string | null
  raw: string
}

export interface SmtpSink {
  /** `smtp://127.0.0.1:<port>` for SMTP_URL. */
  readonly url: string
  readonly port: number
  readonly messages: ReceivedMail[]
  /** Resolves once `n` messages have arrived in all (rejects after `timeoutMs`). */
  waitFor(n: number, timeoutMs?: number): Promise<ReceivedMail[]>
  /** The next `n` messages are refused after DATA with a temporary 451 error. */
  refuseNext(n: number): void
  /** Mail to this address is refused at RCPT TO with a permanent 550 error. */
  refuseRecipient(address: string): void
  close(): Promise<void>
}

interface Part {
  headers: Record<string, string>
  body: string
}

function decodeWords(value: string): string {
  // RFC 2047: =?charset?Q|B?text?= ; adjacent encoded words separated by space are joined.
  return value
    .replace(/(=\?[^?]+\?[QqBb]\?[^?]*\?=)\s+(?==\?)/g, '$1')
    .replace(/=\?([^?]+)\?([QqBb])\?([^?]*)\?=/g, (_m, _charset: string, enc: string, text: string) => {
      if (enc.toUpperCase() === 'B') return Buffer.from(text, 'base64').toString('utf8')
      const bytes = text.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (_x, h: string) => String.fromCharCode(parseInt(h, 16)))
      return Buffer.from(bytes, 'latin1').toString('utf8')
    })
}

function splitHeaders(raw: string): Part {
  const cut = raw.search(/\r?\n\r?\n/)
  const head = cut < 0 ? raw : raw.slice(0, cut)
  const body = cut < 0 ? '' : raw.slice(cut).replace(/^\r?\n\r?\n/, '')
  const headers: Record<string, string> = {}
  const unfolded = head.replace(/\r?\n[ \t]+/g, ' ')
  for (const line of unfolded.split(/\r?\n/)) {
    const i = line.indexOf(':')
    if (i <= 0) continue
    headers[line.slice(0, i).trim().toLowerCase()] = decodeWords(line.slice(i + 1).trim())
  }
  return { headers, body }
}

function param(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined
  const m = new RegExp(`;\\s*${name}="?([^";]+)"?`, 'i').exec(header)
  return m?.[1]
}

function decodeBody(part: Part): string {
  const enc = (part.headers['content-transfer-encoding'] ?? '7bit').toLowerCase()
  if (enc === 'base64') return Buffer.from(part.body.replace(/\s+/g, ''), 'base64').toString('utf8')
  if (enc === 'quoted-printable') {
    const bytes = part.body.replace(/=\r?\n/g, '').replace(/=([0-9A-Fa-f]{2})/g, (_x, h: string) => String.fromCharCode(parseInt(h, 16)))
    return Buffer.from(bytes, 'latin1').toString('utf8')
  }
  return part.body
}

/** Leaf parts of a message, depth first. */
function leaves(part: Part, depth = 0): Part[] {
  const type = part.headers['content-type'] ?? 'text/plain'
  const boundary = param(type, 'boundary')
  if (!/^multipart\//i.test(type) || !boundary || depth > 8) return [part]
  const out: Part[] = []
  const pieces = part.body.split(`--${boundary}`)
  // pieces[0] is the preamble; the piece after the closing `--boundary--` starts with `--`.
  for (const piece of pieces.slice(1)) {
    if (piece.startsWith('--')) break
    out.push(...leaves(splitHeaders(piece.replace(/^\r?\n/, '').replace(/\r?\n$/, '')), depth + 1))
  }
  return out
}

export function parseMail(raw: string, envelope: ReceivedMail['envelope']): ReceivedMail {
  const top = splitHeaders(raw)
  let text: string | null = null
  let html: string | null = null
  for (const leaf of leaves(top)) {
    const type = (leaf.headers['content-type'] ?? 'text/plain').toLowerCase()
    if (type.startsWith('text/plain') && text === null) text = decodeBody(leaf)
    else if (type.startsWith('text/html') && html === null) html = decodeBody(leaf)
  }
  return {
    envelope,
    headers: top.headers,
    subject: top.headers.subject ?? '',
    messageId: top.headers['message-id'] ?? null,
    text,
    html,
    raw,
  }
}

export async function startSmtpSink(): Promise<SmtpSink> {
  const messages: ReceivedMail[] = []
  const waiters: Array<() => void> = []
  let refuse = 0
  const refusedRecipients = new Set<string>()
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    size: 10 * 1024 * 1024,
    onRcptTo(address, _session, callback) {
      if (refusedRecipients.has(address.address.toLowerCase())) {
        return callback(Object.assign(new Error('No such user here'), { responseCode: 550 }))
      }
      callback()
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = []
      stream.on('data', (c: Buffer) => chunks.push(c))
      stream.on('end', () => {
        if (refuse > 0) {
          refuse -= 1
          const err = Object.assign(new Error('Try again later'), { responseCode: 451 })
          return callback(err)
        }
        const from = session.envelope.mailFrom === false ? null : session.envelope.mailFrom.address
        const to = session.envelope.rcptTo.map((r) => r.address)
        messages.push(parseMail(Buffer.concat(chunks).toString('utf8'), { from, to }))
        for (const w of waiters.splice(0)) w()
        callback()
      })
    },
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const { port } = server.server.address() as AddressInfo
  return {
    url: `smtp://127.0.0.1:${port}`,
    port,
    messages,
    waitFor(n, timeoutMs = 5000) {
      return new Promise((resolve, reject) => {
        const deadline = setTimeout(() => reject(new Error(`expected ${n} messages, got ${messages.length}`)), timeoutMs)
        const check = () => {
          if (messages.length >= n) {
            clearTimeout(deadline)
            resolve(messages.slice())
          } else waiters.push(check)
        }
        check()
      })
    },
    refuseNext(n) {
      refuse += n
    },
    refuseRecipient(address) {
      refusedRecipients.add(address.toLowerCase())
    },
    close() {
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
}
