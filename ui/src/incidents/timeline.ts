/**
 * How each timeline entry of an incident is shown: its icon, a one-line title, the text under
 * it, and the group a person can filter by. Plain functions so they are tested without a browser
 * (timeline.test.ts); IncidentTimeline.tsx renders what they answer.
 *
 * The entry kinds are those respond writes (respond/src/incidents.ts, engine.ts, approvals.ts);
 * a kind this dashboard does not know is still shown, with its raw kind as the title.
 */
import type { TimelineEntry } from './types.js'

/** The groups the timeline can be filtered by. */
export const TIMELINE_GROUPS = ['alert', 'step', 'approval', 'message', 'note', 'status', 'other'] as const
export type TimelineGroup = (typeof TIMELINE_GROUPS)[number]

export const GROUP_LABEL: Record<TimelineGroup, string> = {
  alert: 'Alerts',
  step: 'Playbook steps',
  approval: 'Approvals',
  message: 'Messages',
  note: 'Notes',
  status: 'Status',
  other: 'Other',
}

/** The colours an entry's header may take (EuiCommentEvent `eventColor`, an EuiPanel colour). */
export type EntryTone = 'subdued' | 'primary' | 'success' | 'warning' | 'danger' | 'transparent'

export interface EntryView {
  group: TimelineGroup
  /** An EUI icon name (from the EUI 122 set). */
  icon: string
  /** What happened, after the actor's name: "added a note", "step revoke_key failed (attempt 2)". */
  title: string
  /** A sentence under the title (a summary, an error, a note), or null. */
  text: string | null
  /** A resolution, when the entry closes or resolves the incident. */
  resolution: string | null
  tone: EntryTone
}

/** Actions whose step sends a message to people (Slack, email, a webhook). */
const MESSAGE_STEPS: Record<string, { icon: string; channel: string }> = {
  notify_slack: { icon: 'logoSlack', channel: 'Slack message' },
  notify_email: { icon: 'mail', channel: 'email' },
  webhook: { icon: 'logoWebhook', channel: 'webhook call' },
}

const str = (v: unknown): string | null => (typeof v === 'string' && v.trim() !== '' ? v : typeof v === 'number' ? String(v) : null)

const human = (s: string) => s.replace(/_/g, ' ')

function attemptText(e: TimelineEntry, of?: unknown): string {
  if (e.attempt === null || e.attempt === undefined) return ''
  const total = typeof of === 'number' ? ` of ${of}` : ''
  return ` (attempt ${e.attempt}${total})`
}

/** Who did it, for people: `operator:ana@example.com` → `ana@example.com`, `playbook:x` → `playbook x`. */
export function actorLabel(actor: string): string {
  if (actor.startsWith('operator:')) return actor.slice('operator:'.length)
  if (actor.startsWith('playbook:')) return `playbook ${actor.slice('playbook:'.length)}`
  if (actor.startsWith('slack:')) return `Slack user ${actor.slice('slack:'.length)}`
  return actor || 'unknown'
}

/** The avatar icon for an actor: a person, a playbook, Slack, or the system. */
export function actorIcon(actor: string): string {
  if (actor.startsWith('operator:')) return 'user'
  if (actor.startsWith('playbook:')) return 'workflow'
  if (actor.startsWith('slack:')) return 'logoSlack'
  return 'gear'
}

function stepDone(e: TimelineEntry): EntryView {
  const step = e.step ?? 'step'
  const summary = str(e.detail.summary) ?? str(e.detail.reason)
  const message = MESSAGE_STEPS[step]
  const outcome = e.outcome ?? 'done'
  if (message) {
    const title =
      outcome === 'done'
        ? `sent a ${message.channel}`
        : outcome === 'already_done'
          ? `${message.channel} already sent`
          : outcome === 'skipped'
            ? `${message.channel} skipped`
            : `${message.channel}: ${human(outcome)}`
    return { group: 'message', icon: message.icon, title, text: summary, resolution: null, tone: outcome === 'skipped' ? 'subdued' : 'transparent' }
  }
  if (outcome === 'skipped') return { group: 'step', icon: 'minusCircle', title: `step ${step} skipped`, text: summary, resolution: null, tone: 'subdued' }
  if (outcome === 'already_done') return { group: 'step', icon: 'check', title: `step ${step} was already done`, text: summary, resolution: null, tone: 'transparent' }
  return { group: 'step', icon: 'checkCircle', title: `step ${step} ${outcome === 'done' ? 'done' : human(outcome)}${attemptText(e)}`, text: summary, resolution: null, tone: 'success' }
}

