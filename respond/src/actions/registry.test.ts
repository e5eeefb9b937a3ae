import { readFileSync, existsSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { ACTIONS, actionByType } from './index.js'
import { templateProblems, renderTemplate } from './template.js'
import { conformanceRun } from './conformance.js'

const here = path.dirname(fileURLToPath(import.meta.url))

describe('the action registry', () => {
  it('has unique snake_case types, each found by actionByType', () => {
    const types = ACTIONS.map((a) => a.type)
    expect(new Set(types).size).toBe(types.length)
    for (const a of ACTIONS) expect(actionByType(a.type)).toBe(a)
    expect(actionByType('rm_rf')).toBeUndefined()
    expect(types).toEqual(expect.arrayContaining(['open_incident', 'attach_alert', 'revoke_key', 'restore_key', 'kill_switch']))
  })

  it('every registered action has a test file that runs the conformance suite', () => {
    for (const a of ACTIONS) {
      const file = path.join(here, `${a.type.replace(/_/g, '-')}.test.ts`)
      expect(existsSync(file), `${a.type}: no ${path.basename(file)}`).toBe(true)
      expect(readFileSync(file, 'utf8'), `${a.type}: ${path.basename(file)} does not call describeActionConformance`).toMatch(
        new RegExp(`describeActionConformance\\(\\s*${a.type.replace(/_(\w)/g, (_m, c: string) => c.toUpperCase())}\\b`),
      )
    }
  })
})

describe('templates', () => {
  it('fill known fields, keep unknown ones visible, and come out as one masked, bounded line', () => {
    const { alert, secrets } = conformanceRun()
    const ctx = { alert, incident: null, playbook: 'pb', step: 0, idempotencyKey: 'k', attempt: 1, actor: 'playbook:pb', done: [] }
    expect(renderTemplate('{{ alert.rule }} on {{alert.api_key_id}} ({{incident.id}}) {{nope}}', ctx)).toBe(`auth.brute_force on ${alert.api_key_id} (-) {{nope}}`)
    const summary = renderTemplate('line1\n{{alert.summary}}', ctx)
    expect(summary).not.toMatch(/\n/)
    for (const s of secrets) expect(summary).not.toContain(s)
    expect(renderTemplate('{{alert.summary}}'.repeat(200), ctx, 50)).toHaveLength(50)
    expect(templateProblems('{{alert.rule}} {{alert.password}} {{ incident.title }}')).toEqual(['unknown template field {{alert.password}}'])
  })
})
