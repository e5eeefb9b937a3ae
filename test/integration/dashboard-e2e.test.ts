/**
 * The SOC dashboard end to end (issue 7): a real `vigil up --demo` (the built CLI as a child
 * process, its own data dir and private Redis) and Debian's Chromium driven by playwright-core.
 *
 * A responder signs in (first sign-in enrols TOTP; the code is computed here from the secret
 * the page shows), watches the Alerts page while this test drives a brute force of its own on
 * one of the demo trading API's keys, sees that alert arrive without a reload, opens it and
 * revokes the key from the flyout. The API then says the key is revoked and the demo API's
 * guard refuses it (`revoked_key`). A viewer sees the same alert with no action buttons; a
 * regulator sees only Reports and is sent back there from /alerts. No page may log a CSP
 * violation or an uncaught error. A screenshot of each page goes to test/artifacts/screenshots/.
 *
 * Chromium: `VIGIL_CHROMIUM` or /usr/bin/chromium; `npm test` installs Debian's `chromium`
 * when it is missing (scripts/setup.sh with VIGIL_SETUP_BROWSER=1). Needs `npx turbo run
 * build` first (server/dist and ui/dist), which `npm test` runs.
 */
import { describe, it, expect, beforeAll, afterAll, onTestFailed } from 'vitest'
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import path from 'node:path'
import { chromium, selectors, type Browser, type BrowserContext, type ConsoleMessage, type Locator, type Page } from 'playwright-core'
import { Secret, TOTP } from 'otpauth'
import { createRng, FOREIGN, population } from '@vigil/demo'
import { signRequest } from '@vigil/guard'
import { exited, freePort, ROOT, tempDataDir, VIGIL_BIN } from './vigil-process.js'

const CHROMIUM = process.env.VIGIL_CHROMIUM || '/usr/bin/chromium'
const SHOTS = path.join(ROOT, 'test/artifacts/screenshots')

const dataDir = tempDataDir('vigil-dashboard-e2e-')
let child: ChildProcess | undefined
let browser: Browser | undefined
let url: string
let demoApi: string
let apiToken: string
let stderr = ''

/** People of this run: one password each, from stdin, never on a command line. */
const people = {
  responder: { email: 'rita.responder@example.com', password: `Rr-${randomBytes(12).toString('base64url')}`, role: 'responder' },
  viewer: { email: 'vic.viewer@example.com', password: `Vv-${randomBytes(12).toString('base64url')}`, role: 'viewer' },
  regulator: { email: 'reg.auditor@example.com', password: `Ra-${randomBytes(12).toString('base64url')}`, role: 'regulator' },
} as const
type Person = (typeof people)[keyof typeof people]

/**
 * The key this test attacks: one of the live demo's clean background keys. `vigil up --demo`
 * runs the simulator with seed 1 and 24 keys, and the population is the seed's alone, so the
 * id and secret are the ones the demo API holds. The last key: no demo attack names it.
 */
const victim = population(createRng(1).fork('population'), 24)[23]!
const REVOKE_REASON = 'dashboard e2e: forged signatures from Singapore'
const FORGED_SECRET = 'not-the-secret-of-this-key-0123456789abcdef'

// The alert this test raises and follows (set by the first test).
let alertId: string | undefined
let alertIncidentId: string | null = null
// The responder's browser profile, signed in by the first test and toured by the second.
let main: Session | undefined