/** How one timeline entry is shown. Never throws, whatever the entry holds. */
export function describeEntry(e: TimelineEntry): EntryView {
  const d = e.detail ?? {}
  const step = e.step ?? 'step'
  const base = { resolution: null, tone: 'transparent' as EntryTone }
  switch (e.kind) {
    case 'opened':
      return { ...base, group: 'alert', icon: 'securitySignalDetected', title: `opened the incident${str(d.rule) ? ` (${str(d.rule)})` : ''}`, text: str(d.summary), tone: 'primary' }
    case 'alert_attached': {
      const raised = e.outcome === 'severity_raised' && str(d.severity_from) && str(d.severity_to) ? ` — severity raised ${str(d.severity_from)} → ${str(d.severity_to)}` : ''
      const what = [str(d.rule), str(d.severity)].filter(Boolean)
      return { ...base, group: 'alert', icon: 'bell', title: `attached an alert${what.length ? `: ${what[0]}${what[1] ? ` (${what[1]})` : ''}` : ''}${raised}`, text: str(d.summary), tone: raised ? 'warning' : 'transparent' }
    }
    case 'step_attempt': {
      const message = e.step ? MESSAGE_STEPS[e.step] : undefined
      return { ...base, group: message ? 'message' : 'step', icon: 'play', title: `started step ${step}${attemptText(e, d.of)}`, text: null, tone: 'transparent' }
    }
    case 'step_done':
      return stepDone(e)
    case 'step_failed':
      return { ...base, group: e.step && MESSAGE_STEPS[e.step] ? 'message' : 'step', icon: 'warning', title: `step ${step} failed${attemptText(e)}`, text: str(d.error), tone: 'warning' }
    case 'step_dead_lettered':
      return { ...base, group: 'step', icon: 'error', title: `step ${step} gave up${attemptText(e)}`, text: str(d.note) ?? str(d.error), tone: 'danger' }
    case 'step_retried':
      return { ...base, group: 'step', icon: 'refresh', title: `retried step ${step}`, text: str(d.dead_letter_id) ? `requeued from dead letter ${str(d.dead_letter_id)}` : null, tone: 'transparent' }
    case 'run_stopped':
      return { ...base, group: 'step', icon: 'stop', title: `stopped playbook ${e.playbook ?? ''}`.trimEnd(), text: str(d.reason), tone: 'danger' }
    case 'approval_requested': {
      const parts = [str(d.expires_at) ? `expires ${str(d.expires_at)}` : null, str(d.on_timeout) ? `if nobody answers: ${str(d.on_timeout)}` : null].filter(Boolean)
      return { ...base, group: 'approval', icon: 'clock', title: `asked for approval of step ${step}`, text: parts.length ? parts.join('; ') : null, tone: 'warning' }
    }
    case 'approval_decided': {
      const note = str(d.note)
      if (e.outcome === 'approved') return { ...base, group: 'approval', icon: 'checkCircle', title: `approved step ${step}`, text: note, tone: 'success' }
      if (e.outcome === 'rejected') return { ...base, group: 'approval', icon: 'crossCircle', title: `rejected step ${step}`, text: note, tone: 'danger' }
      if (e.outcome === 'expired') {
        return { ...base, group: 'approval', icon: 'hourglass', title: `approval of step ${step} expired`, text: str(d.on_timeout) ? `nobody answered: ${str(d.on_timeout)}` : note, tone: 'warning' }
      }
      return { ...base, group: 'approval', icon: 'clock', title: `decided step ${step}: ${human(e.outcome ?? 'unknown')}`, text: note, tone: 'transparent' }
    }
    case 'status': {
      const to = str(d.to) ?? e.outcome ?? 'unknown'
      const from = str(d.from)
      const resolution = str(d.resolution)
      return {
        group: 'status',
        icon: 'flag',
        title: `changed the status ${from ? `from ${from} ` : ''}to ${to}`,
        text: str(d.note),
        resolution,
        tone: to === 'closed' || to === 'resolved' ? 'success' : 'transparent',
      }
    }
    case 'note':
      return { ...base, group: 'note', icon: 'editorComment', title: 'added a note', text: str(d.note), tone: 'transparent' }
    default:
      return { ...base, group: 'other', icon: 'dot', title: human(e.kind || 'entry'), text: str(d.summary) ?? str(d.note), tone: 'transparent' }
  }
}

/** A key that stays the same for an entry across refreshes (time, kind and place among equals). */
export function entryKeys(entries: readonly TimelineEntry[]): string[] {
  const seen = new Map<string, number>()
  return entries.map((e) => {
    const k = `${e.at}|${e.kind}|${e.step ?? ''}|${e.alert_id ?? ''}`
    const n = seen.get(k) ?? 0
    seen.set(k, n + 1)
    return n === 0 ? k : `${k}|${n}`
  })
}

export type TimelineOrder = 'oldest' | 'newest'

export interface ShownEntry {
  key: string
  entry: TimelineEntry
  view: EntryView
}

/**
 * The entries to show, in order, with their views: sorted by time (entries of one time keep
 * the server's order, which is the order they were written), then kept to `groups` when given.
 */
export function timelineRows(entries: readonly TimelineEntry[], order: TimelineOrder = 'oldest', groups?: ReadonlySet<TimelineGroup>): ShownEntry[] {
  const keys = entryKeys(entries)
  const rows = entries.map((entry, i) => ({ key: keys[i] as string, entry, view: describeEntry(entry), i, t: Date.parse(entry.at) }))
  rows.sort((a, b) => {
    const ta = Number.isNaN(a.t) ? 0 : a.t
    const tb = Number.isNaN(b.t) ? 0 : b.t
    return ta - tb || a.i - b.i
  })
  if (order === 'newest') rows.reverse()
  return rows.filter((r) => !groups || groups.size === 0 || groups.has(r.view.group)).map(({ key, entry, view }) => ({ key, entry, view }))
}

/** How many entries fall in each group: the filter buttons' counts. */
export function groupCounts(entries: readonly TimelineEntry[]): Record<TimelineGroup, number> {
  const out = Object.fromEntries(TIMELINE_GROUPS.map((g) => [g, 0])) as Record<TimelineGroup, number>
  for (const e of entries) out[describeEntry(e).group]++
  return out
}

/** The incident's resolution: the one its newest status change gave (none once it is reopened). */
export function resolutionOf(entries: readonly TimelineEntry[]): string | null {
  const last = timelineRows(entries, 'newest').find((r) => r.entry.kind === 'status')
  return last ? str(last.entry.detail?.resolution) : null
}
