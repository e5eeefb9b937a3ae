/**
 * The conformance suite every `Action` must pass (STYLE.md, after BullMQ's adapter
 * conformance tests). Each action's test file calls `describeActionConformance(action,
 * fixture)` with real dependencies; the suite then checks what the playbook engine relies
 * on (action.ts):
 * - `type` is snake_case and `description` is one non-empty line;
 * - the `params` schema accepts the fixture's valid params and rejects each invalid one;
 * - the first run answers `done`, a second run with the same `idempotencyKey` (a retried
 *   job) answers `already_done` and, when the fixture can observe the effect, acts no
 *   second time;
 * - `summary` is one non-empty line;
 * - no secret planted in the alert (evidence, summary) or offered to the params reaches
 *   the result, a thrown error, or (when the fixture captures them) the log lines.
 *
 * Test-only: imports vitest, so it is left out of the build (respond/tsconfig.json).
 */
import { randomBytes } from 'node:crypto'
import { Writable } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import AjvModule from 'ajv'
import { pino, type Logger } from 'pino'
import type { Static, TSchema } from '@sinclair/typebox'
import type { Alert } from '@vigil/core'
import type { Action, ActionContext, ActionDeps, ActionResult } from '../action.js'

// ajv is CommonJS: under NodeNext its default import is module.exports, which is the class.
const Ajv = AjvModule as unknown as typeof AjvModule.default

/** Per test: fresh ids so runs of one suite never see each other's state. */
export interface ConformanceRun {
  /** Secret-looking values planted in the alert; none may come back out. */
  secrets: readonly string[]
  /** An alert with the secrets in its evidence and summary, and ids unique to this run. */
  alert: Alert
  idempotencyKey: string
}

export interface ActionConformanceFixture<S extends TSchema> {
  /** Builds the real dependencies once for the suite (stores on chDB, Redis …). */
  setup(): Promise<{
    deps: ActionDeps
    close(): Promise<void>
    /** Everything logged so far, when the fixture captured the logger (see `captureLogger`). */
    logs?: () => string
  }>
  /**
   * Params the schema accepts. `secret` is a secret-looking value the params may carry
   * (e.g. inside a reason or message template) to prove it never comes back out.
   */
  params(run: ConformanceRun, secret: string): Static<S>
  /** Params the schema must reject (at least one). */
  invalidParams: readonly unknown[]
  /** Adjusts the run's alert (e.g. drop the api key) — optional. */
  alert?(alert: Alert): Alert
  /** The context of one attempt; may open an incident first. */
  context(deps: ActionDeps, run: ConformanceRun & { attempt: number }): Promise<ActionContext> | ActionContext
  /** Counts the effect as seen from outside (a key revoked, a message received). */
  observe?(deps: ActionDeps, run: ConformanceRun, params: Static<S>): Promise<number>
  /**
   * A run that must fail (a missing setting, an alert the action cannot act on): the error
   * it throws is checked for secrets. Optional.
   */
  failing?: {
    alert?(alert: Alert): Alert
    params?(run: ConformanceRun, secret: string): Static<S>
    /** Expected error class name or message part. */
    expect?: RegExp
  }
}

const SNAKE_CASE = /^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$/

/** A random base62 string: entropy enough for maskText to treat it as a secret. */
function token(n: number): string {
  const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'
  return Array.from(randomBytes(n), (b) => abc[b % abc.length]).join('')
}

/** Builds one run: unique ids, a bearer token, an API secret and a prefixed key in the alert. */
export function conformanceRun(alertOverride?: (a: Alert) => Alert): ConformanceRun {
  const u = randomBytes(5).toString('hex')
  const bearer = token(40)
  const apiSecret = token(36)
  const prefixed = `sk_live_${token(32)}`
  const now = new Date().toISOString()
  const base: Alert = {
    id: `al_${u}`,
    rule: 'auth.brute_force',
    severity: 'high',
    score: 0.9,
    status: 'open',
    entity: { type: 'api_key', id: `k_${u}` },
    api_key_id: `k_${u}`,
    account_id: `acc_${u}`,
    client_ip: '203.0.113.7',
    first_seen: now,
    last_seen: now,
    count: 12,
    summary: `12 failed logins for k_${u}, one sent ${prefixed}`,
    evidence: {
      request_excerpt: `GET /v1/orders HTTP/1.1\r\nAuthorization: Bearer ${bearer}`,
      body_excerpt: `{"api_secret":"${apiSecret}"}`,
      attempts: 12,
    },
    incident_id: null,
    detected_at: now,
    event_received_at: now,
  }
  const alert = alertOverride ? alertOverride(base) : base
  return { secrets: [bearer, apiSecret, prefixed], alert, idempotencyKey: `${alert.id}.conformance.0` }
}

