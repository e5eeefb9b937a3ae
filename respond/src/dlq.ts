/**
 * The dead-letter record: playbook steps that exhausted their attempts (or failed beyond
 * retry), kept in ClickHouse (`respond_dead_letters`, migration 003) so they survive Redis.
 *
 * Relied on by: the engine (which records a step here when it gives up, and re-queues one
 * on `retry`), `GET /v1/respond/dlq` and `POST /v1/respond/dlq/:id/retry` (dlq-routes.ts),
 * and `vigil respond dlq list|retry`. The error kept is masked: it reaches operators.
 */
import { randomBytes } from 'node:crypto'
import { VigilError, maskText, type Store } from '@vigil/core'
import { chToIso, dateToCh, isoToChText, windowConditions } from './clickhouse-time.js'
import { nextVersion, type StepRef } from './run-log.js'

export const DEAD_LETTER_STATUSES = ['dead', 'retried'] as const
export type DeadLetterStatus = (typeof DEAD_LETTER_STATUSES)[number]

/** One dead-lettered step, as the API answers it. */
export interface DeadLetter extends StepRef {
  id: string
  status: DeadLetterStatus
  attempts: number
  /** The last error, masked. */
  error: string
  dead_at: string
  updated_at: string
  updated_by: string
}

export type NewDeadLetter = Omit<DeadLetter, 'id' | 'status' | 'dead_at' | 'updated_at' | 'updated_by'>

const COLUMNS = [
  'id', 'version', 'status', 'idempotency_key', 'run_id', 'playbook', 'step', 'action', 'alert_id', 'incident_id', 'attempts', 'error', 'dead_at',
  'changed_by', 'changed_at',
] as const

/** Bound on the error text kept: the first lines say what went wrong. */
const MAX_ERROR = 1000

// Distinct aliases, so inside the aggregates a name still means the column.
const CURRENT = `
SELECT id AS dl_id, argMax(status, version) AS st, argMax(idempotency_key, version) AS ikey, argMax(run_id, version) AS rid,
  argMax(playbook, version) AS pb, argMax(step, version) AS stp, argMax(action, version) AS act, argMax(alert_id, version) AS aid,
  argMax(incident_id, version) AS inc, argMax(attempts, version) AS att, argMax(error, version) AS err,
  toString(argMax(dead_at, version)) AS dead, toString(max(changed_at)) AS upd, argMax(changed_by, version) AS upd_by
FROM respond_dead_letters`

interface Row {
  dl_id: string
  st: string
  ikey: string
  rid: string
  pb: string
  stp: number
  act: string
  aid: string
  inc: string
  att: number
  err: string
  dead: string
  upd: string
  upd_by: string
}

const toDeadLetter = (r: Row): DeadLetter => ({
  id: r.dl_id,
  status: r.st as DeadLetterStatus,
  idempotency_key: r.ikey,
  run_id: r.rid,
  playbook: r.pb,
  step: Number(r.stp),
  action: r.act,
  alert_id: r.aid,
  incident_id: r.inc || null,
  attempts: Number(r.att),
  error: r.err,
  dead_at: chToIso(r.dead),
  updated_at: chToIso(r.upd),
  updated_by: r.upd_by,
})

/** Masked and bounded: what may be shown of an error. */
export function safeErrorText(err: unknown): string {
  const text = err instanceof Error ? `${err.name === 'Error' ? '' : `${err.name}: `}${err.message}` : String(err)
  return maskText(text.slice(0, MAX_ERROR * 4)).slice(0, MAX_ERROR)
}

export class DeadLetters {
  constructor(private readonly store: Store) {}

  private async write(d: DeadLetter, actor: string): Promise<void> {
    const row = {
      id: d.id,
      version: nextVersion(),
      status: d.status,
      idempotency_key: d.idempotency_key,
      run_id: d.run_id,
      playbook: d.playbook,
      step: d.step,
      action: d.action,
      alert_id: d.alert_id,
      incident_id: d.incident_id ?? '',
      attempts: d.attempts,
      error: d.error,
      dead_at: isoToChText(d.dead_at),
      changed_by: actor,
      changed_at: dateToCh(new Date()),
    }
    await this.store.insertNdjson('respond_dead_letters', COLUMNS, `${JSON.stringify(row)}\n`)
  }

  /** Records a step the engine gave up on; `error` is masked here once more. */
  async record(entry: NewDeadLetter): Promise<DeadLetter> {
    const now = new Date().toISOString()
    const d: DeadLetter = {
      ...entry,
      error: maskText(entry.error).slice(0, MAX_ERROR),
      id: `dl_${randomBytes(12).toString('hex')}`,
      status: 'dead',
      dead_at: now,
      updated_at: now,
      updated_by: 'system',
    }
    await this.write(d, 'system')
    return d
  }

  async get(id: string): Promise<DeadLetter | undefined> {
    if (!/^dl_[0-9a-f]{24}$/.test(id)) return undefined
    const rows = await this.store.query<Row>(`${CURRENT} WHERE id = {id:String} GROUP BY id`, { id })
    return rows[0] ? toDeadLetter(rows[0]) : undefined
  }

  /** Newest first; `before` is the previous page's last (dead_at in ClickHouse text, id). */
  async list(filter: { status?: DeadLetterStatus; fromMs?: number; toMs?: number; before?: { at: string; id: string }; limit: number }): Promise<DeadLetter[]> {
    const { conditions: where, params } = windowConditions(filter, { time: 'dead', id: 'dl_id' })
    params.limit = filter.limit
    if (filter.status) {
      where.push('st = {status:String}')
      params.status = filter.status
    }
    const rows = await this.store.query<Row>(
      `SELECT * FROM (${CURRENT} GROUP BY id) ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY dead DESC, dl_id DESC LIMIT {limit:UInt32}`,
      params,
    )
    return rows.map(toDeadLetter)
  }

  /** Marks a dead letter re-queued; throws when there is none or it was already retried. */
  async markRetried(id: string, actor: string): Promise<DeadLetter> {
    const d = await this.get(id)
    if (!d) throw new VigilError('VIGIL_ERR_RESPOND_DLQ_NOT_FOUND')
    if (d.status !== 'dead') throw new VigilError('VIGIL_ERR_RESPOND_DLQ_RETRIED', 'this step was already retried')
    const next: DeadLetter = { ...d, status: 'retried', updated_at: new Date().toISOString(), updated_by: actor }
    await this.write(next, actor)
    return next
  }
}
