/**
 * `notify_slack`: posts the alert to a Slack channel as a Block Kit message (slack-blocks.ts)
 * through `@slack/web-api`, and `postApprovalRequest`, the message with Approve / Reject
 * buttons the engine posts for a `require_approval` step.
 *
 * Relied on by: playbooks (the params below), the engine (postApprovalRequest), and the
 * operator's Slack app (the buttons come back through slack-interactions.ts).
 *
 * Rate limits: Slack answers 429 with `Retry-After`. The WebClient would honour it by
 * sleeping as long as Slack says, with no upper bound, and a caller that gives up on the
 * promise cannot stop the post that follows the sleep — a retried job would then post a
 * second time. So the client rejects rate-limited calls and this module waits out
 * `Retry-After` itself, within a total budget; past it the attempt fails with an ordinary
 * Error and the engine retries later with backoff. Other transport errors are left to the
 * engine's retries too (retries: 0 in the client): one place decides when to try again.
 *
 * Idempotency: effect-record.ts, with the posted `{channel, ts}` as the record.
 */
import { Type, type Static } from '@sinclair/typebox'
import { UnrecoverableError } from 'bullmq'
import { ErrorCode, LogLevel, WebClient, type Logger as SlackLogger } from '@slack/web-api'
import type { Alert, VigilConfig } from '@vigil/core'
import type { Logger } from 'pino'
import type { Redis } from 'ioredis'
import type { Action, ActionContext, ActionResult } from '../action.js'
import type { IncidentSummary } from '../seams.js'
import { claimEffect, recordEffect, releaseEffect } from './effect-record.js'
import { slackAlertBlocks, slackAlertText, type SlackAlertOptions } from './slack-blocks.js'

export const NotifySlackParams = Type.Object(
  {
    channel: Type.Optional(Type.String({ minLength: 1, maxLength: 80, pattern: '^[#A-Za-z0-9._-]+$', description: 'Channel id or #name; default SLACK_CHANNEL' })),
    mention: Type.Optional(Type.String({ pattern: '^@(here|channel|[UW][A-Z0-9]{2,20}|subteam\\^S[A-Z0-9]{2,20})$', description: 'Who to notify: @here, @channel, @U… (a user), @subteam^S… (a group)' })),
    buttons: Type.Optional(Type.Boolean({ description: 'Add the Acknowledge button', default: true })),
  },
  { additionalProperties: false },
)
export type NotifySlackParams = Static<typeof NotifySlackParams>

/** How a caller may tune the Slack client; the defaults suit production. */
export interface SlackPostOptions {
  /**
   * Longest total time one attempt waits out Slack's `Retry-After` before failing for the
   * engine to retry later. @defaultValue `60000`
   */
  maxRateLimitWaitMs?: number
  /** Per request. @defaultValue `10000` */
  requestTimeoutMs?: number
}

/** Slack errors no retry can mend: the token, the channel, or the message itself is wrong. */
const PERMANENT_SLACK_ERRORS = new Set([
  'invalid_auth',
  'not_authed',
  'account_inactive',
  'token_revoked',
  'token_expired',
  'no_permission',
  'missing_scope',
  'channel_not_found',
  'not_in_channel',
  'is_archived',
  'invalid_blocks',
  'invalid_blocks_format',
  'msg_too_long',
  'no_text',
  'restricted_action',
  'invalid_arguments',
])

function slackLogger(logger: Logger): SlackLogger {
  const log = logger.child({ component: 'slack' })
  let level = LogLevel.WARN
  const text = (msgs: unknown[]) => msgs.map(String).join(' ')
  return {
    debug: (...m) => log.debug(text(m)),
    info: (...m) => log.info(text(m)),
    warn: (...m) => log.warn(text(m)),
    error: (...m) => log.error(text(m)),
    setLevel: (l) => {
      level = l
    },
    getLevel: () => level,
    setName: () => {},
  }
}

