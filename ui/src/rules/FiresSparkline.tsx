/** Fires per day of one rule as a tiny bar chart: plain SVG drawn by React, coloured by the EUI theme. */
import { useEuiTheme } from '@elastic/eui'
import { sparkBars } from './shape.js'

const WIDTH = 112
const HEIGHT = 24

export function FiresSparkline({ days, ruleId }: { days: ReadonlyArray<{ day: string; count: number }>; ruleId: string }) {
  const { euiTheme } = useEuiTheme()
  const bars = sparkBars(days, WIDTH, HEIGHT)
  const total = bars.reduce((a, b) => a + b.count, 0)
  const peak = bars.reduce((a, b) => Math.max(a, b.count), 0)
  const first = days[0]?.day
  const last = days[days.length - 1]?.day
  const label = `${ruleId}: ${total} fire${total === 1 ? '' : 's'} from ${first ?? '?'} to ${last ?? '?'}, at most ${peak} a day`
  return (
    <svg width={WIDTH} height={HEIGHT} viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label={label} data-test-subj={`ruleFires-${ruleId}`}>
      <title>{label}</title>
      {bars.map((b) => (
        <rect
          key={b.day}
          x={b.x}
          y={b.y}
          width={b.width}
          height={b.height}
          rx={1}
          fill={b.count > 0 ? euiTheme.colors.vis.euiColorVis0 : euiTheme.colors.borderBaseSubdued}
        >
          <title>{`${b.day}: ${b.count}`}</title>
        </rect>
      ))}
    </svg>
  )
}