/** A pino logger that keeps every line in memory, for the suite's no-secret-in-logs check. */
export function captureLogger(): { logger: Logger; text: () => string } {
  const lines: string[] = []
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString('utf8'))
      cb()
    },
  })
  return { logger: pino({ level: 'trace' }, sink), text: () => lines.join('') }
}

function expectNoSecret(where: string, text: string, secrets: readonly string[]): void {
  for (const s of secrets) {
    expect(text.includes(s), `${where} carries a planted secret`).toBe(false)
  }
}

function expectOneLine(result: ActionResult): void {
  expect(typeof result.summary).toBe('string')
  expect(result.summary.trim().length).toBeGreaterThan(0)
  expect(result.summary).not.toMatch(/[\r\n]/)
}

function errorText(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message}\n${e.stack ?? ''}\n${e.cause === undefined ? '' : errorText(e.cause)}`
  return String(e)
}

export function describeActionConformance<S extends TSchema>(action: Action<S>, fixture: ActionConformanceFixture<S>): void {
  describe(`Action conformance: ${action.type}`, () => {
    let deps: ActionDeps
    let close: () => Promise<void> = async () => {}
    let logs: (() => string) | undefined

    beforeAll(async () => {
      const built = await fixture.setup()
      deps = built.deps
      close = built.close
      logs = built.logs
    })
    afterAll(async () => {
      await close()
    })

    const secret = `api_secret=${token(30)}`
    const newRun = (override?: (a: Alert) => Alert): ConformanceRun => {
      const run = conformanceRun(override ?? fixture.alert)
      return { ...run, secrets: [...run.secrets, secret.slice('api_secret='.length)] }
    }

    it('has a snake_case type, a one-line description, and says whether it is destructive', () => {
      expect(action.type).toMatch(SNAKE_CASE)
      expect(action.description.trim().length).toBeGreaterThan(0)
      expect(action.description).not.toMatch(/[\r\n]/)
      expect(typeof action.destructive).toBe('boolean')
    })

    it('params schema accepts the valid params and rejects every invalid one', () => {
      expect(fixture.invalidParams.length).toBeGreaterThan(0)
      const ajv = new Ajv({ allErrors: true, strict: true, validateFormats: false })
      const validate = ajv.compile(action.params)
      const valid = structuredClone(fixture.params(newRun(), secret))
      expect(validate(valid), JSON.stringify(validate.errors)).toBe(true)
      for (const bad of fixture.invalidParams) {
        expect(validate(structuredClone(bad)), `accepted invalid params ${JSON.stringify(bad)}`).toBe(false)
      }
    })

    it('first run is done; a second run with the same idempotencyKey is already_done and acts no second time', async () => {
      const run = newRun()
      const params = fixture.params(run, secret)
      const before = fixture.observe ? await fixture.observe(deps, run, params) : 0

      const first = await action.run(await fixture.context(deps, { ...run, attempt: 1 }), params, deps)
      expect(first.outcome).toBe('done')
      expectOneLine(first)
      const afterFirst = fixture.observe ? await fixture.observe(deps, run, params) : 0
      if (fixture.observe) expect(afterFirst).toBeGreaterThan(before)

      const second = await action.run(await fixture.context(deps, { ...run, attempt: 2 }), params, deps)
      expect(second.outcome).toBe('already_done')
      expectOneLine(second)
      if (fixture.observe) expect(await fixture.observe(deps, run, params)).toBe(afterFirst)
    })

    it('results carry no secret from the alert or the params', async () => {
      const run = newRun()
      const params = fixture.params(run, secret)
      const results: ActionResult[] = []
      for (const attempt of [1, 2]) {
        results.push(await action.run(await fixture.context(deps, { ...run, attempt }), params, deps))
      }
      for (const r of results) {
        expectNoSecret('summary', r.summary, run.secrets)
        expectNoSecret('detail', JSON.stringify(r.detail ?? {}), run.secrets)
        if (r.detail !== undefined) expect(typeof r.detail).toBe('object')
      }
      if (logs) expectNoSecret('log lines', logs(), run.secrets)
    })

    if (fixture.failing) {
      const failing = fixture.failing
      it('a failing run throws an error that carries no secret', async () => {
        const run = newRun(failing.alert ?? fixture.alert)
        const params = (failing.params ?? fixture.params)(run, secret)
        let thrown: unknown
        try {
          await action.run(await fixture.context(deps, { ...run, attempt: 1 }), params, deps)
        } catch (e) {
          thrown = e
        }
        expect(thrown, 'the failing run did not throw').toBeDefined()
        const text = errorText(thrown)
        if (failing.expect) expect(text).toMatch(failing.expect)
        expectNoSecret('the error', text, run.secrets)
        if (logs) expectNoSecret('log lines', logs(), run.secrets)
      })
    }
  })
}
