import { randomUUID } from 'node:crypto'
import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import { pino } from 'pino'
import { Queue } from 'bullmq'
import { Redis } from 'ioredis'
import { DetectionEngine, type AlertHandover } from './engine.js'
import { queueAlerts } from './detection.js'
import { AlertStore, chToIso } from './alerts.js'
import type { Store } from '@vigil/core'
import type { Detector, EngineRule, Finding, StreamEvent } from './detector.js'
import { startDetectHarness, storeEvents, type DetectHarness } from './test-support.js'

/**
 * An engine test detector: fires once per api key that shows `action: test.trigger`, with
 * the window starting at the trigger's event time. Real detectors are tested with their
 * rule fixtures; this one isolates the engine's own guarantees.
 */
const triggerDetector: Detector = {
  ruleId: 'test.trigger',
  async detect(events) {
    const out: Finding[] = []
    for (const e of events) {
      if (e.action !== 'test.trigger') continue
      out.push({
        rule: 'test.trigger',
        severity: 'high',
        // An event may say how far past its threshold it is, to drive escalation.
        score: e.attrs.score === undefined ? 50 : Number(e.attrs.score),
        entity: { type: 'api_key', id: e.api_key_id },
        api_key_id: e.api_key_id,
        firstSeenMs: e.tsMs,
        lastSeenMs: e.tsMs,
        windowStartMs: e.tsMs,
        count: 1,
        summary: `trigger on ${e.api_key_id}`,
        evidence: { sample_event_ids: [e.id] },
        eventReceivedAt: e.receivedAt,
      })
    }
    return out
  },
}

const rule: EngineRule = { id: 'test.trigger', severity: 'high', entity: 'api_key', enabled: true, windowMs: 60_000, latenessMs: 5_000, suppressionMs: 600_000, params: {} }
const logger = pino({ level: 'silent' })

let h: DetectHarness
beforeEach(async () => {
  h = await startDetectHarness()
})
afterEach(async () => {
  await h.close()
})

const ev = (i: number, over: Record<string, unknown> = {}) => ({
  id: `e${i}`,
  ts: new Date(Date.UTC(2026, 10, 26, 9, 30, 0, i)).toISOString(),
  action: 'api.request',
  outcome: 'success',
  api_key_id: `k${i % 3}`,
  ...over,
})

/** Stores events as ingest would, and returns them as the stream gives them (what ingest hands over). */
async function storedAndRead(events: ReadonlyArray<Record<string, unknown>>): Promise<StreamEvent[]> {
  await storeEvents(h.store, events)
  const seen: StreamEvent[] = []
  const reader: Detector = { ruleId: rule.id, detect: async (evs) => (seen.push(...evs), []) }
  await new DetectionEngine({ store: h.store, logger, rules: [rule], detectors: [reader], memory: false, name: `reader-${randomUUID()}` }).tick()
  return seen
}

/** The store, counting its reads of detect_stream. */
function countingStreamReads(store: Store, counter: { n: number }): Store {
  const wrapped = Object.create(store) as Store
  wrapped.query = (async (sql: string, params?: Record<string, unknown>) => {
    if (sql.includes('FROM detect_stream')) counter.n++
    return store.query(sql, params)
  }) as Store['query']
  return wrapped
}

/** The store, naming each of its reads of detect_stream: a page's keys, the full rows of some, or a full page. */
function namingStreamReads(store: Store): { store: Store; statements: string[] } {
  const statements: string[] = []
  const wrapped = Object.create(store) as Store
  wrapped.query = (async (sql: string, params?: Record<string, unknown>) => {
    if (sql.includes('FROM detect_stream')) statements.push(Array.isArray(params?.ids) ? `rows of ${params.ids.length}` : sql.includes('attrs') ? 'full page' : 'keys')
    return store.query(sql, params)
  }) as Store['query']
  return { store: wrapped, statements }
}

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time')
    await new Promise((r) => setTimeout(r, 10))
  }
}

