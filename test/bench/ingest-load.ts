/**
 * The load generator of the ingest benchmark, run as its own process so its CPU is not
 * counted as Vigil's: autocannon posting signed NDJSON batches of 1,000 events, each with
 * fresh ids and its own signature (a repeated signature would be refused as a replay).
 * Prints one JSON line with the results.
 */
import { createHmac } from 'node:crypto'
import autocannon from 'autocannon'

const [url, source, secret, durationS, connectionsS, batchS] = process.argv.slice(2)
if (!url || !source || !secret) throw new Error('usage: ingest-load <url> <source> <secret> [duration] [connections] [batch]')
const duration = Number(durationS ?? 20)
const connections = Number(connectionsS ?? 8)
const batch = Number(batchS ?? 1000)

const KEYS = Array.from({ length: 200 }, (_, i) => `key-${i}`)
const IPS = ['81.2.69.142', '2.16.0.1', '5.39.0.1', '89.160.20.112', '203.0.113.7', '8.8.8.8', '1.1.1.1', '185.60.216.35']
const SYMBOLS = ['AAPL', 'MSFT', 'VOD.L', 'SAP.DE', 'BRK.B', 'ASML.AS']
// Everything after the id, prebuilt; only the id changes per request.
const tails: string[] = Array.from({ length: batch }, (_, i) => {
  const k = KEYS[i % KEYS.length] as string
  const ev = {
    ts: '',
    action: i % 10 === 0 ? 'api.request' : 'order.new',
    outcome: 'success',
    api_key_id: k,
    account_id: `acct-${i % 50}`,
    client_ip: IPS[i % IPS.length],
    user_agent: 'trading-client/4.2 (+desk-eu)',
    scopes: ['orders:read', 'orders:write'],
    http: { method: 'POST', path: '/v1/orders', status: 201, latency_ms: 2.4, bytes_in: 220, bytes_out: 310, request_id: `r${i}` },
    order: { symbol: SYMBOLS[i % SYMBOLS.length], side: i % 2 ? 'buy' : 'sell', type: 'limit', qty: 10 + (i % 7), price: 101.25, notional: 1012.5, currency: 'USD', venue: 'XNAS', tif: 'DAY' },
  }
  return JSON.stringify(ev).slice(1) // without the opening brace
})

let seq = 0
function body(): string {
  const run = `${process.pid}-${seq++}`
  const ts = new Date().toISOString()
  let out = ''
  for (let i = 0; i < batch; i++) out += `{"id":"${run}-${i}",${(tails[i] as string).replace('"ts":""', `"ts":"${ts}"`)}\n`
  return out
}

autocannon(
  {
    url: `${url}/v1/events`,
    connections,
    duration,
    pipelining: 1,
    requests: [
      {
        method: 'POST',
        setupRequest: (req) => {
          const b = body()
          const t = String(Math.floor(Date.now() / 1000))
          const sig = createHmac('sha256', secret).update(`${t}.`).update(b).digest('hex')
          return {
            ...req,
            body: b,
            headers: { 'content-type': 'application/x-ndjson', 'vigil-source': source, 'vigil-timestamp': t, 'vigil-signature': `v1=${sig}` },
          }
        },
      },
    ],
  },
  (err, r) => {
    if (err) throw err
    const ok = r['2xx']
    process.stdout.write(
      JSON.stringify({
        duration: r.duration,
        requests2xx: ok,
        non2xx: r.non2xx,
        errors: r.errors,
        timeouts: r.timeouts,
        eventsPerSec: (ok * batch) / r.duration,
        latencyP50: r.latency.p50,
        latencyP99: r.latency.p99,
        latencyMax: r.latency.max,
        batch,
        connections,
      }) + '\n',
    )
  },
)
