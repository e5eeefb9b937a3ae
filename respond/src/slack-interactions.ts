/**
 * `POST /v1/slack/interactions`: Slack's interactivity callback, called when someone clicks
 * Acknowledge, Approve or Reject on a message from notify-slack.ts.
 *
 * Relied on by: the Slack app's "Interactivity Request URL", and the server, which wires
 * `onAction` to the alert store (acknowledge) and to approvals (`decide`). The route carries
 * no bearer token: it authenticates Slack itself (`permission: 'source'`) with Slack's v0
 * request signature — `v0=` + hex HMAC-SHA256(signing secret, `v0:<timestamp>:<raw body>`)
 * in `X-Slack-Signature`, the timestamp in `X-Slack-Request-Timestamp` within ±300 s — and
 * checks it on the raw bytes BEFORE anything of the body is parsed. A signature is accepted
 * once: a replay within the window is refused (a Redis key per signature, expiring with it).
 *
 * Every refusal answers a stable code and never calls `onAction`; no input answers 500.
 */
import { createHmac } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import type { Logger } from 'pino'
import type { Redis } from 'ioredis'
import { VigilError, isVigilError, maskText, safeEqual } from '@vigil/core'
import { SLACK_ACTION_IDS, type SlackButtonAction } from './actions/slack-blocks.js'
import { badRequest } from './list-query.js'

/** One button click, as the server's wiring receives it. */
export interface SlackInteraction {
  action: SlackButtonAction
  alertId: string
  incidentId: string | null
  /** Set for approve / reject. */
  approvalId: string | null
  /** The Slack user who clicked; the actor is `slack:<id>`. */
  user: { id: string; name: string }
  /** Where a follow-up message may be posted (Slack's `response_url`), when Slack sent one. */
  responseUrl: string | null
}

export interface SlackInteractionsOptions {
  /** `config.slack.signingSecret`; unset: every request is refused with `slack_not_configured`. */
  signingSecret: string | undefined
  logger: Logger
  /** For the replay cache. */
  redis: Redis
  /**
   * Acts on a click. A VigilError it throws (e.g. approval_decided) is the answer; anything
   * else is logged and answered `unavailable`.
   */
  onAction(interaction: SlackInteraction): Promise<void>
  /** Accepted skew of X-Slack-Request-Timestamp, seconds. @defaultValue `300` */
  toleranceSec?: number
  /** @defaultValue `65536` */
  bodyLimit?: number
  /** Slack gives up after 3 s: past this, answer 200 and let `onAction` finish alone. @defaultValue `2500` */
  answerWithinMs?: number
}

const REPLAY_NAMESPACE = 'vigil:respond:slack-replay:'
const SIGNATURE = /^v0=[0-9a-f]{64}$/
const TIMESTAMP = /^\d{1,12}$/
const SLACK_USER_ID = /^[UWB][A-Z0-9]{1,31}$/
const ID = /^[\x21-\x7e]{1,128}$/
const ACTIONS_BY_ID: ReadonlyMap<string, SlackButtonAction> = new Map(
  (Object.entries(SLACK_ACTION_IDS) as Array<[SlackButtonAction, string]>).map(([k, v]) => [v, k]),
)

function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name]
  return typeof v === 'string' ? v : undefined
}

/** Reads the body as bytes, refusing past `limit` without buffering the rest. */
function readRaw(payload: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(payload.headers['content-length'])
    if (Number.isFinite(declared) && declared > limit) {
      reject(new VigilError('VIGIL_ERR_API_PAYLOAD_TOO_LARGE'))
      payload.resume()
      return
    }
    const chunks: Buffer[] = []
    let size = 0
    let done = false
    payload.on('data', (c: Buffer) => {
      if (done) return
      size += c.length
      if (size > limit) {
        done = true
        reject(new VigilError('VIGIL_ERR_API_PAYLOAD_TOO_LARGE'))
        return
      }
      chunks.push(c)
    })
    payload.on('end', () => {
      if (!done) resolve(Buffer.concat(chunks))
    })
    payload.on('error', (err) => {
      if (!done) reject(badRequest('the body could not be read'))
      done = true
      void err
    })
  })
}

/** `v0=` + hex HMAC-SHA256 over `v0:<timestamp>:<body>`: what Slack sends. */
export function slackSignature(signingSecret: string, timestamp: string, body: Buffer | string): string {
  return `v0=${createHmac('sha256', signingSecret).update(`v0:${timestamp}:`, 'utf8').update(body).digest('hex')}`
}

function str(v: unknown, re: RegExp): string | undefined {
  return typeof v === 'string' && re.test(v) ? v : undefined
}

