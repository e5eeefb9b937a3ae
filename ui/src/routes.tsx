/**
 * The dashboard's pages, the permission each needs, and where they live. server/src/dashboard.ts
 * answers index.html for each of these paths (DASHBOARD_PAGES there must list every one).
 */
import { lazy, type ComponentType, type LazyExoticComponent } from 'react'

export interface PageDef {
  path: string
  /** The route pattern, sub-paths included (an optional id). */
  pattern: string
  title: string
  icon: string
  permission: string
  component: LazyExoticComponent<ComponentType>
}

export const PAGES: readonly PageDef[] = [
  { path: '/overview', pattern: '/overview', title: 'Overview', icon: 'dashboardApp', permission: 'events:read', component: lazy(() => import('./pages/OverviewPage.js')) },
  { path: '/alerts', pattern: '/alerts/:id?', title: 'Alerts', icon: 'bell', permission: 'alerts:read', component: lazy(() => import('./pages/AlertsPage.js')) },
  { path: '/incidents', pattern: '/incidents/:id?', title: 'Incidents', icon: 'securitySignalDetected', permission: 'incidents:read', component: lazy(() => import('./pages/IncidentsPage.js')) },
  { path: '/keys', pattern: '/keys/:id?', title: 'Key explorer', icon: 'key', permission: 'keys:read', component: lazy(() => import('./pages/KeysPage.js')) },
  { path: '/killswitches', pattern: '/killswitches', title: 'Kill-switches', icon: 'stopFill', permission: 'killswitches:read', component: lazy(() => import('./pages/KillSwitchesPage.js')) },
  { path: '/rules', pattern: '/rules', title: 'Rules', icon: 'list', permission: 'alerts:read', component: lazy(() => import('./pages/RulesPage.js')) },
  { path: '/reports', pattern: '/reports', title: 'Reports', icon: 'document', permission: 'reports:read', component: lazy(() => import('./pages/ReportsPage.js')) },
]