describe('detection engine', () => {
  it('turns a finding into one alert, hands it over once, and counts repeats instead of new alerts', async () => {
    const handed: string[] = []
    const engine = new DetectionEngine({ store: h.store, logger, rules: [rule], detectors: [triggerDetector], onAlert: (a) => void handed.push(a.id) })
    await storeEvents(h.store, [ev(1), ev(2, { action: 'test.trigger', api_key_id: 'kx' }), ev(3)])
    const r1 = await engine.tick()
    expect(r1).toMatchObject({ events: 3, findings: 1, created: 1 })
    expect(handed).toHaveLength(1)
    const alert = await engine.alerts.get(handed[0] as string)
    expect(alert).toMatchObject({ rule: 'test.trigger', status: 'open', entity: { type: 'api_key', id: 'kx' }, count: 1 })

    // The same key triggers again within the suppression period: same alert, count 2.
    await storeEvents(h.store, [ev(10, { action: 'test.trigger', api_key_id: 'kx', id: 'e10' })])
    const r2 = await engine.tick()
    expect(r2).toMatchObject({ created: 0, repeated: 1 })
    expect(handed).toHaveLength(1)
    expect((await engine.alerts.get(handed[0] as string))?.count).toBe(2)
    expect((await engine.alerts.list({ limit: 10 })).length).toBe(1)
  })

  it('sees a late event (old ts) when it arrives', async () => {
    const engine = new DetectionEngine({ store: h.store, logger, rules: [rule], detectors: [triggerDetector] })
    await storeEvents(h.store, [ev(1)])
    await engine.tick()
    await storeEvents(h.store, [{ ...ev(2, { action: 'test.trigger', api_key_id: 'late' }), ts: '2026-11-01T00:00:00Z' }])
    expect((await engine.tick()).created).toBe(1)
  })

  it('two engines on the same stream never double an alert', async () => {
    const a = new DetectionEngine({ store: h.store, logger, rules: [rule], detectors: [triggerDetector], name: 'a' })
    const b = new DetectionEngine({ store: h.store, logger, rules: [rule], detectors: [triggerDetector], name: 'b' })
    await storeEvents(h.store, [ev(1, { action: 'test.trigger', api_key_id: 'dup' }), ev(2, { action: 'test.trigger', api_key_id: 'dup2' })])
    await Promise.all([a.tick(), b.tick()])
    const alerts = await a.alerts.list({ limit: 10 })
    expect(alerts.map((x) => x.entity.id).sort()).toEqual(['dup', 'dup2'])
  })

  it('resumes from its stored cursor after a restart without losing or repeating alerts', async () => {
    const handed: string[] = []
    const first = new DetectionEngine({ store: h.store, logger, rules: [rule], detectors: [triggerDetector], onAlert: (x) => void handed.push(x.id) })
    await storeEvents(h.store, [ev(1, { action: 'test.trigger', api_key_id: 'r1' })])
    await first.tick()
    // Killed here; more arrives while it is down.
    await storeEvents(h.store, [ev(2, { action: 'test.trigger', api_key_id: 'r2' })])
    const second = new DetectionEngine({ store: h.store, logger, rules: [rule], detectors: [triggerDetector], onAlert: (x) => void handed.push(x.id) })
    await second.tick()
    await second.tick()
    const alerts = await second.alerts.list({ limit: 10 })
    expect(alerts.map((x) => x.entity.id).sort()).toEqual(['r1', 'r2'])
    expect(alerts.every((x) => x.count === 1)).toBe(true)
    expect(new Set(handed).size).toBe(2)
    expect(handed).toHaveLength(2)
  })

  it('judges events handed over in process at once, without reading them back from the stream', async () => {
    const stored = await storedAndRead([ev(1), ev(2, { action: 'test.trigger', api_key_id: 'live' })])
    const streamReads = { n: 0 }
    const handed: string[] = []
    const engine = new DetectionEngine({ store: countingStreamReads(h.store, streamReads), logger, rules: [rule], detectors: [triggerDetector], onAlert: (a) => void handed.push(a.id) })
    // No tick: only the hand-over can bring these events.
    engine.offer(stored)
    await until(() => handed.length === 1)
    expect((await engine.alerts.get(handed[0] as string))?.entity.id).toBe('live')
    expect(streamReads.n).toBe(0)
    await engine.stop()
  })

  it('judges an event once whether it is offered, read from the stream, or both, and loses none offered during a pass', async () => {
    const stored = await storedAndRead(Array.from({ length: 30 }, (_, i) => ev(i)))
    const judged = new Map<string, number>()
    let release!: () => void
    const gate = new Promise<void>((r) => (release = r))
    const counting: Detector = {
      ruleId: 'test.trigger',
      async detect(events) {
        for (const e of events) judged.set(e.id, (judged.get(e.id) ?? 0) + 1)
        await gate // the first pass stays busy while more is offered
        return []
      },
    }
    const { store: watched, statements } = namingStreamReads(h.store)
    const engine = new DetectionEngine({ store: watched, logger, rules: [rule], detectors: [counting] })
    engine.offer(stored.slice(0, 10))
    await until(() => judged.size === 10)
    engine.offer(stored.slice(5, 20)) // 5-9 again: skipped
    engine.offer(stored.slice(20, 25))
    release()
    await until(() => judged.size === 25)
    // The stream holds all 30: the 5 never offered are judged by the read, the rest skipped.
    expect((await engine.tick()).events).toBe(5)
    // Read as keys, then the full rows of only the five not judged yet.
    expect(statements).toEqual(['keys', 'rows of 5'])
    expect(judged.size).toBe(30)
    expect([...judged.values()].every((n) => n === 1)).toBe(true)
    // Rows mostly not handed over (another writer): the keys show it, and the full page is read.
    await storeEvents(h.store, Array.from({ length: 40 }, (_, i) => ev(100 + i)))
    expect((await engine.tick()).events).toBe(40)
    expect(statements.slice(2)).toEqual(['keys', 'full page'])
    await engine.stop()
  })

  it('leaves events handed over and still waiting for their pass to that pass, even when a read of the stream comes first', async () => {
    const stored = await storedAndRead(Array.from({ length: 30 }, (_, i) => ev(i)))
    const judged = new Map<string, number>()
    const passes: Array<{ ids: string[] }> = []
    let release!: () => void
    const gate = new Promise<void>((r) => (release = r))
    const counting: Detector = {
      ruleId: 'test.trigger',
      async detect(events) {
        passes.push({ ids: events.map((e) => e.id) })
        for (const e of events) judged.set(e.id, (judged.get(e.id) ?? 0) + 1)
        if (passes.length === 1) await gate
        return []
      },
    }
    const { store: watched, statements } = namingStreamReads(h.store)
    const engine = new DetectionEngine({ store: watched, logger, rules: [rule], detectors: [counting] })
    engine.offer(stored.slice(0, 5))
    await until(() => passes.length === 1) // busy with 0-4
    engine.offer(stored.slice(5, 25)) // waits for its pass
    // A read of the stream queued before that pass: it takes only the five never handed over.
    const read = engine.tick()
    release()
    expect((await read).events).toBe(5)
    await until(() => judged.size === 30)
    expect(statements).toEqual(['keys', 'rows of 5'])
    expect(passes.map((p) => p.ids.length)).toEqual([5, 5, 20])
    expect([...judged.values()].every((n) => n === 1)).toBe(true)
    await engine.stop()
  })

  it('judges offered events again from the stream when their pass could not store an alert', async () => {
    const stored = await storedAndRead([ev(1, { action: 'test.trigger', api_key_id: 'retry' })])
    let broken = true
    const failing = Object.create(h.store) as Store
    for (const m of ['query', 'insertNdjson', 'command'] as const) {
      ;(failing as unknown as Record<string, unknown>)[m] = (...args: unknown[]) => (broken ? Promise.reject(new Error('store down')) : (h.store[m] as (...a: unknown[]) => unknown)(...args))
    }
    const warned: string[] = []
    const log = pino({ level: 'warn' }, { write: (line: string) => void warned.push(line) })
    const engine = new DetectionEngine({ store: h.store, logger: log, rules: [rule], detectors: [triggerDetector], alerts: new AlertStore(failing) })
    engine.offer(stored)
    await until(() => warned.some((l) => l.includes('handed-over events failed')))
    broken = false
    const r = await engine.tick()
    expect(r).toMatchObject({ events: 1, created: 1 })
    await engine.stop()
  })

  it('holds the store\'s lane for a pass, letting go between two detectors once it has held it for holdSliceMs', async () => {
    const stored = await storedAndRead([ev(1)])
    const holds = async (holdSliceMs: number): Promise<string[]> => {
      const log: string[] = []
      // The prompt lane, as `vigil up` runs the engine (detection.ts), its holds written down.
      const store = Object.create(h.store.prompt) as Store
      store.hold = () => {
        log.push('hold')
        const release = h.store.prompt.hold()
        return () => (log.push('release'), release())
      }
      const slow: Detector = { ruleId: 'test.trigger', detect: async () => (await new Promise((r) => setTimeout(r, 50)), []) }
      const next: Detector = { ruleId: 'test.next', detect: async () => [] }
      const engine = new DetectionEngine({ store, logger, rules: [rule, { ...rule, id: 'test.next' }], detectors: [slow, next], holdSliceMs, name: `slice-${holdSliceMs}` })
      engine.offer(stored)
      await engine.stop()
      return log
    }
    expect(await holds(60_000)).toEqual(['hold', 'release'])
    // The first detector held it 50 ms: let go (waiting inserts start) and held again for the next.
    expect(await holds(20)).toEqual(['hold', 'release', 'hold', 'release'])
  })

  it('stores its cursor on stop after judging what was offered, and a restarted engine repeats no alert', async () => {
    const stored = await storedAndRead([ev(1, { action: 'test.trigger', api_key_id: 'o1' }), ev(2, { action: 'test.trigger', api_key_id: 'o2' })])
    const handed: string[] = []
    const first = new DetectionEngine({ store: h.store, logger, rules: [rule], detectors: [triggerDetector], onAlert: (x) => void handed.push(x.id), cursorSaveMs: 60_000 })
    first.offer(stored)
    await first.stop()
    expect(handed).toHaveLength(2)
    // cursorSaveMs kept the pass from storing it; stop did, at the newest event judged.
    const cursor = await h.store.query<{ r: string }>("SELECT toString(argMax(received_at, updated_at)) AS r FROM detect_cursor WHERE name = 'default'")
    expect(chToIso(cursor[0]?.r ?? '')).toBe(stored.map((e) => e.receivedAt).sort().at(-1))
    expect(first.offer(stored)).toBeUndefined() // stopped: ignored
    const second = new DetectionEngine({ store: h.store, logger, rules: [rule], detectors: [triggerDetector], onAlert: (x) => void handed.push(x.id) })
    expect((await second.tick()).created).toBe(0)
    expect(handed).toHaveLength(2)
    expect((await second.alerts.list({ limit: 10 })).every((a) => a.count === 1)).toBe(true)
  })

  it('keeps status changes with notes as history', async () => {
    const engine = new DetectionEngine({ store: h.store, logger, rules: [rule], detectors: [triggerDetector] })
    await storeEvents(h.store, [ev(1, { action: 'test.trigger', api_key_id: 's1' })])
    await engine.tick()
    const [alert] = await engine.alerts.list({ limit: 1 })
    await engine.alerts.setStatus(alert!.id, 'acknowledged', 'looking', 'alice')
    await engine.alerts.setStatus(alert!.id, 'false_positive', 'load test from the desk', 'bob')
    expect((await engine.alerts.get(alert!.id))?.status).toBe('false_positive')
    const hist = await engine.alerts.history(alert!.id)
    expect(hist.map((c) => [c.change, c.status, c.note, c.changed_by])).toEqual([
      ['open', 'open', '', 'detector'],
      ['status', 'acknowledged', 'looking', 'alice'],
      ['status', 'false_positive', 'load test from the desk', 'bob'],
    ])
    await expect(engine.alerts.setStatus(alert!.id, 'open', '', 'x')).rejects.toMatchObject({ code: 'bad_request' })
    await expect(engine.alerts.setStatus('al_nope', 'resolved', '', 'x')).rejects.toMatchObject({ code: 'not_found' })
  })

  it('reads a stream denser than one page within the overlap (no stall on a busy second)', async () => {
    const seenIds: string[] = []
    const counting: Detector = { ruleId: 'test.trigger', detect: async (events) => (seenIds.push(...events.map((e) => e.id)), []) }
    const engine = new DetectionEngine({ store: h.store, logger, rules: [rule], detectors: [counting], batchLimit: 5, overlapMs: 60_000 })
    // 23 events arriving in the same instant: more than four pages inside the overlap.
    await storeEvents(h.store, Array.from({ length: 23 }, (_, i) => ev(i)), { receivedAt: new Date('2026-11-26T10:00:00Z') })
    expect((await engine.tick()).events).toBe(23)
    expect(new Set(seenIds).size).toBe(23)
    await storeEvents(h.store, [ev(99)], { receivedAt: new Date('2026-11-26T10:00:00.5Z') })
    expect((await engine.tick()).events).toBe(1)
  })

  it('escalates a finding by its rule\'s steps before recording it, saying by which step', async () => {
    const steps: EngineRule = {
      ...rule,
      severity: 'medium',
      escalate: [
        { severity: 'high', min_score: 70 },
        { severity: 'critical', min_score: 90 },
      ],
    }
    // The detector reports the rule's severity as it always does; the engine decides.
    const medium: Detector = { ruleId: rule.id, detect: async (events, ctx) => (await triggerDetector.detect(events, ctx)).map((f) => ({ ...f, severity: 'medium' })) }
    const handed: Array<[string, AlertHandover]> = []
    const engine = new DetectionEngine({ store: h.store, logger, rules: [steps], detectors: [medium], onAlert: (a, why) => void handed.push([a.entity.id, why]) })
    await storeEvents(h.store, [
      ev(1, { action: 'test.trigger', api_key_id: 'calm', attrs: { score: '55' } }),
      ev(2, { action: 'test.trigger', api_key_id: 'loud', attrs: { score: '75' } }),
      ev(3, { action: 'test.trigger', api_key_id: 'wild', attrs: { score: '95' } }),
    ])
    expect(await engine.tick()).toMatchObject({ created: 3, escalated: 0 })
    const byKey = Object.fromEntries((await engine.alerts.list({ limit: 10 })).map((a) => [a.entity.id, a]))
    expect(byKey.calm).toMatchObject({ severity: 'medium', evidence: { sample_event_ids: ['e1'] } })
    expect(byKey.calm?.evidence.escalated).toBeUndefined()
    expect(byKey.loud).toMatchObject({ severity: 'high', evidence: { sample_event_ids: ['e2'], escalated: { from: 'medium', to: 'high', by: 'min_score 70' } } })
    expect(byKey.wild).toMatchObject({ severity: 'critical', evidence: { sample_event_ids: ['e3'], escalated: { from: 'medium', to: 'critical', by: 'min_score 90' } } })
    expect(handed.sort()).toEqual([['calm', 'created'], ['loud', 'created'], ['wild', 'created']])
  })

  it('a repeat that crosses a step raises the open alert and queues it again once, as <alert id>.<severity>', async () => {
    const escalating: EngineRule = { ...rule, escalate: [{ severity: 'critical', min_count: 3 }] }
    const connection = new Redis(process.env.REDIS_URL as string, { maxRetriesPerRequest: null })
    const queue = new Queue('alerts', { connection, prefix: `vigil-test-${randomUUID()}` })
    // What the in-process hand-over (vigil up: respond's containNow) was given, and whether the job was queued yet.
    const inProcess: Array<[string, string, string, boolean]> = []
    try {
      const handover = queueAlerts(queue, logger, undefined, (a, why) => {
        void queue.getJob(why === 'created' ? a.id : `${a.id}.${a.severity}`).then((job) => inProcess.push([a.id, why, a.severity, job !== undefined]))
      })
      const engine = new DetectionEngine({ store: h.store, logger, rules: [escalating], detectors: [triggerDetector], onAlert: handover })
      const trigger = async (i: number) => {
        await storeEvents(h.store, [ev(i, { action: 'test.trigger', api_key_id: 'kx' })])
        return engine.tick()
      }
      expect(await trigger(1)).toMatchObject({ created: 1, repeated: 0, escalated: 0 })
      const [created] = await engine.alerts.list({ limit: 1 })
      const id = created!.id
      expect(created).toMatchObject({ severity: 'high', count: 1 })
      expect(await trigger(2)).toMatchObject({ created: 0, repeated: 1, escalated: 0 })
      expect((await engine.alerts.get(id))?.severity).toBe('high')

      // The third finding takes the count to 3: critical, in the same row as the repeat.
      expect(await trigger(3)).toMatchObject({ created: 0, repeated: 1, escalated: 1 })
      const escalated = await engine.alerts.get(id)
      expect(escalated).toMatchObject({ severity: 'critical', count: 3, evidence: { sample_event_ids: ['e1'], escalated: { from: 'high', to: 'critical', by: 'min_count 3' } } })
      expect((await engine.alerts.history(id)).map((c) => [c.change, c.count, c.severity, c.note])).toEqual([
        ['open', 1, 'high', ''],
        ['repeat', 2, 'high', ''],
        ['repeat', 3, 'critical', 'escalated from high to critical (min_count 3)'],
      ])

      // Further repeats stay critical and are not handed over again; nor is a second hand-over
      // of the same escalation (another engine, a retried tick).
      expect(await trigger(4)).toMatchObject({ repeated: 1, escalated: 0 })
      await handover(escalated!, 'escalated')
      const jobs = await queue.getJobs(['waiting', 'active', 'completed', 'failed', 'delayed'])
      expect(jobs.map((j) => j.id).sort()).toEqual([id, `${id}.critical`])
      const jobOf = (jobId: string) => jobs.find((j) => j.id === jobId)
      expect(jobOf(id)?.data).toMatchObject({ id, severity: 'high' })
      expect(jobOf(`${id}.critical`)?.data).toMatchObject({ id, severity: 'critical', count: 3 })
      expect((await engine.alerts.get(id))?.severity).toBe('critical')
      // In process: every hand-over, before its job was queued (the repeat hand-over's job existed).
      expect(inProcess).toEqual([
        [id, 'created', 'high', false],
        [id, 'escalated', 'critical', false],
        [id, 'escalated', 'critical', true],
      ])
    } finally {
      await queue.obliterate({ force: true })
      await queue.close()
      connection.disconnect()
    }
  })

  it('an in-process hand-over that throws is logged and the alert is still queued', async () => {
    const connection = new Redis(process.env.REDIS_URL as string, { maxRetriesPerRequest: null })
    const queue = new Queue('alerts', { connection, prefix: `vigil-test-${randomUUID()}` })
    try {
      const handover = queueAlerts(queue, logger, undefined, () => {
        throw new Error('response side not ready')
      })
      const engine = new DetectionEngine({ store: h.store, logger, rules: [rule], detectors: [triggerDetector], onAlert: handover })
      await storeEvents(h.store, [ev(1, { action: 'test.trigger', api_key_id: 'k-throwing-handover' })])
      expect(await engine.tick()).toMatchObject({ created: 1 })
      const [alert] = (await engine.alerts.list({ limit: 10 })).filter((a) => a.entity.id === 'k-throwing-handover')
      expect((await queue.getJob(alert!.id))?.data).toMatchObject({ id: alert!.id })
    } finally {
      await queue.obliterate({ force: true })
      await queue.close()
      connection.disconnect()
    }
  })

  it('a closed alert keeps its severity, and an escalated one is never lowered', async () => {
    const t0 = Date.UTC(2026, 10, 26, 9)
    const escalating: EngineRule = { ...rule, escalate: [{ severity: 'critical', min_count: 2 }] }
    const finding = (count: number, lastSeenMs: number, score = 50): Finding => ({
      rule: rule.id,
      severity: 'high',
      score,
      entity: { type: 'api_key', id: 'kc' },
      firstSeenMs: t0,
      lastSeenMs,
      windowStartMs: t0,
      count,
      summary: 'x',
      evidence: { sample_event_ids: [] },
    })
    const alerts = new AlertStore(h.store)
    const first = await alerts.upsert(finding(1, t0), rule.suppressionMs, escalating)
    await alerts.setStatus(first.alert.id, 'false_positive', 'the desk\'s load test', 'bob')
    // The same window again, past the step: the analyst's verdict stands.
    const again = await alerts.upsert(finding(5, t0 + 1000), rule.suppressionMs, escalating)
    expect(again).toMatchObject({ outcome: 'repeated', alert: { severity: 'high', status: 'false_positive', count: 6 } })
    expect(again.escalated).toBeUndefined()

    const open = { ...finding(3, t0), entity: { type: 'api_key' as const, id: 'ko' } }
    const created = await alerts.upsert({ ...open, severity: 'critical' }, rule.suppressionMs, escalating)
    expect(created.alert.severity).toBe('critical')
    const repeat = await alerts.upsert({ ...open, count: 1, lastSeenMs: t0 + 1000, score: 10 }, rule.suppressionMs, escalating)
    expect(repeat).toMatchObject({ outcome: 'repeated', alert: { severity: 'critical', count: 4 } })
    expect(repeat.escalated).toBeUndefined()
  })

  it('a failing detector does not stop the others', async () => {
    const broken: Detector = { ruleId: 'test.broken', detect: async () => Promise.reject(new Error('boom')) }
    const engine = new DetectionEngine({
      store: h.store,
      logger,
      rules: [rule, { ...rule, id: 'test.broken' }],
      detectors: [broken, triggerDetector],
    })
    await storeEvents(h.store, [ev(1, { action: 'test.trigger', api_key_id: 'ok' })])
    expect((await engine.tick()).created).toBe(1)
  })
})
