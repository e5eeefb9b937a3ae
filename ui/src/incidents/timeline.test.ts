import { describe, expect, it } from 'vitest'
import { actorIcon, actorLabel, describeEntry, entryKeys, groupCounts, resolutionOf, timelineRows } from './timeline.js'
import type { TimelineEntry } from './types.js'

function entry(kind: string, over: Partial<TimelineEntry> = {}): TimelineEntry {
  return { at: '2026-11-27T00:48:50.483Z', kind, actor: 'playbook:high_alert', alert_id: null, playbook: 'high_alert', step: null, attempt: null, outcome: null, detail: {}, ...over }
}

describe('describeEntry', () => {
  it('gives each kind of entry its icon, group and words', () => {
    const opened = describeEntry(entry('opened', { detail: { rule: 'geo.new_country', summary: 'Key used from BR' } }))
    expect(opened).toMatchObject({ group: 'alert', icon: 'securitySignalDetected', title: 'opened the incident (geo.new_country)', text: 'Key used from BR' })

    const raised = describeEntry(entry('alert_attached', { outcome: 'severity_raised', detail: { rule: 'auth.brute_force', severity: 'high', summary: 's', severity_from: 'medium', severity_to: 'high' } }))
    expect(raised).toMatchObject({ group: 'alert', icon: 'bell', tone: 'warning' })
    expect(raised.title).toBe('attached an alert: auth.brute_force (high) — severity raised medium → high')

    expect(describeEntry(entry('step_attempt', { step: 'revoke_key', attempt: 2, detail: { step_index: 1, of: 5 } }))).toMatchObject({
      group: 'step',
      icon: 'play',
      title: 'started step revoke_key (attempt 2 of 5)',
    })
    expect(describeEntry(entry('step_done', { step: 'revoke_key', attempt: 1, outcome: 'done', detail: { summary: 'revoked key ak_1' } }))).toMatchObject({
      group: 'step',
      icon: 'checkCircle',
      title: 'step revoke_key done (attempt 1)',
      text: 'revoked key ak_1',
      tone: 'success',
    })
    expect(describeEntry(entry('step_done', { step: 'kill_switch', outcome: 'skipped', detail: { reason: 'rejected' } }))).toMatchObject({ icon: 'minusCircle', title: 'step kill_switch skipped', text: 'rejected' })
    expect(describeEntry(entry('step_failed', { step: 'webhook', attempt: 3, detail: { error: 'HTTP 502' } }))).toMatchObject({ group: 'message', icon: 'warning', title: 'step webhook failed (attempt 3)', text: 'HTTP 502' })
    expect(describeEntry(entry('step_dead_lettered', { step: 'revoke_key', attempt: 5, detail: { note: 'gave up after 5 attempts' } }))).toMatchObject({ icon: 'error', tone: 'danger', text: 'gave up after 5 attempts' })
    expect(describeEntry(entry('step_retried', { step: 'revoke_key', detail: { dead_letter_id: 'dl_1' } }))).toMatchObject({ icon: 'refresh', text: 'requeued from dead letter dl_1' })
    expect(describeEntry(entry('run_stopped', { detail: { reason: 'approval rejected' } }))).toMatchObject({ icon: 'stop', title: 'stopped playbook high_alert', text: 'approval rejected' })
  })

  it('shows Slack, email and webhook steps as messages', () => {
    expect(describeEntry(entry('step_done', { step: 'notify_slack', outcome: 'done', detail: { summary: 'posted the alert to Slack channel C1' } }))).toMatchObject({
      group: 'message',
      icon: 'logoSlack',
      title: 'sent a Slack message',
      text: 'posted the alert to Slack channel C1',
    })
    expect(describeEntry(entry('step_done', { step: 'notify_slack', outcome: 'skipped', detail: { summary: 'Slack is not configured' } }))).toMatchObject({ title: 'Slack message skipped', tone: 'subdued' })
    expect(describeEntry(entry('step_done', { step: 'notify_email', outcome: 'already_done' }))).toMatchObject({ icon: 'mail', title: 'email already sent' })
    expect(describeEntry(entry('step_attempt', { step: 'notify_email', attempt: 1 })).group).toBe('message')
  })

  it('tells approvals requested and decided apart by their outcome', () => {
    expect(describeEntry(entry('approval_requested', { step: 'revoke_key', detail: { expires_at: '2026-11-27T01:00:00Z', on_timeout: 'abort' } }))).toMatchObject({
      group: 'approval',
      icon: 'clock',
      title: 'asked for approval of step revoke_key',
      text: 'expires 2026-11-27T01:00:00Z; if nobody answers: abort',
    })
    expect(describeEntry(entry('approval_decided', { step: 'revoke_key', outcome: 'approved', actor: 'operator:ana@example.com', detail: { note: 'go' } }))).toMatchObject({
      icon: 'checkCircle',
      title: 'approved step revoke_key',
      text: 'go',
      tone: 'success',
    })
    expect(describeEntry(entry('approval_decided', { step: 'revoke_key', outcome: 'rejected' }))).toMatchObject({ icon: 'crossCircle', tone: 'danger' })
    expect(describeEntry(entry('approval_decided', { step: 'revoke_key', outcome: 'expired', detail: { on_timeout: 'skip' } }))).toMatchObject({ icon: 'hourglass', text: 'nobody answered: skip' })
  })

  it('names a status change with its resolution, and a note with its text', () => {
    const closed = describeEntry(entry('status', { outcome: 'closed', actor: 'operator:a@b.c', detail: { from: 'open', to: 'closed', note: '', resolution: 'key rotated' } }))
    expect(closed).toMatchObject({ group: 'status', icon: 'flag', title: 'changed the status from open to closed', text: null, resolution: 'key rotated', tone: 'success' })
    expect(describeEntry(entry('note', { detail: { note: 'called the owner' } }))).toMatchObject({ group: 'note', icon: 'editorComment', title: 'added a note', text: 'called the owner' })
  })

  it('shows a kind it does not know by its name, and never throws on odd details', () => {
    expect(describeEntry(entry('sla_breached', { detail: { summary: 'late' } }))).toMatchObject({ group: 'other', icon: 'dot', title: 'sla breached', text: 'late' })
    const odd = entry('status', { detail: { from: 3, to: null, resolution: {} } as unknown as Record<string, unknown> })
    expect(describeEntry(odd).title).toBe('changed the status from 3 to unknown')
    expect(describeEntry(entry('alert_attached')).title).toBe('attached an alert')
  })
})

