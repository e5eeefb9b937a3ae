/**
 * An incident's timeline as a comment list: who, what, when, and each entry's full detail as
 * JSON behind a toggle. Filterable by group, oldest or newest first, shown 100 at a time.
 */
import {
  EuiButtonEmpty,
  EuiButtonGroup,
  EuiButtonIcon,
  EuiCodeBlock,
  EuiComment,
  EuiCommentList,
  EuiFilterButton,
  EuiFilterGroup,
  EuiFlexGroup,
  EuiFlexItem,
  EuiSpacer,
  EuiText,
  EuiToolTip,
  type EuiCommentProps,
} from '@elastic/eui'
import { useMemo, useState } from 'react'
import { useAuth } from '../auth/AuthContext.js'
import { Time } from '../components/format.js'
import { AppLink } from './common.js'
import { actorIcon, actorLabel, GROUP_LABEL, groupCounts, TIMELINE_GROUPS, timelineRows, type ShownEntry, type TimelineGroup, type TimelineOrder } from './timeline.js'
import type { TimelineEntry } from './types.js'

const SHOW_STEP = 100

function EntryBody({ row, open }: { row: ShownEntry; open: boolean }) {
  const { entry, view } = row
  const auth = useAuth()
  const facts: Array<[string, React.ReactNode]> = []
  if (entry.alert_id) facts.push(['alert', auth.can('alerts:read') ? <AppLink to={`/alerts/${entry.alert_id}`}>{entry.alert_id}</AppLink> : entry.alert_id])
  if (entry.playbook) facts.push(['playbook', entry.playbook])
  // A status entry's outcome is its new status, already in the title.
  if (entry.outcome && entry.kind !== 'status') facts.push(['outcome', entry.outcome.replace(/_/g, ' ')])
  return (
    <>
      {view.resolution ? (
        <EuiText size="s" data-test-subj="timelineResolution">
          <p>
            <strong>Resolution:</strong> {view.resolution}
          </p>
        </EuiText>
      ) : null}
      {view.text ? (
        <EuiText size="s">
          <p style={{ whiteSpace: 'pre-wrap', overflowWrap: 'anywhere' }}>{view.text}</p>
        </EuiText>
      ) : null}
      {facts.length > 0 ? (
        <EuiText size="xs" color="subdued">
          {facts.map(([k, v], i) => (
            <span key={k}>
              {i > 0 ? ' · ' : ''}
              {k} {v}
            </span>
          ))}
        </EuiText>
      ) : null}
      {open ? (
        <>
          <EuiSpacer size="s" />
          <EuiCodeBlock language="json" fontSize="s" paddingSize="s" isCopyable overflowHeight={320} data-test-subj="timelineDetail">
            {JSON.stringify(entry, null, 2)}
          </EuiCodeBlock>
        </>
      ) : null}
    </>
  )
}

export function IncidentTimeline({ entries }: { entries: readonly TimelineEntry[] }) {
  const [order, setOrder] = useState<TimelineOrder>('oldest')
  const [groups, setGroups] = useState<Set<TimelineGroup>>(new Set())
  const [open, setOpen] = useState<Set<string>>(new Set())
  const [shown, setShown] = useState(SHOW_STEP)

  const counts = useMemo(() => groupCounts(entries), [entries])
  const rows = useMemo(() => timelineRows(entries, order, groups), [entries, order, groups])
  const visible = rows.slice(0, shown)

  const toggle = <T,>(set: Set<T>, v: T): Set<T> => {
    const copy = new Set(set)
    if (copy.has(v)) copy.delete(v)
    else copy.add(v)
    return copy
  }

  const comments = visible.map((row) => {
    const { entry, view, key } = row
    const isOpen = open.has(key)
    const props: EuiCommentProps = {
      'data-test-subj': `timelineEntry-${entry.kind}`,
      username: actorLabel(entry.actor),
      timelineAvatar: actorIcon(entry.actor),
      timelineAvatarAriaLabel: actorLabel(entry.actor),
      eventIcon: view.icon,
      eventIconAriaLabel: view.group,
      eventColor: view.tone,
      event: view.title,
      timestamp: <Time iso={entry.at} />,
      actions: (
        <EuiToolTip content={isOpen ? 'Hide the raw entry' : 'Show the raw entry (JSON)'}>
          <EuiButtonIcon
            iconType="code"
            aria-label={isOpen ? 'Hide the raw entry' : 'Show the raw entry'}
            aria-expanded={isOpen}
            color={isOpen ? 'primary' : 'text'}
            onClick={() => setOpen((s) => toggle(s, key))}
            data-test-subj="timelineDetailToggle"
          />
        </EuiToolTip>
      ),
      // An entry with nothing more to say stays one line (EUI's "update" style).
      children: view.text || view.resolution || isOpen ? <EntryBody row={row} open={isOpen} /> : undefined,
    }
    return <EuiComment key={key} {...props} />
  })

  return (
    <>
      <EuiFlexGroup gutterSize="s" alignItems="center" wrap responsive={false}>
        <EuiFlexItem grow={false}>
          <EuiFilterGroup compressed aria-label="Show only">
            {TIMELINE_GROUPS.filter((g) => counts[g] > 0).map((g) => (
              <EuiFilterButton
                key={g}
                hasActiveFilters={groups.has(g)}
                isToggle
                isSelected={groups.has(g)}
                numFilters={counts[g]}
                numActiveFilters={groups.has(g) ? counts[g] : undefined}
                onClick={() => setGroups((s) => toggle(s, g))}
                data-test-subj={`timelineFilter-${g}`}
              >
                {GROUP_LABEL[g]}
              </EuiFilterButton>
            ))}
          </EuiFilterGroup>
        </EuiFlexItem>
        <EuiFlexItem grow={false}>
          <EuiButtonGroup
            legend="Order"
            buttonSize="compressed"
            idSelected={order}
            onChange={(id) => setOrder(id as TimelineOrder)}
            options={[
              { id: 'oldest', label: 'Oldest first' },
              { id: 'newest', label: 'Newest first' },
            ]}
            data-test-subj="timelineOrder"
          />
        </EuiFlexItem>
      </EuiFlexGroup>
      <EuiSpacer size="m" />
      {rows.length === 0 ? (
        <EuiText size="s" color="subdued" data-test-subj="incidentTimeline">
          <p>
            {entries.length === 0
              ? 'Nothing on the timeline yet. Alerts attached, playbook steps, approvals, messages, notes and status changes appear here as they happen.'
              : 'No entry of the chosen kinds.'}
          </p>
        </EuiText>
      ) : (
        <EuiCommentList data-test-subj="incidentTimeline" aria-label="Incident timeline" gutterSize="m">
          {comments}
        </EuiCommentList>
      )}
      {rows.length > shown ? (
        <>
          <EuiSpacer size="s" />
          <EuiButtonEmpty size="s" onClick={() => setShown((n) => n + SHOW_STEP)} data-test-subj="timelineShowMore">
            Show {Math.min(SHOW_STEP, rows.length - shown)} more of {rows.length - shown} not shown
          </EuiButtonEmpty>
        </>
      ) : null}
    </>
  )
}