const t0 = Date.now()
/** Where the run is, on stderr: the test log shows what a slow or failed run was doing. */
const step = (msg: string) => process.stderr.write(`dashboard-e2e +${((Date.now() - t0) / 1000).toFixed(1)}s ${msg}\n`)

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, ms: number): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const v = await probe()
    if (v !== undefined) return v
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}\n${stderr.slice(-3000)}`)
    await sleep(500)
  }
}

async function api<T>(pathname: string): Promise<T> {
  const res = await fetch(`${url}${pathname}`, { headers: { authorization: `Bearer ${apiToken}` } })
  expect(res.status, `GET ${pathname}: ${res.status}`).toBe(200)
  return (await res.json()) as T
}

/** One request to the demo trading API as `victim`'s client would send it (or a forger). */
async function demoRequest(secret: string, ip: string): Promise<{ status: number; code: string | undefined }> {
  const headers = signRequest({ keyId: victim.id, secret, method: 'GET', path: '/v1/positions' })
  const res = await fetch(`${demoApi}/v1/positions`, { headers: { ...headers, 'x-forwarded-for': ip, 'user-agent': 'dashboard-e2e/1' } })
  const body = (await res.json().catch(() => ({}))) as { error?: { code?: string } }
  return { status: res.status, code: body.error?.code }
}

/** Runs the `vigil` CLI; resolves with its stdout, rejects naming its stderr when it fails. */
function vigilAsync(args: string[], env: NodeJS.ProcessEnv, input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [VIGIL_BIN, ...args], { env, cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    p.stdout.on('data', (d: Buffer) => (out += d.toString()))
    p.stderr.on('data', (d: Buffer) => (err += d.toString()))
    p.on('error', reject)
    p.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`vigil ${args.slice(0, 2).join(' ')} exited ${code}: ${err}`))))
    p.stdin.end(input ?? '')
  })
}

/** Pids of live processes whose command line names the data dir (the private Redis does). */
function processesUsing(dir: string): number[] {
  const pids: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(dir)) pids.push(Number(entry))
    } catch {
      // gone meanwhile
    }
  }
  return pids
}

// --- the browser side ---------------------------------------------------------------------

interface Session {
  context: BrowserContext
  page: Page
  /** Console errors, uncaught errors and CSP violations seen so far, in order. */
  problems: string[]
}

/** Failed loads a signed-out page makes by design: the silent refresh without a cookie. */
function expectedFailure(msg: ConsoleMessage): boolean {
  return /Failed to load resource: the server responded with a status of 401/.test(msg.text()) && /\/v1\/auth\/refresh$/.test(msg.location().url)
}

async function openSession(): Promise<Session> {
  const context = await browser!.newContext({ baseURL: url, viewport: { width: 1440, height: 900 } })
  // Generous: a sign-in hashes a password with argon2, slow on a busy machine.
  context.setDefaultTimeout(60_000)
  const problems: string[] = []
  await context.exposeFunction('__vigilCspViolation', (v: string) => problems.push(`CSP violation: ${v}`))
  // A string, as it runs in the page (this workspace has no DOM types).
  await context.addInitScript({
    content: `document.addEventListener('securitypolicyviolation', (e) => __vigilCspViolation(e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline') + ' at ' + e.sourceFile + ':' + e.lineNumber))`,
  })
  return openTab(context, problems)
}

/** A new page in the session's browser profile (its cookies), watched for problems. */
async function openTab(context: BrowserContext, problems: string[]): Promise<Session> {
  const page = await context.newPage()
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !expectedFailure(msg)) problems.push(`console error: ${msg.text()} (${msg.location().url})`)
  })
  page.on('pageerror', (err) => problems.push(`uncaught: ${err.message}`))
  // What the page showed when its test failed, next to the other screenshots.
  onTestFailed(async ({ task }) => {
    if (!page.isClosed()) await page.screenshot({ path: path.join(SHOTS, `failed-${task.name.slice(0, 40).replace(/\W+/g, '-')}.png`), fullPage: true }).catch(() => undefined)
    step(`failed; the page was at ${page.isClosed() ? '(closed)' : page.url()}; problems: ${JSON.stringify(problems)}`)
  })
  return { context, page, problems }
}

function totpNow(secretBase32: string): string {
  return new TOTP({ secret: Secret.fromBase32(secretBase32), algorithm: 'SHA1', digits: 6, period: 30 }).generate()
}

/**
 * First sign-in of a person: password, then TOTP enrolment with a code computed from the
 * secret the page shows, then the recovery codes once. Each person signs in only once in this
 * file: a second sign-in within the same 30 s step would be refused as a reused code.
 */
async function signIn(s: Session, person: Person): Promise<void> {
  const { page } = s
  await page.goto('/')
  await page.getByTestId('loginEmail').fill(person.email)
  await page.getByTestId('loginPassword').fill(person.password)
  await page.getByTestId('loginSubmit').click()
  const shown = await page.getByTestId('enrolSecret').innerText()
  const secret = /[A-Z2-7]{16,}/.exec(shown.replace(/\s/g, ''))?.[0]
  expect(secret, 'the enrolment page shows a base32 secret').toBeDefined()
  await page.getByTestId('enrolCode').fill(totpNow(secret!))
  await page.getByTestId('enrolSubmit').click()
  const codes = await page.getByTestId('recoveryCodes').innerText()
  expect(codes.trim().split('\n').length).toBeGreaterThanOrEqual(8)
  await page.getByTestId('recoveryCodesDone').click()
  await expect.poll(() => page.getByTestId('whoami').innerText()).toContain(person.email)
}

/**
 * Waits for a page's own element (`ready`), failing clearly instead of timing out when the
 * page is still the scaffold's "Not built yet" placeholder.
 */
