import { describe, it, expect } from 'vitest'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { loadConfig } from './config.js'
import { VigilError } from './errors.js'

const cwd = mkdtempSync(path.join(tmpdir(), 'vigil-config-'))

function errorOf(env: Record<string, string>, file?: string): string {
  try {
    loadConfig(env, { cwd, ...(file ? { file } : {}) })
  } catch (err) {
    expect(err).toBeInstanceOf(VigilError)
    expect((err as VigilError).code).toBe('config_invalid')
    return (err as Error).message
  }
  throw new Error('expected a config error')
}

describe('config', () => {
  it('has the CONTRACT §7 defaults and is frozen', () => {
    const c = loadConfig({}, { cwd })
    expect(c.dataDir).toBe(path.join(cwd, 'data'))
    expect(c.host).toBe('127.0.0.1')
    expect(c.port).toBe(8080)
    expect(c.clickhouse.url).toBeUndefined()
    expect(c.redisUrl).toBeUndefined()
    expect(c.ingest.maxEvents).toBe(10_000)
    expect(c.ingest.maxBytes).toBe(10 * 1024 * 1024)
    expect(c.publicUrl).toBe('http://127.0.0.1:8080')
    expect(c.slack.approvers).toEqual([])
    expect(c.slack.signingSecret).toBeUndefined()
    expect(Object.isFrozen(c)).toBe(true)
    expect(Object.isFrozen(c.ingest)).toBe(true)
    expect(() => {
      ;(c as { port: number }).port = 1
    }).toThrow()
  })

  it('names the setting in one line for each bad value', () => {
    const cases: Array<[Record<string, string>, string]> = [
      [{ VIGIL_PORT: 'abc' }, 'VIGIL_PORT'],
      [{ VIGIL_PORT: '70000' }, 'VIGIL_PORT'],
      [{ CLICKHOUSE_URL: 'not a url' }, 'CLICKHOUSE_URL'],
      [{ CLICKHOUSE_URL: 'ftp://x' }, 'CLICKHOUSE_URL'],
      [{ REDIS_URL: 'http://localhost' }, 'REDIS_URL'],
      [{ SLACK_API_URL: '::' }, 'SLACK_API_URL'],
      [{ SMTP_URL: 'http://mail' }, 'SMTP_URL'],
      [{ EMAIL_TO: 'ops@example.com, not-an-address' }, 'EMAIL_TO'],
      [{ VIGIL_TLS_CERT: '/nonexistent/cert.pem' }, 'VIGIL_TLS_CERT'],
      [{ VIGIL_MASTER_KEY: 'short' }, 'VIGIL_MASTER_KEY'],
      [{ VIGIL_LOG_LEVEL: 'loud' }, 'VIGIL_LOG_LEVEL'],
      [{ VIGIL_INGEST_MAX_EVENTS: '0' }, 'VIGIL_INGEST_MAX_EVENTS'],
      [{ VIGIL_HOST: 'bad host!' }, 'VIGIL_HOST'],
      [{ SLACK_APPROVERS: 'U012AB3CD, alice' }, 'SLACK_APPROVERS'],
      [{ VIGIL_PUBLIC_URL: 'ftp://vigil' }, 'VIGIL_PUBLIC_URL'],
    ]
    for (const [env, name] of cases) {
      const msg = errorOf(env)
      expect(msg).toContain(name)
      expect(msg).not.toContain('\n')
    }
  })

  it('derives the public URL from host and port unless VIGIL_PUBLIC_URL says otherwise', () => {
    expect(loadConfig({ VIGIL_HOST: '::', VIGIL_PORT: '9000' }, { cwd }).publicUrl).toBe('http://[::1]:9000')
    expect(loadConfig({ VIGIL_PUBLIC_URL: 'https://vigil.example.com/' }, { cwd }).publicUrl).toBe('https://vigil.example.com')
    expect(loadConfig({ SLACK_APPROVERS: 'U012AB3CD, W0ABCDEF1' }, { cwd }).slack.approvers).toEqual(['U012AB3CD', 'W0ABCDEF1'])
  })

  it('requires the TLS cert and key together', () => {
    const cert = path.join(cwd, 'cert.pem')
    writeFileSync(cert, 'x')
    expect(errorOf({ VIGIL_TLS_CERT: cert })).toContain('VIGIL_TLS_KEY')
  })

  it('never echoes a secret value in its error', () => {
    const msg = errorOf({ VIGIL_MASTER_KEY: 'supersecretvalue-that-is-not-a-key' })
    expect(msg).not.toContain('supersecretvalue')
  })

  it('reads vigil.yaml, and the environment wins over it', () => {
    const file = path.join(cwd, 'vigil.yaml')
    writeFileSync(file, 'VIGIL_PORT: 9090\nvigil_host: 0.0.0.0\nEMAIL_TO:\n  - a@example.com\n  - b@example.com\n')
    const c = loadConfig({}, { cwd, file })
    expect(c.port).toBe(9090)
    expect(c.host).toBe('0.0.0.0')
    expect(c.emailTo).toEqual(['a@example.com', 'b@example.com'])
    expect(loadConfig({ VIGIL_PORT: '9191' }, { cwd, file }).port).toBe(9191)
  })

  it('refuses unknown settings and malformed YAML in vigil.yaml', () => {
    const unknown = path.join(cwd, 'unknown.yaml')
    writeFileSync(unknown, 'VIGIL_PROT: 1\n')
    expect(errorOf({}, unknown)).toContain('VIGIL_PROT')
    const broken = path.join(cwd, 'broken.yaml')
    writeFileSync(broken, 'a: [1, 2\n')
    expect(errorOf({}, broken)).toContain('vigil.yaml')
  })
})