/** The click inside a verified body; VigilError `unsupported_media_type` for another content type, `bad_request` for anything else. */
export function parseInteraction(raw: Buffer, contentType: string | undefined): SlackInteraction {
  if (!contentType || !/^application\/x-www-form-urlencoded\b/i.test(contentType)) throw new VigilError('VIGIL_ERR_SLACK_UNSUPPORTED_MEDIA_TYPE')
  const form = new URLSearchParams(raw.toString('utf8'))
  const text = form.get('payload')
  if (text === null) throw badRequest('no payload field')
  let p: unknown
  try {
    p = JSON.parse(text)
  } catch {
    throw badRequest('payload is not JSON')
  }
  if (p === null || typeof p !== 'object') throw badRequest('payload is not an object')
  const payload = p as { type?: unknown; user?: unknown; actions?: unknown; response_url?: unknown }
  if (payload.type !== 'block_actions') throw badRequest('only block_actions interactions are handled')
  const user = (payload.user ?? {}) as { id?: unknown; name?: unknown; username?: unknown }
  const userId = str(user.id, SLACK_USER_ID)
  if (!userId) throw badRequest('payload.user.id is missing or not a Slack user id')
  const name = typeof user.name === 'string' ? user.name : typeof user.username === 'string' ? user.username : userId
  if (!Array.isArray(payload.actions) || payload.actions.length !== 1) throw badRequest('payload.actions must hold exactly one action')
  const act = payload.actions[0] as { action_id?: unknown; value?: unknown } | null
  const action = typeof act?.action_id === 'string' ? ACTIONS_BY_ID.get(act.action_id) : undefined
  if (!action) throw badRequest('unknown action_id')
  if (typeof act?.value !== 'string' || act.value.length > 2000) throw badRequest('the button value is missing')
  let value: { alert_id?: unknown; incident_id?: unknown; approval_id?: unknown }
  try {
    value = JSON.parse(act.value) as typeof value
  } catch {
    throw badRequest('the button value is not JSON')
  }
  if (value === null || typeof value !== 'object') throw badRequest('the button value is not an object')
  const alertId = str(value.alert_id, ID)
  if (!alertId) throw badRequest('the button value has no alert_id')
  const incidentId = value.incident_id === null || value.incident_id === undefined ? null : str(value.incident_id, ID)
  if (incidentId === undefined) throw badRequest('the button value has a malformed incident_id')
  const approvalId = value.approval_id === undefined ? null : str(value.approval_id, ID)
  if (approvalId === undefined) throw badRequest('the button value has a malformed approval_id')
  if ((action === 'approve' || action === 'reject') && approvalId === null) throw badRequest(`${action} needs an approval_id`)
  let responseUrl: string | null = null
  if (typeof payload.response_url === 'string' && payload.response_url.length <= 2048) {
    try {
      const u = new URL(payload.response_url)
      if (u.protocol === 'https:' || u.protocol === 'http:') responseUrl = u.toString()
    } catch {
      // no follow-up channel then
    }
  }
  return { action, alertId, incidentId, approvalId, user: { id: userId, name: maskText(name.slice(0, 128)) }, responseUrl }
}

export function slackInteractionsRoutes(opts: SlackInteractionsOptions): FastifyPluginAsync {
  const toleranceSec = opts.toleranceSec ?? 300
  const bodyLimit = opts.bodyLimit ?? 64 * 1024
  const answerWithinMs = opts.answerWithinMs ?? 2500
  const log = opts.logger.child({ component: 'slack-interactions' })

  return async (app) => {
    // This plugin's own scope: the body stays raw bytes whatever its type, so the
    // signature is checked on exactly what Slack signed, before any parsing.
    app.removeAllContentTypeParsers()
    app.addContentTypeParser('*', (_req: FastifyRequest, payload: IncomingMessage) => readRaw(payload, bodyLimit))

    app.post('/v1/slack/interactions', { config: { permission: 'source' }, bodyLimit }, async (req, reply) => {
      const secret = opts.signingSecret
      if (!secret) throw new VigilError('VIGIL_ERR_SLACK_NOT_CONFIGURED')
      const ts = header(req, 'x-slack-request-timestamp')
      if (ts === undefined || !TIMESTAMP.test(ts) || Math.abs(Date.now() / 1000 - Number(ts)) > toleranceSec) {
        throw new VigilError('VIGIL_ERR_SLACK_STALE_TIMESTAMP')
      }
      const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0)
      const sig = header(req, 'x-slack-signature')
      // safeEqual only leaks lengths, and the expected length is public (v0= + 64 hex).
      if (sig === undefined || !SIGNATURE.test(sig) || !safeEqual(sig, slackSignature(secret, ts, raw))) {
        throw new VigilError('VIGIL_ERR_SLACK_BAD_SIGNATURE')
      }
      let fresh: string | null
      try {
        fresh = await opts.redis.set(`${REPLAY_NAMESPACE}${sig.slice(3)}`, '1', 'EX', toleranceSec * 2, 'NX')
      } catch (err) {
        throw new VigilError('VIGIL_ERR_REDIS_UNAVAILABLE', undefined, { cause: err })
      }
      // No Slack-specific code exists yet; `replayed` (409) is the same answer ingest gives.
      if (fresh !== 'OK') throw new VigilError('VIGIL_ERR_SLACK_REPLAYED')

      const interaction = parseInteraction(raw, header(req, 'content-type'))
      log.info({ action: interaction.action, alertId: interaction.alertId, approvalId: interaction.approvalId, slackUser: interaction.user.id }, 'Slack button clicked')

      const work = opts.onAction(interaction)
      let timer: NodeJS.Timeout | undefined
      const slow = new Promise<'slow'>((resolve) => {
        timer = setTimeout(() => resolve('slow'), answerWithinMs)
      })
      try {
        const first = await Promise.race([work.then(() => 'done' as const), slow])
        if (first === 'slow') {
          work.catch((err: unknown) => log.error({ err: isVigilError(err) ? err.code : maskText(String(err)) }, 'Slack action failed after the answer'))
        }
      } catch (err) {
        if (isVigilError(err)) throw err
        log.error({ err: maskText(err instanceof Error ? err.message : String(err)) }, 'Slack action failed')
        throw new VigilError('VIGIL_ERR_API_UNAVAILABLE')
      } finally {
        clearTimeout(timer)
      }
      return reply.code(200).send()
    })
  }
}