function client(config: VigilConfig, logger: Logger, opts: SlackPostOptions): WebClient {
  return new WebClient(config.slack.token, {
    ...(config.slack.apiUrl ? { slackApiUrl: config.slack.apiUrl } : {}),
    logger: slackLogger(logger),
    logLevel: LogLevel.WARN,
    rejectRateLimitedCalls: true,
    retryConfig: { retries: 0 },
    timeout: opts.requestTimeoutMs ?? 10_000,
  })
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** What went wrong, from Slack's error code only: never the request, which carries the token. */
function slackFailure(err: unknown): Error {
  const e = err as { code?: string; data?: { error?: string }; statusCode?: number }
  if (e.code === ErrorCode.PlatformError) {
    const code = String(e.data?.error ?? 'unknown').slice(0, 64)
    return PERMANENT_SLACK_ERRORS.has(code) ? new UnrecoverableError(`Slack refused the message: ${code}`) : new Error(`Slack failed: ${code}`)
  }
  if (e.code === ErrorCode.HTTPError) return new Error(`Slack answered HTTP ${e.statusCode ?? '?'}`)
  if (e.code === ErrorCode.RequestError) return new Error('Slack could not be reached')
  return new Error('Slack call failed')
}

/**
 * One Web API call, waiting out `Retry-After` up to the budget. Throws an ordinary Error
 * (retry later) or UnrecoverableError.
 */
async function callSlack<T>(call: () => Promise<T>, logger: Logger, opts: SlackPostOptions): Promise<T> {
  const budget = opts.maxRateLimitWaitMs ?? 60_000
  let waited = 0
  for (;;) {
    try {
      return await call()
    } catch (err) {
      const e = err as { code?: string; retryAfter?: number }
      if (e.code === ErrorCode.RateLimitedError) {
        const waitMs = Math.max(0, (e.retryAfter ?? 1) * 1000)
        if (waited + waitMs > budget) {
          throw new Error(`Slack rate limited: Retry-After ${e.retryAfter ?? '?'}s exceeds what one attempt may wait`)
        }
        logger.info({ retryAfterSec: e.retryAfter }, 'Slack rate limited; waiting Retry-After')
        await sleep(waitMs)
        waited += waitMs
        continue
      }
      throw slackFailure(err)
    }
  }
}

interface PostInput {
  config: VigilConfig
  logger: Logger
  redis: Redis
  /** The effect record's key: the same for every attempt that must post only once. */
  onceKey: string
  channel: string
  text: string
  blocks: ReturnType<typeof slackAlertBlocks>
  opts: SlackPostOptions
}

type PostOutcome = { posted: boolean; channel: string; ts: string }

async function postOnce(input: PostInput): Promise<PostOutcome> {
  const { redis, onceKey, logger, opts } = input
  const claimMs = (opts.maxRateLimitWaitMs ?? 60_000) + 3 * (opts.requestTimeoutMs ?? 10_000)
  const claim = await claimEffect(redis, 'slack', onceKey, claimMs)
  if (claim.kind === 'done') return { posted: false, channel: String(claim.record.result.channel), ts: String(claim.record.result.ts) }
  if (claim.kind === 'busy') throw new Error('another attempt of this step is posting to Slack')
  let res: { channel?: string; ts?: string }
  try {
    const web = client(input.config, logger, opts)
    res = await callSlack(() => web.chat.postMessage({ channel: input.channel, text: input.text, blocks: input.blocks, unfurl_links: false, unfurl_media: false }), logger, opts)
  } catch (err) {
    await releaseEffect(redis, 'slack', onceKey, claim.token).catch(() => {})
    throw err
  }
  const posted = { channel: res.channel ?? input.channel, ts: res.ts ?? '' }
  try {
    await recordEffect(redis, 'slack', onceKey, posted)
  } catch (err) {
    // The message is out: failing now would make the retry post it again.
    logger.warn({ err: (err as Error).message }, 'Slack message posted but not recorded')
  }
  return { posted: true, ...posted }
}

function configured(config: VigilConfig, channel: string | undefined): channel is string {
  return Boolean(config.slack.token) && Boolean(channel)
}

const NOT_CONFIGURED: ActionResult = { outcome: 'skipped', summary: 'Slack is not configured (SLACK_TOKEN and SLACK_CHANNEL)' }

/** Builds the action; tests pass shorter waits. */
export function createNotifySlack(opts: SlackPostOptions = {}): Action<typeof NotifySlackParams> {
  return {
    type: 'notify_slack',
    description: 'Post the alert to Slack with what fired, the numbers, what was done, dashboard links and an Acknowledge button',
    params: NotifySlackParams,
    destructive: false,
    async run(ctx: ActionContext, params: NotifySlackParams, deps): Promise<ActionResult> {
      const channel = params.channel ?? deps.config.slack.channel
      if (!configured(deps.config, channel)) return NOT_CONFIGURED
      const blockOpts: SlackAlertOptions = {
        publicUrl: deps.config.publicUrl,
        ...(params.mention !== undefined ? { mention: params.mention } : {}),
        buttons: params.buttons ?? true,
      }
      const out = await postOnce({
        config: deps.config,
        logger: deps.logger,
        redis: deps.redis,
        onceKey: ctx.idempotencyKey,
        channel,
        text: slackAlertText(ctx.alert),
        blocks: slackAlertBlocks(ctx.alert, ctx.incident, ctx.done, blockOpts),
        opts,
      })
      const detail = { channel: out.channel, ts: out.ts }
      return out.posted
        ? { outcome: 'done', summary: `posted the alert to Slack channel ${out.channel}`, detail }
        : { outcome: 'already_done', summary: `the alert was already posted to Slack channel ${out.channel}`, detail }
    },
  }
}

export const notifySlack = createNotifySlack()

export interface ApprovalRequest {
  approvalId: string
  alert: Alert
  incident: IncidentSummary | null
  /** The step waiting: its action type and one line saying what it will do. */
  step: { action: string; description: string }
  done?: ActionContext['done']
  expiresAt?: string
  channel?: string
  mention?: string
}

/**
 * Posts an approval request (Approve / Reject buttons carrying the approval id). Posted once
 * per approval id whatever the retries. Answers null when Slack is not configured: the
 * approval can still be decided through the operator API.
 */
export async function postApprovalRequest(
  deps: { config: VigilConfig; logger: Logger; redis: Redis },
  req: ApprovalRequest,
  opts: SlackPostOptions = {},
): Promise<{ channel: string; ts: string; posted: boolean } | null> {
  const channel = req.channel ?? deps.config.slack.channel
  if (!configured(deps.config, channel)) return null
  const approval = { id: req.approvalId, action: req.step.action, description: req.step.description, ...(req.expiresAt ? { expiresAt: req.expiresAt } : {}) }
  return postOnce({
    config: deps.config,
    logger: deps.logger,
    redis: deps.redis,
    onceKey: `approval.${req.approvalId}`,
    channel,
    text: slackAlertText(req.alert, { approval }),
    blocks: slackAlertBlocks(req.alert, req.incident, req.done ?? [], {
      publicUrl: deps.config.publicUrl,
      approval,
      ...(req.mention !== undefined ? { mention: req.mention } : {}),
    }),
    opts,
  })
}
