/** A small bullet chart of an alert's baseline, actual value and threshold (shapes from evidence.ts), in EUI theme colours. */
import { EuiFlexGroup, EuiFlexItem, EuiText, useEuiTheme } from '@elastic/eui'
import { formatNumber } from '../components/format.js'
import type { EvidenceView } from './evidence.js'

const ROW = 22

export function EvidenceChart({ view }: { view: EvidenceView }) {
  const { euiTheme } = useEuiTheme()
  if (view.bars.length === 0) return null
  const threshold = view.bars.find((b) => b.kind === 'threshold')
  const over = view.thresholdOf === 'z' ? view.z !== null && view.threshold !== null && view.z >= view.threshold : view.value !== null && view.threshold !== null && view.value >= view.threshold
  const colour = (kind: string) => (kind === 'value' ? (over ? euiTheme.colors.danger : euiTheme.colors.primary) : kind === 'baseline' ? euiTheme.colors.textSubdued : euiTheme.colors.warning)
  return (
    <figure data-test-subj="alertEvidenceChart" style={{ margin: 0 }} aria-label="Baseline against the actual value">
      {view.bars.map((b) => (
        <EuiFlexGroup key={b.kind} gutterSize="s" alignItems="center" responsive={false} style={{ height: ROW }}>
          <EuiFlexItem grow={false} style={{ width: 80 }}>
            <EuiText size="xs">{b.label}</EuiText>
          </EuiFlexItem>
          <EuiFlexItem>
            <div style={{ position: 'relative', height: 12, background: euiTheme.colors.backgroundBaseSubdued, borderRadius: 2 }}>
              {b.kind === 'threshold' ? (
                <div style={{ position: 'absolute', left: `calc(${(b.at * 100).toFixed(2)}% - 1px)`, top: -3, width: 3, height: 18, background: colour(b.kind) }} />
              ) : (
                <div style={{ width: `${(b.at * 100).toFixed(2)}%`, minWidth: 2, height: '100%', background: colour(b.kind), borderRadius: 2 }} />
              )}
              {threshold && b.kind !== 'threshold' && (
                <div style={{ position: 'absolute', left: `${(threshold.at * 100).toFixed(2)}%`, top: -2, width: 1, height: 16, background: euiTheme.colors.warning }} />
              )}
            </div>
          </EuiFlexItem>
          <EuiFlexItem grow={false} style={{ width: 96, textAlign: 'right' }}>
            <EuiText size="xs">
              <strong>{formatNumber(b.value, 2)}</strong>
            </EuiText>
          </EuiFlexItem>
        </EuiFlexGroup>
      ))}
      <EuiText size="xs" color="subdued">
        <figcaption>
          {view.measure ? `${view.measure}; ` : ''}
          {view.ratio !== null ? `${formatNumber(view.ratio, 1)}× the baseline; ` : ''}
          {view.scale === 'log' ? 'logarithmic axis' : 'linear axis'}
        </figcaption>
      </EuiText>
    </figure>
  )
}