async function expectBuilt(page: Page, name: string, ready: Locator): Promise<void> {
  const placeholder = page.getByText('Not built yet.')
  await ready.first().or(placeholder).first().waitFor()
  expect(await placeholder.count(), `the ${name} page is not built yet (ui/src/pages still has its placeholder)`).toBe(0)
  await ready.first().waitFor()
}

async function shot(page: Page, name: string): Promise<void> {
  // Let loading indicators finish; a screenshot is an artefact, nothing is asserted on it.
  // (Not "network idle": the alerts stream keeps a request open.)
  await page.locator('.euiLoadingSpinner, .euiLoadingChart, .euiSkeletonRectangle').first().waitFor({ state: 'detached', timeout: 5_000 }).catch(() => undefined)
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true })
}

/** Goes to a page through the side navigation (no reload) and waits for `ready` on it. */
async function go(page: Page, nav: string, name: string, ready: Locator): Promise<void> {
  await page.getByTestId(`nav-${nav}`).click()
  await expect.poll(() => new URL(page.url()).pathname).toBe(`/${nav}`)
  await expectBuilt(page, name, ready)
}

async function setTheme(page: Page, mode: 'dark' | 'light'): Promise<void> {
  // A function, not a string: a string would be eval'd in the page, which its CSP refuses.
  const stored = () => (globalThis as unknown as { localStorage: { getItem(k: string): string | null } }).localStorage.getItem('vigil.theme')
  const current = async () => ((await page.evaluate(stored)) === 'light' ? 'light' : 'dark')
  if ((await current()) !== mode) await page.getByTestId('themeToggle').click()
  await expect.poll(current).toBe(mode)
}

const ACTION_BUTTONS = ['alertAcknowledge', 'alertResolve', 'alertFalsePositive', 'alertOpenIncident', 'alertAttachIncident', 'alertRevokeKey'] as const

// --- set-up and tear-down -----------------------------------------------------------------

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM}. \`npm test\` installs Debian's chromium when it is missing (scripts/setup.sh with VIGIL_SETUP_BROWSER=1); or set VIGIL_CHROMIUM to a Chromium binary.`)
  }
  if (!existsSync(path.join(ROOT, 'ui/dist/index.html'))) throw new Error('ui/dist is not built: run `npx turbo run build` (npm test does)')
  rmSync(SHOTS, { recursive: true, force: true })
  mkdirSync(SHOTS, { recursive: true })
  selectors.setTestIdAttribute('data-test-subj')

  const env: NodeJS.ProcessEnv = { ...process.env, VIGIL_DATA_DIR: dataDir, VIGIL_LOG_LEVEL: 'info' }
  // A private Redis, as `vigil up --demo` gives a new user: the test run's shared one carries other tests' queues.
  delete env.REDIS_URL
  step('starting vigil up --demo')
  const port = await freePort()
  child = spawn(process.execPath, [VIGIL_BIN, 'up', '--demo', '--json'], { env: { ...env, VIGIL_PORT: String(port) }, cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString()
  })
  let stdout = ''
  child.stdout!.on('data', (d: Buffer) => {
    stdout += d.toString()
  })
  const up = await waitFor(
    'vigil up --demo to print its JSON line',
    async () => {
      if (child!.exitCode !== null) throw new Error(`vigil up --demo exited ${child!.exitCode}: ${stderr.slice(-2000)}`)
      const line = stdout.split('\n').find((l) => l.startsWith('{'))
      return line ? (JSON.parse(line) as { url: string; demo_api: string }) : undefined
    },
    90_000,
  )
  step(`vigil up --demo is up at ${up.url}; adding a token and three people, starting Chromium`)
  url = up.url
  demoApi = up.demo_api
  // Through vigil up's admin socket, all at once (each CLI start is seconds on a busy machine).
  const [token] = await Promise.all([
    vigilAsync(['tokens', 'create', '--role', 'viewer', '--name', 'dashboard-e2e', '--json'], env),
    ...Object.values(people).map((p) => vigilAsync(['users', 'add', p.email, '--role', p.role, '--password-stdin', '--json'], env, `${p.password}\n`)),
    chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'] }).then((b) => (browser = b)),
  ])
  apiToken = (JSON.parse(token as string) as { token: string }).token
  step('ready')
}, 300_000)

afterAll(async () => {
  // Bounded: on a machine at load 10+ Chromium can take longer to close than a hook may.
  await Promise.race([browser?.close().catch(() => undefined), sleep(15_000)])
  if (child && child.exitCode === null && child.signalCode === null) {
    child.kill('SIGKILL')
    await exited(child)
  }
  rmSync(dataDir, { recursive: true, force: true })
}, 60_000)

