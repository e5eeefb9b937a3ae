import { describe, it, expect } from 'vitest'
import { ROLES, PERMISSIONS, OPERATOR_PERMISSIONS, can, isPermission, isRole, permissionsOf, type Role, type Permission } from './permissions.js'

// The rules of the brief, written independently of the table so a slip in one shows.
function expected(role: Role, p: Permission): boolean {
  if (p === 'public' || p === 'authenticated') return true
  if (p === 'source') return false
  const isRead = p.endsWith(':read')
  switch (role) {
    case 'regulator':
      return p.startsWith('reports:')
    case 'viewer':
      return isRead
    case 'analyst':
      return isRead || p === 'alerts:write' || p === 'incidents:write'
    case 'responder':
      return isRead || ['alerts:write', 'incidents:write', 'keys:write', 'killswitches:write', 'approvals:write'].includes(p)
    case 'admin':
      return true
  }
}

describe('permission table', () => {
  for (const role of ROLES) {
    for (const p of PERMISSIONS) {
      it(`${role} ${expected(role, p) ? 'may' : 'may not'} ${p}`, () => {
        expect(can(role, p)).toBe(expected(role, p))
      })
    }
  }

  it('gives admin every operator permission and no role the source marker', () => {
    expect(permissionsOf('admin')).toEqual([...OPERATOR_PERMISSIONS])
    for (const role of ROLES) expect(can(role, 'source')).toBe(false)
  })

  it('keeps viewers and regulators away from every write', () => {
    expect(permissionsOf('viewer').some((p) => !p.endsWith(':read'))).toBe(false)
    expect(permissionsOf('regulator')).toEqual(['reports:read', 'reports:write'])
  })

  it('recognises roles and permissions only from the closed lists', () => {
    expect(isRole('admin')).toBe(true)
    expect(isRole('root')).toBe(false)
    expect(isRole(undefined)).toBe(false)
    expect(isPermission('events:read')).toBe(true)
    expect(isPermission('public')).toBe(true)
    expect(isPermission('events:write')).toBe(false)
    expect(isPermission(42)).toBe(false)
  })
})
