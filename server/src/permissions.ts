/**
 * Roles and what each may do: the one table behind every route's access check.
 *
 * Relied on by: `app.ts`, which refuses to start when a route's `config.permission` is not
 * one of `PERMISSIONS` and checks `can(role, permission)` on every request; `tokens.ts`
 * and the CLI, which accept only `ROLES`; domain packages, which name these permissions
 * in their route config. Role names are public (CONTRACT §6): never rename one.
 */

export const ROLES = ['viewer', 'analyst', 'responder', 'admin', 'regulator'] as const
export type Role = (typeof ROLES)[number]

/** Permissions an operator's role grants. */
export const OPERATOR_PERMISSIONS = [
  'events:read',
  'alerts:read',
  'alerts:write',
  'incidents:read',
  'incidents:write',
  'keys:read',
  'keys:write',
  'killswitches:read',
  'killswitches:write',
  'approvals:write',
  'respond:admin',
  'audit:read',
  'reports:read',
  'reports:write',
  'sources:admin',
  'tokens:admin',
  'users:admin',
  'metrics:read',
  'rules:admin',
] as const
export type OperatorPermission = (typeof OPERATOR_PERMISSIONS)[number]

/**
 * Route markers that are not granted by a role:
 * `public` needs no credential at all (health); `source` means the route authenticates its caller
 * itself by HMAC (ingest's `POST /v1/events`, the control channel, Slack's interactivity
 * callbacks), so the bearer check must stay out of its way; `authenticated` needs a valid
 * credential of any role and nothing more (a person's own session: `/v1/auth/me`, enrolment).
 */
export const ROUTE_MARKERS = ['public', 'source', 'authenticated'] as const
export type RouteMarker = (typeof ROUTE_MARKERS)[number]

/** Every value a route may declare as `config.permission`. */
export const PERMISSIONS = [...OPERATOR_PERMISSIONS, ...ROUTE_MARKERS] as const
export type Permission = OperatorPermission | RouteMarker

const READ: readonly OperatorPermission[] = [
  'events:read',
  'alerts:read',
  'incidents:read',
  'keys:read',
  'killswitches:read',
  'reports:read',
  'metrics:read',
  'audit:read',
]
const ANALYST: readonly OperatorPermission[] = [...READ, 'alerts:write', 'incidents:write']
const RESPONDER: readonly OperatorPermission[] = [...ANALYST, 'keys:write', 'killswitches:write', 'approvals:write']

/**
 * The table. A regulator works with compiled reports (lists, downloads, and compiles the
 * records it is entitled to) and sees nothing else: no raw events, alerts or metrics.
 * A viewer reads everything operators read but compiles nothing; responders act on keys
 * and kill-switches; only admins manage sources, tokens and users, and switch detection rules
 * on or off (`rules:admin`).
 */
const GRANTS: Readonly<Record<Role, ReadonlySet<OperatorPermission>>> = {
  regulator: new Set<OperatorPermission>(['reports:read', 'reports:write']),
  viewer: new Set(READ),
  analyst: new Set(ANALYST),
  responder: new Set(RESPONDER),
  admin: new Set(OPERATOR_PERMISSIONS),
}

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value)
}

export function isPermission(value: unknown): value is Permission {
  return typeof value === 'string' && (PERMISSIONS as readonly string[]).includes(value)
}

/**
 * May an operator with `role` use a route that requires `permission`? Route markers are
 * not role grants: `public` is open to anyone, `authenticated` to any valid credential, and `source` routes are never opened by an
 * operator token (a source signs its requests instead).
 */
export function can(role: Role, permission: Permission): boolean {
  if (permission === 'public' || permission === 'authenticated') return true
  if (permission === 'source') return false
  return GRANTS[role].has(permission)
}

/** The operator permissions a role holds, in table order (for `tokens list` and docs). */
export function permissionsOf(role: Role): OperatorPermission[] {
  return OPERATOR_PERMISSIONS.filter((p) => GRANTS[role].has(p))
}