// --- the tests ----------------------------------------------------------------------------

describe('the dashboard in Chromium against vigil up --demo', () => {
  it('a responder sees an attack arrive live, opens it and revokes the key; the API and the guard agree', async () => {
    // The key works before the attack: its secret is the one the demo API holds.
    expect(await demoRequest(victim.secret, victim.ip)).toMatchObject({ status: 200 })

    const s = await openSession()
    main = s
    const { page } = s
    await signIn(s, people.responder)
    step('responder signed in')
    expect(new URL(page.url()).pathname).toBe('/overview')
    await expectBuilt(page, 'Overview', page.getByTestId('overviewAlertsInRange'))
    expect(await page.getByTestId('overviewError').count(), 'the overview loaded').toBe(0)
    await setTheme(page, 'dark')
    await shot(page, 'overview-dark')
    await setTheme(page, 'light')
    await shot(page, 'overview-light')
    await setTheme(page, 'dark')

    await go(page, 'alerts', 'Alerts', page.getByTestId('alertsGrid'))
    // The alerts stream is connected before the attack starts.
    await page.locator('[data-test-subj="alertsLive"][data-live-status="live"]').waitFor()
    // Survives only as long as this document does: a reload or a full navigation drops it.
    await page.evaluate(() => ((globalThis as unknown as { __vigilMarker: string }).__vigilMarker = 'no-reload'))

    step('alerts page live; attacking')
    // The attack: 12 forged signatures on the key from one address abroad, past
    // auth.brute_force's 10 in five minutes, short of the critical bar that would revoke it.
    for (let i = 0; i < 12; i++) expect(await demoRequest(FORGED_SECRET, FOREIGN.sg.ip)).toMatchObject({ status: 401, code: 'bad_signature' })

    const alert = await waitFor(
      `an auth.brute_force alert on ${victim.id}`,
      async () => {
        const { items } = await api<{ items: Array<{ id: string; rule: string; severity: string; incident_id: string | null }> }>(`/v1/alerts?api_key_id=${victim.id}&rule=auth.brute_force&limit=10`)
        return items[0]
      },
      60_000,
    )
    step(`alert ${alert.id} is in the API`)
    expect(alert.severity).toBe('high')
    alertId = alert.id

    // It arrives in the open grid by itself.
    const row = page.getByTestId(`openAlert-${alert.id}`)
    await row.first().waitFor({ timeout: 30_000 })
    expect(await page.evaluate(() => (globalThis as unknown as { __vigilMarker?: string }).__vigilMarker), 'the page was not reloaded').toBe('no-reload')
    await shot(page, 'alerts-dark')
    await setTheme(page, 'light')
    await shot(page, 'alerts-light')
    await setTheme(page, 'dark')

    step('alert arrived in the grid')
    await row.first().click()
    const flyout = page.getByTestId('alertFlyout')
    await flyout.waitFor()
    await expect.poll(() => flyout.getByTestId('alertFlyoutRule').innerText()).toContain('auth.brute_force')
    await expect.poll(() => flyout.getByTestId('alertFlyoutKey').innerText()).toContain(victim.id)
    await flyout.getByTestId('keyStatus-active').waitFor()
    // A responder may act on it.
    await flyout.getByTestId('alertAcknowledge').waitFor()
    await shot(page, 'alert-flyout')

    await flyout.getByTestId('alertRevokeKey').click()
    await page.getByTestId('revokeReason').fill(REVOKE_REASON)
    await page.getByTestId('revokeConfirm').click()
    await flyout.getByTestId('keyStatus-revoked').waitFor()
    await shot(page, 'alert-flyout-revoked')

    step('revoked in the dashboard')
    // The API says so, naming the reason given in the dashboard…
    const key = await api<{ api_key_id: string; status: string; reason: string | null; revoked_at: string | null }>(`/v1/keys/${victim.id}`)
    expect(key).toMatchObject({ api_key_id: victim.id, status: 'revoked', reason: REVOKE_REASON })
    expect(Date.parse(key.revoked_at ?? '')).toBeGreaterThan(0)
    // …and the demo trading API's guard refuses the key's own correctly signed requests.
    const refused = await waitFor(
      'the guard to refuse the revoked key',
      async () => {
        const r = await demoRequest(victim.secret, victim.ip)
        return r.status === 200 ? undefined : r
      },
      10_000,
    )
    expect(refused).toEqual({ status: 401, code: 'revoked_key' })

    expect(await page.evaluate(() => (globalThis as unknown as { __vigilMarker?: string }).__vigilMarker), 'still the same document').toBe('no-reload')
    expect(s.problems).toEqual([])
    alertIncidentId = (await api<{ incident_id: string | null }>(`/v1/alerts/${alert.id}`)).incident_id
    await page.close()
  }, 240_000)

  it('every page renders for the responder without CSP violations or uncaught errors (screenshots)', async () => {
    expect(main, 'the responder signed in in the first test').toBeDefined()
    // A new tab of the same browser profile: the refresh cookie signs it in, no second TOTP.
    const s = await openTab(main!.context, main!.problems)
    const { page } = s
    await page.goto('/overview')
    await page.getByTestId('whoami').waitFor()

    await go(page, 'incidents', 'Incidents', page.getByTestId('incidentsTable'))
    await shot(page, 'incidents')
    const incidentId = alertIncidentId ?? (await api<{ items: Array<{ id: string }> }>('/v1/incidents?limit=1')).items[0]?.id
    expect(incidentId, 'the demo or the high_alert playbook opened an incident').toBeDefined()
    const incident = await api<{ id: string; title: string }>(`/v1/incidents/${incidentId}`)
    await page.goto(`/incidents/${incident.id}`)
    await expectBuilt(page, 'Incident', page.getByText(incident.title))
    await shot(page, 'incident')

    await go(page, 'keys', 'Key explorer', page.getByTestId('keySearch'))
    await shot(page, 'keys')
    await page.goto(`/keys/${victim.id}`)
    await expectBuilt(page, 'Key', page.getByTestId('keyMap'))
    await page.getByText(victim.id).first().waitFor()
    await shot(page, 'key')

    await go(page, 'killswitches', 'Kill-switches', page.getByTestId('killswitchTripped'))
    await page.getByTestId('killswitchTrip').waitFor()
    await shot(page, 'killswitches')

    await go(page, 'rules', 'Rules', page.getByTestId('rulesTable'))
    await page.getByText('auth.brute_force').first().waitFor()
    await shot(page, 'rules')

    await go(page, 'reports', 'Reports', page.getByTestId('reportsTable'))
    await shot(page, 'reports')

    expect(s.problems).toEqual([])
    await page.close()
  }, 240_000)

  it('a viewer sees the alert with no action buttons', async () => {
    expect(alertId, 'the first test raised an alert').toBeDefined()
    const s = await openSession()
    const { page } = s
    await signIn(s, people.viewer)
    await go(page, 'alerts', 'Alerts', page.getByTestId('alertsGrid'))
    await page.getByTestId(`openAlert-${alertId}`).first().click()
    const flyout = page.getByTestId('alertFlyout')
    await flyout.waitFor()
    await expect.poll(() => flyout.getByTestId('alertFlyoutKey').innerText()).toContain(victim.id)
    await flyout.getByTestId('keyStatus-revoked').waitFor()
    await shot(page, 'alert-flyout-viewer')
    for (const b of ACTION_BUTTONS) expect(await page.getByTestId(b).count(), `${b} is not shown to a viewer`).toBe(0)
    expect(s.problems).toEqual([])
    await s.context.close()
  }, 120_000)

  it('a regulator lands on Reports, sees only Reports, and is sent back there from /alerts', async () => {
    const s = await openSession()
    const { page } = s
    await signIn(s, people.regulator)
    await expect.poll(() => new URL(page.url()).pathname).toBe('/reports')
    await expectBuilt(page, 'Reports', page.getByTestId('reportsTable'))
    const nav = await page.locator('[data-test-subj^="nav-"]').evaluateAll((els) => els.map((e) => e.getAttribute('data-test-subj')))
    expect(nav).toEqual(['nav-reports'])
    await shot(page, 'reports-regulator')

    await page.goto('/alerts')
    await page.getByTestId('whoami').waitFor()
    await expect.poll(() => new URL(page.url()).pathname).toBe('/reports')
    expect(await page.getByTestId('alertsGrid').count()).toBe(0)
    expect(s.problems).toEqual([])
    await s.context.close()
  }, 120_000)

  it('SIGTERM stops vigil up --demo with exit code 0 and leaves nothing running', async () => {
    await main?.context.close()
    await browser?.close()
    browser = undefined
    child!.kill('SIGTERM')
    expect(await exited(child!), stderr.slice(-3000)).toBe(0)
    await waitFor('no process on the data dir', async () => (processesUsing(dataDir).length === 0 ? true : undefined), 10_000)
  }, 60_000)
})
