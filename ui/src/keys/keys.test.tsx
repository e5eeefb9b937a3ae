// @vitest-environment jsdom
import { EuiProvider } from '@elastic/eui'
import { QueryClient, QueryClientProvider } from '@tanstack/react-query'
import { act, cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react'
import type { ReactNode } from 'react'
import { MemoryRouter, Route, Routes, useLocation } from 'react-router-dom'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { setSession } from '../api/client.js'
import { AuthProvider } from '../auth/AuthContext.js'
import { worldMap, type GeoLocation } from './geo.js'
import { WorldMap } from './KeyMap.js'
import { ChangeModal, KeyStatus } from './KeyStatus.js'
import { KeySearch } from './KeySearch.js'
import { FailuresTable } from './KeyTables.js'

const loc = (over: Partial<GeoLocation>): GeoLocation => ({
  country: 'DE',
  city: 'Berlin',
  lat: 52.52,
  lon: 13.4,
  count: 1,
  first_seen: '2026-11-27T00:00:00Z',
  last_seen: '2026-11-27T01:00:00Z',
  ...over,
})

/** The network as the browser sees it: answers by method and path, every request recorded. */
type Answer = { status: number; body: unknown }
let routes: Record<string, Answer | ((body: unknown) => Answer)>
let calls: Array<{ method: string; path: string; body: unknown }>

beforeEach(() => {
  routes = {}
  calls = []
  vi.stubGlobal(
    'fetch',
    vi.fn(async (input: string, init?: RequestInit) => {
      const method = init?.method ?? 'GET'
      const path = String(input)
      const body = typeof init?.body === 'string' ? JSON.parse(init.body) : undefined
      calls.push({ method, path, body })
      const route = routes[`${method} ${path}`]
      const answer = typeof route === 'function' ? route(body) : (route ?? { status: 404, body: { error: { code: 'not_found', message: 'no route' } } })
      return new Response(JSON.stringify(answer.body), { status: answer.status, headers: { 'content-type': 'application/json' } })
    }),
  )
})

afterEach(() => {
  cleanup()
  setSession(null)
  vi.unstubAllGlobals()
})

function wrap(children: ReactNode, { auth = false, at = '/' } = {}) {
  const qc = new QueryClient({ defaultOptions: { queries: { retry: false } } })
  return (
    <EuiProvider>
      <QueryClientProvider client={qc}>
        <MemoryRouter initialEntries={[at]}>{auth ? <AuthProvider>{children}</AuthProvider> : children}</MemoryRouter>
      </QueryClientProvider>
    </EuiProvider>
  )
}

function signedInAs(permissions: string[]) {
  routes['POST /v1/auth/refresh'] = { status: 200, body: { access_token: 'test-access', expires_in: 900 } }
  routes['GET /v1/auth/me'] = { status: 200, body: { kind: 'person', email: 'a@example.com', role: 'x', permissions, stage: 'full' } }
}

describe('WorldMap', () => {
  it('shades exactly the countries the key was used from and sizes points by count', () => {
    const { container } = render(
      wrap(
        <WorldMap
          locations={[
            loc({ count: 2 }),
            loc({ country: 'BR', city: 'Porto Alegre', lat: -30.03, lon: -51.24, count: 9 }),
            loc({ country: 'NG', city: 'Lagos', lat: 6.45, lon: 3.39, count: 5 }),
            loc({ country: 'JP', city: null, lat: null, lon: null, count: 1 }),
          ]}
        />,
      ),
    )
    const svg = container.querySelector('[data-test-subj="keyMap"]')
    expect(svg?.getAttribute('viewBox')).toBe('0 0 960 470')
    expect(svg?.getAttribute('aria-label')).toMatch(/3 places in 4 countries/)
    expect(container.querySelectorAll('[data-test-subj="keyMap"] path').length).toBe(worldMap().shapes.length)
    const used = [...container.querySelectorAll('path[data-used="true"]')].map((p) => p.getAttribute('data-country')).sort()
    expect(used).toEqual(['BR', 'DE', 'JP', 'NG'])
    const unused = container.querySelector('path[data-country="FR"]')
    expect(unused?.getAttribute('data-used')).toBeNull()
    expect(unused?.getAttribute('fill')).not.toBe(container.querySelector('path[data-country="DE"]')?.getAttribute('fill'))

    const points = [...container.querySelectorAll('circle[data-test-subj="keyMapPoint"]')].map((c) => ({ count: Number(c.getAttribute('data-count')), r: Number(c.getAttribute('r')) }))
    expect(points.map((p) => p.count).sort((a, b) => a - b)).toEqual([2, 5, 9])
    const byCount = [...points].sort((a, b) => a.count - b.count)
    expect(byCount[0]!.r).toBeLessThan(byCount[1]!.r)
    expect(byCount[1]!.r).toBeLessThan(byCount[2]!.r)
  })

  it('tells the place, count and first/last seen of a point under the pointer', () => {
    const { container } = render(wrap(<WorldMap locations={[loc({ count: 1234 })]} />))
    expect(screen.queryByText('Berlin, DE')).toBeNull()
    fireEvent.mouseEnter(container.querySelector('circle[data-place="DE|Berlin"]')!)
    const tip = container.querySelector('[data-test-subj="keyMapTip"]')
    expect(tip?.textContent).toMatch(/Berlin, DE/)
    expect(tip?.textContent).toMatch(/1,234 uses/)
    expect(tip?.querySelectorAll('time').length).toBe(2)
    fireEvent.mouseLeave(container.querySelector('circle[data-place="DE|Berlin"]')!)
    expect(container.querySelector('[data-test-subj="keyMapTip"]')).toBeNull()
  })
})

describe('FailuresTable', () => {
  it('expands a failure to its stored event as JSON', () => {
    const ev = { id: 'e1', ts: '2026-11-27T00:00:00Z', action: 'order.new', outcome: 'denied', reason: 'ip_not_allowed', client_ip: '2.16.0.1', http: { method: 'POST', path: '/v1/orders' }, user_agent: 'probe-agent' }
    const { container } = render(wrap(<FailuresTable failures={[ev]} />))
    expect(screen.getByText('ip_not_allowed')).toBeTruthy()
    expect(screen.getByText('POST /v1/orders')).toBeTruthy()
    expect(screen.queryByText(/probe-agent/)).toBeNull()
    fireEvent.click(container.querySelector('[data-test-subj="keyFailureExpand"]')!)
    expect(screen.getByText(/probe-agent/)).toBeTruthy()
  })

  it('says what would appear when there is nothing', () => {
    render(wrap(<FailuresTable failures={[]} />))
    expect(screen.getByText(/No failed, denied or erroneous request/)).toBeTruthy()
  })
})

describe('revoking and restoring', () => {
  it('sends nothing until a reason is given, then posts it', async () => {
    routes['POST /v1/keys/ak%2F1/revoke'] = (body) => ({ status: 200, body: { api_key_id: 'ak/1', status: 'revoked', revoked_at: '2026-11-27T00:00:00Z', reason: (body as { reason: string }).reason, incident_id: null } })
    const done = vi.fn()
    render(wrap(<ChangeModal apiKeyId="ak/1" change="revoke" onClose={() => undefined} onDone={done} />))
    const confirm = () => document.querySelector('[data-test-subj="keyConfirm"]') as HTMLButtonElement
    expect(confirm().disabled).toBe(true)
    fireEvent.change(document.querySelector('[data-test-subj="keyReason"]')!, { target: { value: '   ' } })
    expect(confirm().disabled).toBe(true)
    fireEvent.change(document.querySelector('[data-test-subj="keyReason"]')!, { target: { value: 'key posted in a public repo' } })
    expect(confirm().disabled).toBe(false)
    fireEvent.click(confirm())
    await waitFor(() => expect(done).toHaveBeenCalledWith({ ok: true, message: expect.stringMatching(/Key revoked/) }))
    expect(calls.filter((c) => c.method === 'POST')).toEqual([{ method: 'POST', path: '/v1/keys/ak%2F1/revoke', body: { reason: 'key posted in a public repo' } }])
  })

  it('hands a 409 back with the server’s message, and keeps other errors in the modal', async () => {
    routes['POST /v1/keys/k1/restore'] = { status: 409, body: { error: { code: 'key_not_revoked', message: 'The key is not revoked.' } } }
    const done = vi.fn()
    render(wrap(<ChangeModal apiKeyId="k1" change="restore" onClose={() => undefined} onDone={done} />))
    fireEvent.change(document.querySelector('[data-test-subj="keyReason"]')!, { target: { value: 'false alarm' } })
    fireEvent.click(document.querySelector('[data-test-subj="keyConfirm"]')!)
    await waitFor(() => expect(done).toHaveBeenCalledWith({ ok: false, message: 'The key is not revoked.' }))

    cleanup()
    routes['POST /v1/keys/k1/revoke'] = { status: 400, body: { error: { code: 'reason_required', message: 'A reason is required.' } } }
    const done2 = vi.fn()
    render(wrap(<ChangeModal apiKeyId="k1" change="revoke" onClose={() => undefined} onDone={done2} />))
    fireEvent.change(document.querySelector('[data-test-subj="keyReason"]')!, { target: { value: 'x' } })
    fireEvent.click(document.querySelector('[data-test-subj="keyConfirm"]')!)
    await waitFor(() => expect(document.querySelector('[data-test-subj="keyChangeError"]')?.textContent).toMatch(/A reason is required\./))
    expect(done2).not.toHaveBeenCalled()
  })

  it('shows a revoked key with its reason and incident, and Restore only to keys:write', async () => {
    routes['GET /v1/keys/ak_1'] = { status: 200, body: { api_key_id: 'ak_1', status: 'revoked', revoked_at: '2026-11-27T00:00:00Z', reason: 'impossible travel', incident_id: 'inc_9' } }
    signedInAs(['keys:read', 'keys:write'])
    const { unmount } = render(wrap(<KeyStatus apiKeyId="ak_1" accounts={['ACC-1']} scopes={['orders:write']} />, { auth: true }))
    await waitFor(() => expect(document.querySelector('[data-test-subj="keyStatus-revoked"]')).not.toBeNull())
    expect(screen.getByText('impossible travel')).toBeTruthy()
    expect(document.querySelector('[data-test-subj="keyIncident"]')?.getAttribute('href')).toBe('/incidents/inc_9')
    await waitFor(() => expect(document.querySelector('[data-test-subj="keyRestore"]')).not.toBeNull())
    expect(document.querySelector('[data-test-subj="keyRevoke"]')).toBeNull()
    expect(document.querySelector('[data-test-subj="keyScopes"]')?.textContent).toBe('orders:write')
    unmount()
    setSession(null)

    signedInAs(['keys:read'])
    render(wrap(<KeyStatus apiKeyId="ak_1" accounts={[]} scopes={[]} />, { auth: true }))
    await waitFor(() => expect(document.querySelector('[data-test-subj="keyStatus-revoked"]')).not.toBeNull())
    await waitFor(() => expect(calls.some((c) => c.path === '/v1/auth/me')).toBe(true))
    await act(async () => {
      await new Promise((r) => setTimeout(r, 50))
    })
    expect(document.querySelector('[data-test-subj="keyRestore"]')).toBeNull()
    expect(document.querySelector('[data-test-subj="keyRevoke"]')).toBeNull()
  })

  it('shows the server’s message when the status cannot be read', async () => {
    routes['GET /v1/keys/%01'] = { status: 400, body: { error: { code: 'bad_key_id', message: 'api_key_id must be 1-128 printable characters' } } }
    signedInAs(['keys:read'])
    render(wrap(<KeyStatus apiKeyId={'\u0001'} accounts={undefined} scopes={undefined} />, { auth: true }))
    await waitFor(() => expect(document.querySelector('[data-test-subj="keyStatusError"]')?.textContent).toMatch(/1-128 printable characters/))
  })
})

function Where() {
  return <output data-test-subj="where">{useLocation().pathname}</output>
}

describe('KeySearch', () => {
  const answer = {
    items: [
      { api_key_id: 'ak_1', account_id: 'ACC-7', last_seen: '2026-11-27T00:00:00Z', events_24h: 12, failures_24h: 3 },
      { api_key_id: 'ak_2', account_id: 'ACC-7', last_seen: '2026-11-27T00:00:00Z', events_24h: 1, failures_24h: 0 },
    ],
    next: null,
  }

  it('suggests the keys of a matching account as you type, and opens the one picked', async () => {
    routes['GET /v1/keys?q=&limit=20'] = { status: 200, body: { items: [], next: null } }
    routes['GET /v1/keys?q=ACC-7&limit=20'] = { status: 200, body: answer }
    render(
      wrap(
        <Routes>
          <Route path="*" element={<><KeySearch /><Where /></>} />
        </Routes>,
        { at: '/keys' },
      ),
    )
    const input = document.querySelector('[data-test-subj="keySearch"]') as HTMLInputElement
    fireEvent.focus(input)
    fireEvent.change(input, { target: { value: 'ACC-7' } })
    await waitFor(() => expect(document.querySelector('[data-test-subj="keyOption-ak_2"]')).not.toBeNull(), { timeout: 3000 })
    // Typing settles before it asks: one search for the final text, none for each keystroke.
    expect(calls.filter((c) => c.path.startsWith('/v1/keys?q=ACC')).map((c) => c.path)).toEqual(['/v1/keys?q=ACC-7&limit=20'])
    expect(screen.getByText('Account ACC-7')).toBeTruthy()
    fireEvent.click(document.querySelector('[data-test-subj="keyOption-ak_2"]')!)
    await waitFor(() => expect(document.querySelector('[data-test-subj="where"]')?.textContent).toBe('/keys/ak_2'))
  })

  it('opens the key typed when Enter is pressed with no suggestion chosen', async () => {
    routes['GET /v1/keys?q=&limit=20'] = { status: 200, body: { items: [], next: null } }
    routes['GET /v1/keys?q=ak%2Fx&limit=20'] = { status: 200, body: { items: [], next: null } }
    render(
      wrap(
        <Routes>
          <Route path="*" element={<><KeySearch /><Where /></>} />
        </Routes>,
        { at: '/keys' },
      ),
    )
    const input = document.querySelector('[data-test-subj="keySearch"]') as HTMLInputElement
    fireEvent.change(input, { target: { value: 'ak/x ' } })
    fireEvent.keyDown(input, { key: 'Enter' })
    expect(document.querySelector('[data-test-subj="where"]')?.textContent).toBe('/keys/ak%2Fx')
  })
})
