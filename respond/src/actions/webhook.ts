/**
 * `webhook`: tells a trading API's own endpoint about the alert, signed exactly like
 * CONTRACT §2 (`Vigil-Source`, `Vigil-Timestamp`, `Vigil-Signature: v1=<hex HMAC-SHA256(secret,
 * "<timestamp>." + body)>`), so the receiver verifies it with the code it already has.
 *
 * Relied on by: playbooks (the params below) and receivers, which may rely on the body shape
 * (`WebhookBody`, add fields, never rename) and on `Idempotency-Key` being the same for every
 * attempt of one step, so they can drop a repeat.
 *
 * The signing secret never sits in a playbook: `secret_ref` (default: the source id) is
 * resolved through `ActionDeps.secrets`. Neither the secret nor the signature is logged or
 * returned. Outcomes: 2xx done; 408, 429, 5xx, a timeout or a refused connection are
 * retried by the engine (ordinary Error); other 4xx and redirects cannot be mended by
 * retrying (UnrecoverableError). Redirects are not followed: that would send a signed body
 * somewhere the playbook did not name.
 */
import { Type, type Static } from '@sinclair/typebox'
import { UnrecoverableError } from 'bullmq'
import { maskText, signPayload, type Alert } from '@vigil/core'
import type { Action, ActionContext, ActionResult } from '../action.js'
import { DURATION_PATTERN, parseDuration } from '../playbook-schema.js'
import { claimEffect, recordEffect, releaseEffect } from './effect-record.js'

const SOURCE_ID_PATTERN = '^[A-Za-z0-9._-]{1,64}$'
const MAX_TIMEOUT_MS = 30_000

export const WebhookParams = Type.Object(
  {
    url: Type.String({ pattern: '^https?://[^\\s]+$', maxLength: 2048, description: 'The receiver (http or https)' }),
    source: Type.String({ pattern: SOURCE_ID_PATTERN, description: 'Sent as Vigil-Source: the id the receiver knows the signing secret by' }),
    secret_ref: Type.Optional(Type.String({ pattern: SOURCE_ID_PATTERN, description: 'Which secret signs the call; default: source' })),
    timeout: Type.Optional(Type.String({ pattern: DURATION_PATTERN, maxLength: 64, description: 'Per attempt, at most 30s; default 5s' })),
  },
  { additionalProperties: false },
)
export type WebhookParams = Static<typeof WebhookParams>

/** What the receiver gets. */
export interface WebhookBody {
  type: 'vigil.alert'
  alert: Pick<Alert, 'id' | 'rule' | 'severity' | 'score' | 'status' | 'entity' | 'api_key_id' | 'account_id' | 'client_ip' | 'first_seen' | 'last_seen' | 'count' | 'summary'>
  incident_id: string | null
  playbook: string
  step: number
  idempotency_key: string
}

/** The body, identical on every attempt (the time of sending is in Vigil-Timestamp). */
export function webhookBody(ctx: ActionContext): WebhookBody {
  const a = ctx.alert
  return {
    type: 'vigil.alert',
    alert: {
      id: a.id,
      rule: a.rule,
      severity: a.severity,
      score: a.score,
      status: a.status,
      entity: { type: a.entity.type, id: maskText(a.entity.id) },
      api_key_id: a.api_key_id,
      account_id: a.account_id,
      client_ip: a.client_ip,
      first_seen: a.first_seen,
      last_seen: a.last_seen,
      count: a.count,
      summary: maskText(a.summary),
    },
    incident_id: ctx.incident?.id ?? a.incident_id,
    playbook: ctx.playbook,
    step: ctx.step,
    idempotency_key: ctx.idempotencyKey,
  }
}

/** Where the call went, for people: scheme, host and path, never a query (it may carry a token). */
function where(url: URL): string {
  return maskText(`${url.protocol}//${url.host}${url.pathname}`).slice(0, 300)
}

export const webhook: Action<typeof WebhookParams> = {
  type: 'webhook',
  description: "Call the trading API's own endpoint with the alert, signed like ingest requests (Vigil-Signature)",
  params: WebhookParams,
  destructive: false,
  async run(ctx, params, deps): Promise<ActionResult> {
    let url: URL
    try {
      url = new URL(params.url)
    } catch {
      throw new UnrecoverableError('webhook url is not a URL')
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UnrecoverableError('webhook url must be http or https')
    const to = where(url)
    const ref = params.secret_ref ?? params.source
    if (!deps.secrets) throw new UnrecoverableError('webhook: no secret resolver is configured')
    const secret = await deps.secrets.resolve(ref)
    if (!secret) throw new UnrecoverableError(`webhook: no signing secret for secret_ref "${ref}"`)
    let timeoutMs = 5_000
    if (params.timeout !== undefined) {
      try {
        timeoutMs = Math.min(parseDuration(params.timeout), MAX_TIMEOUT_MS)
      } catch {
        throw new UnrecoverableError('webhook timeout is not a duration')
      }
    }

    const claim = await claimEffect(deps.redis, 'webhook', ctx.idempotencyKey, 2 * timeoutMs + 5_000)
    if (claim.kind === 'done') {
      return { outcome: 'already_done', summary: `webhook ${to} was already called`, detail: { url: to, status: claim.record.result.status } }
    }
    if (claim.kind === 'busy') throw new Error('another attempt of this step is calling the webhook')

    const body = JSON.stringify(webhookBody(ctx))
    const timestamp = String(Math.floor(Date.now() / 1000))
    let status: number
    try {
      const res = await fetch(url, {
        method: 'POST',
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
        headers: {
          'content-type': 'application/json',
          'user-agent': 'vigil-webhook/1',
          'vigil-source': params.source,
          'vigil-timestamp': timestamp,
          'vigil-signature': signPayload(secret, timestamp, body),
          'idempotency-key': ctx.idempotencyKey,
        },
        body,
      })
      status = res.status
      // Drain (bounded by the timeout) so the connection can be reused; the content is not ours to keep.
      await res.arrayBuffer().catch(() => undefined)
    } catch (err) {
      await releaseEffect(deps.redis, 'webhook', ctx.idempotencyKey, claim.token).catch(() => {})
      const name = (err as { name?: string }).name
      throw new Error(name === 'TimeoutError' || name === 'AbortError' ? `webhook ${to} timed out after ${timeoutMs} ms` : `webhook ${to} could not be reached`)
    }
    if (status < 200 || status >= 300) {
      await releaseEffect(deps.redis, 'webhook', ctx.idempotencyKey, claim.token).catch(() => {})
      if (status === 408 || status === 429 || status >= 500) throw new Error(`webhook ${to} answered HTTP ${status}`)
      throw new UnrecoverableError(`webhook ${to} answered HTTP ${status}`)
    }
    try {
      await recordEffect(deps.redis, 'webhook', ctx.idempotencyKey, { status })
    } catch (err) {
      deps.logger.warn({ err: (err as Error).message, url: to }, 'webhook called but not recorded')
    }
    return { outcome: 'done', summary: `called webhook ${to} (HTTP ${status})`, detail: { url: to, status } }
  },
}
