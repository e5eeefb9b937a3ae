import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { randomBytes } from 'node:crypto'
import Fastify, { type FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import { pino } from 'pino'
import { VigilError, isVigilError } from '@vigil/core'
import { slackInteractionsRoutes, slackSignature, type SlackInteraction, type SlackInteractionsOptions } from './slack-interactions.js'
import { SLACK_ACTION_IDS, buttonValue } from './actions/slack-blocks.js'

const SECRET = '8f742231b10e8888abcd99yyyzzz85a5'
const FORM = 'application/x-www-form-urlencoded'

function payload(over: Record<string, unknown> = {}, action: { action_id?: string; value?: string } = {}): Record<string, unknown> {
  return {
    type: 'block_actions',
    user: { id: 'U0ALICE', username: 'alice', name: 'alice' },
    team: { id: 'T0TEAM' },
    // Unique per click, as Slack's are: two clicks never share a body, hence a signature.
    trigger_id: `${Date.now()}.${randomBytes(4).toString('hex')}`,
    response_url: 'https://hooks.slack.com/actions/T0TEAM/1/abc',
    actions: [
      {
        type: 'button',
        block_id: 'vigil.actions',
        action_id: action.action_id ?? SLACK_ACTION_IDS.approve,
        value: action.value ?? buttonValue({ alert_id: 'al_1', incident_id: 'inc_1', approval_id: 'apr_1' }),
        action_ts: '1700000000.000100',
      },
    ],
    ...over,
  }
}

const formBody = (p: unknown) => new URLSearchParams({ payload: typeof p === 'string' ? p : JSON.stringify(p) }).toString()

function signed(body: string, opts: { ts?: number; secret?: string } = {}) {
  const ts = String(opts.ts ?? Math.floor(Date.now() / 1000))
  return { 'content-type': FORM, 'x-slack-request-timestamp': ts, 'x-slack-signature': slackSignature(opts.secret ?? SECRET, ts, body) }
}

describe('POST /v1/slack/interactions', () => {
  let redis: Redis
  let calls: SlackInteraction[]
  let onActionImpl: (i: SlackInteraction) => Promise<void>
  const apps: FastifyInstance[] = []

  async function build(over: Partial<SlackInteractionsOptions> = {}): Promise<FastifyInstance> {
    const app = Fastify()
    const routes: string[] = []
    app.addHook('onRoute', (r) => {
      routes.push(String((r.config as { permission?: string } | undefined)?.permission))
    })
    // The server's error replies, reduced to what this route needs: VigilErrors as they are.
    app.setErrorHandler((err, _req, reply) => {
      const v = isVigilError(err) ? err : new VigilError('VIGIL_ERR_INTERNAL')
      return reply.code(v.statusCode).send(v.toBody())
    })
    await app.register(
      slackInteractionsRoutes({
        signingSecret: SECRET,
        logger: pino({ level: 'silent' }),
        redis,
        onAction: (i) => onActionImpl(i),
        ...over,
      }),
    )
    await app.ready()
    expect(routes).toEqual(['source'])
    apps.push(app)
    return app
  }

  let app: FastifyInstance
  beforeAll(async () => {
    redis = new Redis(process.env.REDIS_URL as string, { keyPrefix: `t${randomBytes(6).toString('hex')}:` })
    app = await build()
  })
  afterAll(async () => {
    for (const a of apps) await a.close()
    redis.disconnect()
  })
  beforeEach(() => {
    calls = []
    onActionImpl = async (i) => {
      calls.push(i)
    }
  })

  const post = (body: string, headers: Record<string, string>, a: FastifyInstance = app) => a.inject({ method: 'POST', url: '/v1/slack/interactions', payload: body, headers })

  it('a correctly signed Approve click calls onAction with the approval id and the Slack user, and answers 200', async () => {
    const body = formBody(payload())
    const res = await post(body, signed(body))
    expect(res.statusCode).toBe(200)
    expect(res.body).toBe('')
    expect(calls).toEqual([
      {
        action: 'approve',
        alertId: 'al_1',
        incidentId: 'inc_1',
        approvalId: 'apr_1',
        user: { id: 'U0ALICE', name: 'alice' },
        responseUrl: 'https://hooks.slack.com/actions/T0TEAM/1/abc',
      },
    ])
  })

  it('reject and acknowledge clicks are passed on too', async () => {
    const rej = formBody(payload({}, { action_id: SLACK_ACTION_IDS.reject }))
    expect((await post(rej, signed(rej))).statusCode).toBe(200)
    const ack = formBody(payload({}, { action_id: SLACK_ACTION_IDS.acknowledge, value: buttonValue({ alert_id: 'al_2', incident_id: null }) }))
    expect((await post(ack, signed(ack))).statusCode).toBe(200)
    expect(calls.map((c) => [c.action, c.alertId, c.incidentId, c.approvalId])).toEqual([
      ['reject', 'al_1', 'inc_1', 'apr_1'],
      ['acknowledge', 'al_2', null, null],
    ])
  })

  const refusals: Array<[string, () => { body: string; headers: Record<string, string> }, number, string]> = [
    [
      'forged signature (signed with another secret)',
      () => {
        const body = formBody(payload())
        return { body, headers: signed(body, { secret: 'not-the-secret' }) }
      },
      401,
      'bad_signature',
    ],
    [
      'body changed after signing',
      () => {
        const body = formBody(payload())
        const headers = signed(body)
        return { body: formBody(payload({}, { action_id: SLACK_ACTION_IDS.reject })), headers }
      },
      401,
      'bad_signature',
    ],
    [
      'stale timestamp (6 minutes old), correctly signed',
      () => {
        const body = formBody(payload())
        return { body, headers: signed(body, { ts: Math.floor(Date.now() / 1000) - 360 }) }
      },
      401,
      'stale_timestamp',
    ],
    [
      'timestamp from the future',
      () => {
        const body = formBody(payload())
        return { body, headers: signed(body, { ts: Math.floor(Date.now() / 1000) + 360 }) }
      },
      401,
      'stale_timestamp',
    ],
    [
      'missing timestamp header',
      () => {
        const body = formBody(payload())
        const { 'x-slack-request-timestamp': _t, ...headers } = signed(body)
        return { body, headers }
      },
      401,
      'stale_timestamp',
    ],
    [
      'non-numeric timestamp',
      () => {
        const body = formBody(payload())
        return { body, headers: { ...signed(body), 'x-slack-request-timestamp': '17e8' } }
      },
      401,
      'stale_timestamp',
    ],
    [
      'missing signature header',
      () => {
        const body = formBody(payload())
        const { 'x-slack-signature': _s, ...headers } = signed(body)
        return { body, headers }
      },
      401,
      'bad_signature',
    ],
    [
      'malformed signature header',
      () => {
        const body = formBody(payload())
        return { body, headers: { ...signed(body), 'x-slack-signature': 'v0=zz' } }
      },
      401,
      'bad_signature',
    ],
    [
      'bad JSON in payload',
      () => {
        const body = formBody('{"type": "block_actions",')
        return { body, headers: signed(body) }
      },
      400,
      'bad_request',
    ],
    [
      'no payload field',
      () => {
        const body = 'foo=bar'
        return { body, headers: signed(body) }
      },
      400,
      'bad_request',
    ],
    [
      'unknown action id',
      () => {
        const body = formBody(payload({}, { action_id: 'vigil.delete_everything' }))
        return { body, headers: signed(body) }
      },
      400,
      'bad_request',
    ],
    [
      'approve without an approval id',
      () => {
        const body = formBody(payload({}, { value: buttonValue({ alert_id: 'al_1', incident_id: null }) }))
        return { body, headers: signed(body) }
      },
      400,
      'bad_request',
    ],
    [
      'button value not JSON',
      () => {
        const body = formBody(payload({}, { value: 'al_1' }))
        return { body, headers: signed(body) }
      },
      400,
      'bad_request',
    ],
    [
      'missing user',
      () => {
        const body = formBody(payload({ user: undefined }))
        return { body, headers: signed(body) }
      },
      400,
      'bad_request',
    ],
    [
      'hostile user id',
      () => {
        const body = formBody(payload({ user: { id: '../../etc\n' } }))
        return { body, headers: signed(body) }
      },
      400,
      'bad_request',
    ],
    [
      'another interaction type',
      () => {
        const body = formBody(payload({ type: 'view_submission' }))
        return { body, headers: signed(body) }
      },
      400,
      'bad_request',
    ],
    [
      'payload is JSON null',
      () => {
        const body = formBody('null')
        return { body, headers: signed(body) }
      },
      400,
      'bad_request',
    ],
    [
      'JSON body instead of a form, correctly signed',
      () => {
        const body = JSON.stringify(payload())
        return { body, headers: { ...signed(body), 'content-type': 'application/json' } }
      },
      415,
      'unsupported_media_type',
    ],
    [
      'oversized body (70 KiB), correctly signed',
      () => {
        const body = formBody(payload({ padding: 'x'.repeat(70 * 1024) }))
        return { body, headers: signed(body) }
      },
      413,
      'payload_too_large',
    ],
  ]

  for (const [name, make, status, code] of refusals) {
    it(`refuses: ${name} → ${status} ${code}, onAction not called`, async () => {
      const { body, headers } = make()
      const res = await post(body, headers)
      expect(res.statusCode).toBe(status)
      expect(res.json()).toMatchObject({ error: { code } })
      expect(calls).toHaveLength(0)
    })
  }

  it('refuses a replayed request (same signature within the window) with 409 replayed', async () => {
    const body = formBody(payload())
    const headers = signed(body)
    expect((await post(body, headers)).statusCode).toBe(200)
    const again = await post(body, headers)
    expect(again.statusCode).toBe(409)
    expect(again.json()).toMatchObject({ error: { code: 'replayed' } })
    expect(calls).toHaveLength(1)
  })

  it('a forged request does not burn the real signature: the genuine one still goes through', async () => {
    const body = formBody(payload())
    const headers = signed(body)
    const forgedBody = formBody(payload({}, { action_id: SLACK_ACTION_IDS.reject }))
    expect((await post(forgedBody, headers)).statusCode).toBe(401)
    expect((await post(body, headers)).statusCode).toBe(200)
    expect(calls.map((c) => c.action)).toEqual(['approve'])
  })

  it('without a signing secret every request is refused with slack_not_configured', async () => {
    const bare = await build({ signingSecret: undefined })
    const body = formBody(payload())
    const res = await post(body, signed(body), bare)
    expect(res.statusCode).toBe(503)
    expect(res.json()).toMatchObject({ error: { code: 'slack_not_configured' } })
    expect(calls).toHaveLength(0)
  })

  it('a VigilError from onAction is the answer (e.g. approval already decided); any other failure is 503, not 500', async () => {
    onActionImpl = async () => {
      throw new VigilError('VIGIL_ERR_APPROVAL_DECIDED')
    }
    const b1 = formBody(payload())
    const r1 = await post(b1, signed(b1))
    expect(r1.statusCode).toBe(409)
    expect(r1.json()).toMatchObject({ error: { code: 'approval_decided' } })
    onActionImpl = async () => {
      throw new Error('clickhouse exploded with password=hunter2hunter2')
    }
    const b2 = formBody(payload({ response_url: 'x' }))
    const r2 = await post(b2, signed(b2))
    expect(r2.statusCode).toBe(503)
    expect(r2.body).not.toContain('hunter2')
  })

  it('answers 200 within the budget when onAction is slow, and onAction still completes', async () => {
    const quick = await build({ answerWithinMs: 100 })
    let finished = false
    onActionImpl = async () => {
      await new Promise((r) => setTimeout(r, 400))
      finished = true
    }
    const body = formBody(payload())
    const res = await post(body, signed(body), quick)
    expect(res.statusCode).toBe(200)
    // Answered while onAction was still running: Slack was not made to wait for it.
    expect(finished).toBe(false)
    await new Promise((r) => setTimeout(r, 500))
    expect(finished).toBe(true)
  })
})
