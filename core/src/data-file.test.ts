import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { ErrorObject } from 'ajv'
import { describe, expect, it } from 'vitest'
import { describeSchemaError, formatFileProblem, listDataFiles, schemaProblems } from './data-file.js'

const err = (over: Partial<ErrorObject>): ErrorObject => ({ instancePath: '', schemaPath: '#', keyword: 'type', params: {}, ...over }) as ErrorObject
const HINTS = { '^\\d{4}-\\d{2}-\\d{2}$': 'is not a date (YYYY-MM-DD)' }

describe('describeSchemaError', () => {
  it('words pattern, required, unknown-key, enum and union errors', () => {
    expect(describeSchemaError(err({ keyword: 'pattern', instancePath: '/created', params: { pattern: '^\\d{4}-\\d{2}-\\d{2}$' }, data: '2024-1-1' }), HINTS)).toEqual({
      path: '/created',
      message: '"2024-1-1" is not a date (YYYY-MM-DD)',
    })
    expect(describeSchemaError(err({ keyword: 'required', instancePath: '/tests/0', params: { missingProperty: 'name' } }), HINTS)).toEqual({ path: '/tests/0/name', message: 'is required' })
    expect(describeSchemaError(err({ keyword: 'additionalProperties', params: { additionalProperty: 'k'.repeat(70) } }), HINTS)?.path).toBe(`/${'k'.repeat(70)}`)
    expect(describeSchemaError(err({ keyword: 'additionalProperties', params: { additionalProperty: 'k'.repeat(70) } }), HINTS, { maxKeyLength: 64 })?.path).toBe(`/${'k'.repeat(64)}`)
    expect(describeSchemaError(err({ keyword: 'anyOf', instancePath: '/severity', data: 'huge', parentSchema: { anyOf: [{ const: 'low' }, { const: 'high' }] } }), HINTS)?.message).toBe(
      '"huge" must be one of low, high',
    )
    expect(describeSchemaError(err({ keyword: 'anyOf', parentSchema: { anyOf: [{ type: 'number' }] } }), HINTS)).toEqual({
      path: '/',
      message: 'is not of an allowed form (number, string, boolean, list or map of those)',
    })
    expect(describeSchemaError(err({ keyword: 'anyOf', parentSchema: { anyOf: [{ type: 'number' }] } }), HINTS, { unionMessage: 'must be a number' })?.message).toBe('must be a number')
    expect(describeSchemaError(err({ keyword: 'minItems', params: { limit: 1 } }), HINTS)?.message).toBe('must have at least 1 item')
    expect(describeSchemaError(err({ keyword: 'minItems', params: { limit: 2 } }), HINTS)?.message).toBe('must have at least 2 items')
  })

  it('drops what another error already says, and quotes values the caller’s way', () => {
    expect(describeSchemaError(err({ keyword: 'type', schemaPath: '#/properties/v/anyOf/0/type' }), HINTS)).toBeUndefined()
    expect(describeSchemaError(err({ keyword: 'if' }), HINTS)).toBeUndefined()
    const quote = (v: unknown) => `<${String(v)}>`
    expect(describeSchemaError(err({ keyword: 'pattern', params: { pattern: '^\\d{4}-\\d{2}-\\d{2}$' }, data: 'x' }), HINTS, { quote })?.message).toBe('<x> is not a date (YYYY-MM-DD)')
  })
})

describe('schemaProblems', () => {
  it('keeps each path and message once, in order', () => {
    const required = err({ keyword: 'required', params: { missingProperty: 'id' } })
    expect(schemaProblems([required, err({ keyword: 'minLength', instancePath: '/name', params: { limit: 1 } }), required], HINTS)).toEqual([
      { path: '/id', message: 'is required' },
      { path: '/name', message: 'must not be empty' },
    ])
    expect(schemaProblems(null, HINTS)).toEqual([])
  })
})

describe('formatFileProblem', () => {
  it('prints file, path and message on one line, without a path when there is none', () => {
    expect(formatFileProblem({ file: 'rules/a.yaml', path: '/id', message: 'is required' })).toBe('rules/a.yaml: /id is required')
    expect(formatFileProblem({ file: 'rules/a.yaml', path: '', message: 'is empty' })).toBe('rules/a.yaml: is empty')
  })
})

describe('listDataFiles', () => {
  it('lists the folder’s visible files sorted, and nothing for a missing folder', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'vigil-data-file-'))
    for (const name of ['b.yaml', 'a.yaml', '.hidden.yaml']) writeFileSync(path.join(dir, name), '')
    mkdirSync(path.join(dir, 'sub'))
    expect(listDataFiles(dir)).toEqual([path.join(dir, 'a.yaml'), path.join(dir, 'b.yaml')])
    expect(listDataFiles(path.join(dir, 'missing'))).toEqual([])
    rmSync(dir, { recursive: true })
  })
})
