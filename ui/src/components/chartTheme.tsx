/**
 * @elastic/charts following EUI's colour mode: the chart's base theme (LIGHT_THEME / DARK_THEME)
 * and the library's stylesheet for that mode. The stylesheet is loaded as text and handed to
 * Emotion's <Global>, so it carries the page's CSP nonce like every other EUI style; only the
 * current mode's sheet is in the page (the two set the same selectors to different colours).
 */
import { DARK_THEME, LIGHT_THEME, type PartialTheme, type Theme } from '@elastic/charts'
import chartsDarkCss from '@elastic/charts/dist/theme_only_dark.css?inline'
import chartsLightCss from '@elastic/charts/dist/theme_only_light.css?inline'
import { useEuiTheme } from '@elastic/eui'
import { Global } from '@emotion/react'
import { useMemo } from 'react'
import type { Severity as SeverityName } from './format.js'

export function ChartStyles() {
  const { colorMode } = useEuiTheme()
  return <Global styles={colorMode === 'DARK' ? chartsDarkCss : chartsLightCss} />
}

export function useChartTheme(): { baseTheme: Theme; theme: PartialTheme; severityColor: Record<SeverityName, string>; failureColor: string; eventsColor: string } {
  const { euiTheme, colorMode } = useEuiTheme()
  return useMemo(() => {
    const dark = colorMode === 'DARK'
    return {
      baseTheme: dark ? DARK_THEME : LIGHT_THEME,
      theme: {
        background: { color: 'transparent' },
        chartMargins: { top: 8, right: 8, bottom: 0, left: 0 },
      },
      // The same colours the severity badges fill with (components/format.tsx SeverityBadge).
      severityColor: {
        low: euiTheme.components.badgeBackground,
        medium: euiTheme.colors.backgroundFilledWarning,
        high: euiTheme.colors.backgroundFilledAccent,
        critical: euiTheme.colors.backgroundFilledDanger,
      },
      eventsColor: euiTheme.colors.vis.euiColorVis0,
      failureColor: euiTheme.colors.backgroundFilledDanger,
    }
  }, [euiTheme, colorMode])
}
