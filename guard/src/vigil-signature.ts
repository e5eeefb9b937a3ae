/**
 * How the guard signs what it sends to Vigil (CONTRACT §2): the shipper's event batches and
 * the control client's reads (body = empty string). Relied on by shipper.ts and
 * control-client.ts; Vigil's ingest and control routes verify exactly this.
 */
import { createHmac } from 'node:crypto'

/** The three headers of a signed request. `body` is the bytes exactly as sent (gzip bytes included). */
export function vigilSignatureHeaders(source: string, secret: string, body: Uint8Array, nowMs: number = Date.now()): Record<string, string> {
  const ts = String(Math.floor(nowMs / 1000))
  const mac = createHmac('sha256', secret).update(`${ts}.`).update(body).digest('hex')
  return { 'vigil-source': source, 'vigil-timestamp': ts, 'vigil-signature': `v1=${mac}` }
}

/**
 * A message safe to keep in stats or logs: the secret never appears in it, nor any
 * user:password part of a URL (a misconfigured vigilUrl could carry one).
 */
export function maskSecret(message: string, secret: string): string {
  let out = message.replace(/\/\/[^/@\s]*@/g, '//***@')
  if (secret.length > 0) out = out.split(secret).join('***')
  return out.length > 300 ? `${out.slice(0, 300)}…` : out
}

/** Full-jitter exponential backoff: a random delay in [base·2^attempt / 2, base·2^attempt], capped. */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30))
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2))
}

/** `Retry-After` as milliseconds (delta-seconds or an HTTP date), undefined when absent or unreadable. */
export function retryAfterMs(value: string | null, nowMs: number = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined
  const v = value.trim()
  if (/^\d{1,9}$/.test(v)) return Number(v) * 1000
  const at = Date.parse(v)
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs)
}