describe('actors', () => {
  it('shows people by email and playbooks by name', () => {
    expect(actorLabel('operator:ana@example.com')).toBe('ana@example.com')
    expect(actorLabel('playbook:high_alert')).toBe('playbook high_alert')
    expect(actorLabel('slack:U123')).toBe('Slack user U123')
    expect(actorLabel('system')).toBe('system')
    expect(actorLabel('')).toBe('unknown')
    expect([actorIcon('operator:x'), actorIcon('playbook:x'), actorIcon('slack:U1'), actorIcon('system')]).toEqual(['user', 'workflow', 'logoSlack', 'gear'])
  })
})

describe('timelineRows', () => {
  const t = (s: number) => new Date(Date.UTC(2026, 10, 27, 0, 0, s)).toISOString()
  const entries = [
    entry('note', { at: t(5), detail: { note: 'second' } }),
    entry('opened', { at: t(1) }),
    entry('step_attempt', { at: t(5), step: 'a' }),
    entry('status', { at: t(9), detail: { from: 'open', to: 'contained' } }),
  ]

  it('sorts by time, keeping the server order among entries of one time', () => {
    expect(timelineRows(entries).map((r) => r.entry.kind)).toEqual(['opened', 'note', 'step_attempt', 'status'])
    expect(timelineRows(entries, 'newest').map((r) => r.entry.kind)).toEqual(['status', 'step_attempt', 'note', 'opened'])
  })

  it('keeps only the chosen groups', () => {
    expect(timelineRows(entries, 'oldest', new Set(['note', 'status'] as const)).map((r) => r.entry.kind)).toEqual(['note', 'status'])
    expect(timelineRows(entries, 'oldest', new Set()).length).toBe(4)
    expect(groupCounts(entries)).toMatchObject({ alert: 1, note: 1, step: 1, status: 1, approval: 0 })
  })

  it('gives entries keys that are unique and stay the same when entries are added', () => {
    const twins = [entry('note', { at: t(1) }), entry('note', { at: t(1) })]
    const keys = entryKeys(twins)
    expect(new Set(keys).size).toBe(2)
    expect(entryKeys([...twins, entry('status', { at: t(2) })]).slice(0, 2)).toEqual(keys)
  })

  it('finds the resolution of the newest status change, none once reopened', () => {
    const closed = entry('status', { at: t(10), detail: { from: 'open', to: 'closed', resolution: 'false alarm' } })
    expect(resolutionOf([...entries, closed])).toBe('false alarm')
    expect(resolutionOf([...entries, closed, entry('status', { at: t(11), detail: { from: 'closed', to: 'open' } })])).toBeNull()
    expect(resolutionOf([])).toBeNull()
  })
})
