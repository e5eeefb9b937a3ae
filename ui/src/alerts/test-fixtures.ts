/** Alerts for the Alerts page's tests, shaped like the API's. */
import type { Alert } from './types.js'

export function alert(over: Partial<Alert> & { id: string }): Alert {
  return {
    rule: 'auth.brute_force',
    severity: 'high',
    score: 70,
    status: 'open',
    entity: { type: 'api_key', id: 'ak_1' },
    api_key_id: 'ak_1',
    account_id: 'ACC-1',
    client_ip: '203.0.113.7',
    first_seen: '2026-11-27T00:10:00.000Z',
    last_seen: '2026-11-27T00:11:00.000Z',
    count: 1,
    summary: 'Key ak_1 failed 10 signatures',
    evidence: { value: 10, threshold: 5 },
    incident_id: null,
    ...over,
  }
}
