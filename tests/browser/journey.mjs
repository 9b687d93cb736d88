#!/usr/bin/env node
// The web UI's journey in a real browser: headless Chromium (Debian's /usr/bin/chromium,
// driven by playwright-core) on "the Nuxt app", a small h3 app that behaves as the Neptun app
// does with nuxt-auth-utils 0.5, with every credential route of the app rewritten to the
// function (the real `neptun serve` binary in SESSION_FORMAT=nuxt). Run by tests/browser.rs:
//
//   NEPTUN_BIN=target/debug/neptun node tests/browser/journey.mjs
//
// What the stand-in does as the app does:
// - its login and sign-up pages POST {email, password[, confirmPassword]} to
//   /api/auth/login and /api/auth/sign-up, and its account page PATCHes /api/users/{id}; its
//   proxy sends all three to the function (a Vercel rewrite, an nginx location);
// - its session endpoint GET /api/_auth/session runs the app's server plugin, which re-seals
//   {user, loggedInAt: now} through replaceUserSession on every fetch (h3 re-reads the
//   request's cookie, so the session's id, createdAt and other keys survive; the re-sealed
//   cookie has no Max-Age), and its client fetches the session on every page load and after
//   every sign-in, sign-up and account update;
// - its sign-out is nuxt-auth-utils' clear(): DELETE /api/_auth/session, which leaves an
//   empty `neptun-session=` cookie; the next page load's fetch turns that into a session
//   without a user;
// - its forms show a refusal's zod issues under the fields by path[0], and its message.
// It also keeps the app's own login from before the switch (POST /app-login, setUserSession
// without a password check), whose unstamped sessions the function refuses by default.
//
// Every server listens on 127.0.0.1, on a port the OS chose. The browser reaches them under
// names below `.localhost`, which Chromium maps to 127.0.0.1 here (--host-resolver-rules), so
// that hosts, origins and sites differ as they do in a deployment:
//
//   app.neptun.localhost     the Nuxt app; its proxy mounts the function's routes, keeps Host
//   www.neptun.localhost     the same app behind a proxy that rewrites Host to the function's
//                            (an nginx `proxy_pass` default): its origin is in ALLOWED_ORIGINS
//   beta.neptun.localhost    the same again, rewriting Host, origin NOT listed: the control
//   legacy.neptun.localhost  the app in front of a second function that runs with
//                            NUXT_UNSTAMPED_SESSIONS=accept (sign-in still the app's own)
//   api.neptun.localhost     the function's own host (the `neptun serve` port)
//   admin.neptun.localhost   a second site of the same owner, listed in ALLOWED_ORIGINS
//   blog.neptun.localhost    a sibling site, same site but not listed
//   evil.localhost           another site altogether, not listed
//
// Why those names: Chromium treats http://*.localhost as potentially trustworthy, so it
// stores Secure cookies over plain http there, and the function keeps its default
// COOKIE_SECURE=true (h3's session cookie is Secure too). On 127.0.0.1 with ports alone every
// server would be one cookie host and one site (cookies ignore ports), which a deployment
// never is. And the cookie is SameSite=Lax: a browser sends it with a cross-origin fetch only
// when both origins are of one site (admin.neptun.localhost -> api.neptun.localhost), so an
// allowed origin of another site could never call with credentials anyway.
//
// Exit status 0 when every step passed; the last line says `browser-journey: N passed, N
// failed, N skipped` (steps after the first failure are skipped: each builds on the last).

import { spawn } from 'node:child_process'
import fs from 'node:fs'
import http from 'node:http'
import readline from 'node:readline'
import { defu } from 'defu'
import {
  createApp,
  createError,
  createRouter,
  defineEventHandler,
  readBody,
  setResponseHeader,
  toNodeListener,
  unsealSession,
  useSession,
} from 'h3'
import { chromium } from 'playwright-core'

const CHROMIUM = process.env.NEPTUN_CHROMIUM || '/usr/bin/chromium'
const NAME = 'neptun-session'
// The Nuxt app's NUXT_SESSION_PASSWORD, shared with the function (a test value).
const PASSWORD = 'browser-journey-nuxt-session-password-0001'
// The session code of nuxt-auth-utils 0.5: useSession with these options (no maxAge, as the
// app sets none).
const SESSION = { name: NAME, password: PASSWORD, cookie: { sameSite: 'lax' } }
// Users the function starts with (`serve --seed`, ids 1 and 2), which the app's own login
// (before the switch) also knows.
const SEEDS = {
  'user@example.com': { id: 1, password: 'user-password-1' },
  'other@example.com': { id: 2, password: 'other-password-2' },
}
// The account the journey signs up, and what it changes to: passwords the app's rules accept.
const ADA = { email: 'ada@example.com', password: 'Quartz-lamp-88' }
const COUNTESS = { email: 'countess@example.com', password: 'Granite-kite-47' }
const GRACE = { email: 'grace@example.com', password: 'Velvet-harbor-31' }
const NO_UPPERCASE = 'Password must contain at least one uppercase letter'
const WAIT_MS = 10_000 // any one wait: a request, a page load, a click's effect
const JOURNEY_MS = 240_000 // the whole run
const WEEK_S = 604_800 // the function's default SESSION_TTL_SECONDS

// The function's answers the journey expects, exactly (docs/contract.md).
const UNAUTHORIZED = { statusCode: 401, statusMessage: 'Unauthorized.', message: 'Unauthorized' }
const BAD_LOGIN = { statusCode: 401, statusMessage: 'Unauthorized.', message: 'Invalid email or password.' }
const NOT_YOURS = { statusCode: 403, statusMessage: 'Forbidden.', message: 'You do not have access to this resource.' }
const SIGNED_IN_LOGIN = {
  statusCode: 403,
  statusMessage: 'Forbidden.',
  message: 'Please log out before logging in as a different user.',
}
const SIGNED_IN_SIGN_UP = {
  statusCode: 403,
  statusMessage: 'Forbidden.',
  message: 'Please log out before creating a new account.',
}
const TAKEN = { statusCode: 409, statusMessage: 'Conflict.', message: 'A user with this email already exists.' }
const passwordIssue = (message) => ({ code: 'custom', validation: 'custom', message, path: ['password'] })

// ---------------------------------------------------------------------------------------
// Small helpers

function fail(message) {
  throw new Error(message)
}

function expectEqual(actual, expected, what) {
  const a = JSON.stringify(actual)
  const e = JSON.stringify(expected)
  if (a !== e) fail(`${what}: expected ${e}, got ${a}`)
}

function expectTrue(condition, what) {
  if (!condition) fail(what)
}

// An object with its keys sorted, to compare JSON objects whatever order their keys came in.
function sorted(value) {
  if (Array.isArray(value)) return value.map(sorted)
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.keys(value).sort().map((key) => [key, sorted(value[key])]))
  }
  return value
}

function expectSame(actual, expected, what) {
  expectEqual(sorted(actual), sorted(expected), what)
}

async function within(ms, what, promise) {
  let timer
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

function listen(server) {
  return within(
    WAIT_MS,
    'a server to listen',
    new Promise((resolve, reject) => {
      server.once('error', reject)
      server.listen(0, '127.0.0.1', () => resolve(server.address().port))
    }),
  )
}

async function closeServer(server) {
  server.closeAllConnections?.()
  await within(WAIT_MS, 'a server to close', new Promise((resolve) => server.close(() => resolve())))
}

// The neptun-session value a Set-Cookie header list carries, or undefined.
function sessionFromSetCookie(setCookies) {
  const header = [setCookies ?? []].flat().find((h) => h.startsWith(`${NAME}=`))
  return header && { value: decodeURIComponent(header.slice(NAME.length + 1).split(';', 1)[0]), header }
}

// The neptun-session value a Cookie request header carries ('' for `neptun-session=`), or
// undefined.
function sessionFromCookieHeader(header) {
  for (const pair of (header ?? '').split(';')) {
    const at = pair.indexOf('=')
    if (at > 0 && pair.slice(0, at).trim() === NAME) return decodeURIComponent(pair.slice(at + 1).trim())
  }
  return undefined
}

// What h3 reads from a sealed value (throws when it cannot: wrong password, tampered...).
function unseal(value) {
  return unsealSession(undefined, SESSION, value)
}

// A Set-Cookie header with the value left out, for messages.
function redacted(header) {
  return header.replace(/=Fe26[^;]*/, '=…')
}

// ---------------------------------------------------------------------------------------
// The function: `neptun serve` on 127.0.0.1:0

async function startFunction(bin, { allowedOrigins = [], env: extra = {} } = {}) {
  const env = { ...process.env }
  // Only this run's settings: nothing inherited may change the cookie, the secrets or the
  // rules the journey checks.
  for (const name of Object.keys(env)) {
    if (/^(SESSION_|NUXT_|COOKIE_|ALLOWED_ORIGINS$|PASSWORD_RULES$|REQUIRE_CURRENT_PASSWORD$|USER_ID_FLOOR$)/.test(name)) {
      delete env[name]
    }
  }
  Object.assign(env, { SESSION_FORMAT: 'nuxt', NUXT_SESSION_PASSWORD: PASSWORD, RUST_LOG: 'info' }, extra)
  if (allowedOrigins.length > 0) env.ALLOWED_ORIGINS = allowedOrigins.join(',')
  const args = ['serve', '--addr', '127.0.0.1:0']
  for (const [email, user] of Object.entries(SEEDS)) args.push('--seed', `${email}:${user.password}`)
  const child = spawn(bin, args, { env, stdio: ['ignore', 'pipe', 'pipe'] })
  const fn = { child, stderr: '', seeds: [] }
  child.stderr.on('data', (chunk) => {
    fn.stderr = (fn.stderr + chunk).slice(-20_000)
  })
  fn.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)))
  const lines = readline.createInterface({ input: child.stdout })
  const listening = within(
    30_000,
    'the function to print {"listening": url}',
    new Promise((resolve, reject) => {
      child.once('error', reject)
      fn.exited.then((status) => reject(new Error(`the function exited (${status}) before listening`)))
      lines.on('line', (line) => {
        let message
        try {
          message = JSON.parse(line)
        } catch {
          return reject(new Error(`the function printed a line that is not JSON: ${line.slice(0, 200)}`))
        }
        if (message.listening) resolve(message.listening)
        else if (message.user) fn.seeds.push(message.user)
      })
    }),
  )
  try {
    fn.url = await listening
  } catch (error) {
    child.kill('SIGKILL')
    throw new Error(`${error.message}; its stderr:\n${fn.stderr}`)
  }
  const { port } = new URL(fn.url)
  fn.port = Number(port)
  return fn
}

async function stopFunction(fn) {
  if (fn.child.exitCode !== null || fn.child.signalCode !== null) return
  fn.child.kill('SIGTERM')
  try {
    await within(5_000, 'the function to stop', fn.exited)
  } catch {
    fn.child.kill('SIGKILL')
    await within(5_000, 'the function to die', fn.exited)
  }
}

// ---------------------------------------------------------------------------------------
// The Nuxt app: h3, with nuxt-auth-utils' session code and the app's server plugin, and the
// function mounted under its host by a forwarding proxy

// One page for the app's log-in, sign-up and account pages, so that a test can use any of
// them without a navigation (which would fetch the session once more). Its script does what
// the app's pages and useUserSession() do; `#result` reports each action's main request.
const APP_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Neptun</title></head>
<body>
<h1>Neptun</h1>
<p id="who">Not signed in</p>
<p id="toast"></p>
<h2>Log In</h2>
<form id="login" novalidate>
  <input name="email" type="email" autocomplete="email"><ul id="login-email-errors"></ul>
  <input name="password" type="password"><ul id="login-password-errors"></ul>
  <button>Login with Password</button>
</form>
<h2>Sign Up</h2>
<form id="sign-up" novalidate>
  <input name="email" type="email" autocomplete="email"><ul id="sign-up-email-errors"></ul>
  <input name="password" type="password"><ul id="sign-up-password-errors"></ul>
  <input name="confirmPassword" type="password"><ul id="sign-up-confirmPassword-errors"></ul>
  <button>Create with Password</button>
</form>
<h2>Account</h2>
<form id="account" novalidate>
  <input name="email" type="email"><ul id="account-email-errors"></ul>
  <input name="password" type="password"><ul id="account-password-errors"></ul>
  <input name="confirmPassword" type="password"><ul id="account-confirmPassword-errors"></ul>
  <button>Update</button>
</form>
<form id="sign-out"><button>Logout</button></form>
<form id="refresh"><button>Reload the session</button></form>
<h2>The app's own sign-in, from before the switch</h2>
<form id="app-login" novalidate><input name="email" type="email"> <button>Sign in</button></form>
<output id="result" data-seq="0"></output>
<script type="module">
const WAIT = ${WAIT_MS}
const result = document.getElementById('result')
const toast = document.getElementById('toast')
let user = null
let seq = 0

function show() {
  document.getElementById('who').textContent = user ? 'Signed in as ' + user.primary_email : 'Not signed in'
}
// useUserSession().fetch(): the app's session endpoint, which re-seals the session.
async function fetchSession() {
  const response = await fetch('/api/_auth/session', { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(WAIT) })
  const session = response.ok ? await response.json() : null
  user = session?.user ?? null
  show()
  // The account page's address field starts as the session's address.
  document.querySelector('#account [name=email]').value = user?.primary_email ?? ''
  return session
}
// $fetch(url, { method, body }): JSON in, the answer as text.
async function send(method, url, body) {
  const response = await fetch(url, {
    method,
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(WAIT),
  })
  return { status: response.status, body: await response.text() }
}
// A refusal as the app's forms show it: each issue's message under its field (by path[0]),
// and a toast.
function showErrors(form, outcome) {
  for (const list of document.querySelectorAll('#' + form + ' ul')) list.replaceChildren()
  toast.textContent = ''
  if (outcome.status < 400) return
  let error = {}
  try {
    error = JSON.parse(outcome.body)
  } catch {}
  for (const issue of error?.data?.issues ?? []) {
    const list = document.getElementById(form + '-' + issue.path[0] + '-errors')
    if (!list) continue
    const item = document.createElement('li')
    item.textContent = issue.message
    list.append(item)
  }
  toast.textContent = outcome.status + ' ' + (error?.message ?? '')
}
function on(id, action) {
  document.getElementById(id).addEventListener('submit', async (event) => {
    event.preventDefault()
    const n = ++seq
    let outcome
    try {
      outcome = await action(new FormData(event.target))
    } catch (error) {
      outcome = { error: String(error) }
    }
    result.textContent = JSON.stringify(outcome)
    result.dataset.seq = String(n)
  })
}
// The log-in and sign-up pages: on success the session is fetched (and so re-sealed).
on('login', async (form) => {
  const outcome = await send('POST', '/api/auth/login', { email: form.get('email'), password: form.get('password') })
  showErrors('login', outcome)
  if (outcome.status === 200) await fetchSession()
  return outcome
})
on('sign-up', async (form) => {
  const body = { email: form.get('email'), password: form.get('password'), confirmPassword: form.get('confirmPassword') }
  const outcome = await send('POST', '/api/auth/sign-up', body)
  showErrors('sign-up', outcome)
  if (outcome.status === 200) await fetchSession()
  return outcome
})
// The account page: useUser().updateUser sends the trimmed address and password (empty ones
// left out), then the page fetches the session, whatever the answer.
on('account', async (form) => {
  if (!user) return { error: 'not signed in' }
  const email = String(form.get('email')).trim() || undefined
  const password = String(form.get('password')).trim() || undefined
  const outcome = await send('PATCH', '/api/users/' + user.id, { email, password })
  await fetchSession()
  showErrors('account', outcome)
  return outcome
})
// useUserSession().clear()
on('sign-out', async () => {
  const outcome = await send('DELETE', '/api/_auth/session')
  user = null
  show()
  return outcome
})
// A client-side load: the app's client fetches the session.
on('refresh', async () => ({ session: await fetchSession() }))
on('app-login', async (form) => {
  const outcome = await send('POST', '/app-login', { email: form.get('email') })
  if (outcome.status === 200) await fetchSession()
  return outcome
})
// Every page load fetches the session; the page is ready once it knows it.
fetchSession().finally(() => { document.body.dataset.ready = 'yes' })
</script>
</body></html>
`

// nuxt-auth-utils 0.5's server utilities, as its source has them, over h3's useSession.
async function getUserSession(event) {
  const session = await useSession(event, SESSION)
  return { ...session.data, id: session.id }
}

async function setUserSession(event, data) {
  const session = await useSession(event, SESSION)
  await session.update(defu(data, session.data))
  return session.data
}

async function replaceUserSession(event, data) {
  const session = await useSession(event, SESSION)
  // clear() forgets the request's session; update() then reads the request's cookie again,
  // so the session's id, createdAt and other keys come back, and `data` goes over them.
  await session.clear()
  await session.update(data)
  return session.data
}

async function clearUserSession(event) {
  const session = await useSession(event, SESSION)
  await session.clear()
  return true
}

// The app's server plugin (server/plugins/session.ts): the session fetch hook.
async function onSessionFetch(session, event) {
  await replaceUserSession(event, { user: session.user, loggedInAt: new Date() })
}

function nuxtApp() {
  const app = createApp()
  const router = createRouter()
  router.get(
    '/',
    defineEventHandler((event) => {
      setResponseHeader(event, 'content-type', 'text/html; charset=utf-8')
      return APP_PAGE
    }),
  )
  // nuxt-auth-utils' session endpoint: GET answers the session as the request had it, after
  // the fetch hook (called for any non-empty session; getUserSession always adds the id).
  router.get(
    '/api/_auth/session',
    defineEventHandler(async (event) => {
      const session = await getUserSession(event)
      if (Object.keys(session).length > 0) await onSessionFetch(session, event)
      const { secure, ...data } = session
      return data
    }),
  )
  router.delete(
    '/api/_auth/session',
    defineEventHandler(async (event) => {
      await clearUserSession(event)
      return { loggedOut: true }
    }),
  )
  // The app's own login from before the switch: setUserSession(event, {user, loggedInAt}),
  // which merges into whatever session the browser had (the real one checked the password
  // against the app's database; this one trusts the address).
  router.post(
    '/app-login',
    defineEventHandler(async (event) => {
      const { email } = (await readBody(event)) ?? {}
      const user = SEEDS[email]
      if (!user) throw createError({ statusCode: 401, statusMessage: 'Unknown user' })
      return setUserSession(event, { user: { id: user.id, primary_email: email }, loggedInAt: new Date() })
    }),
  )
  // The session as every other route of the app reads it (getUserSession, no hook).
  router.get(
    '/me',
    defineEventHandler(async (event) => {
      const session = await useSession(event, SESSION)
      return { id: session.id, createdAt: event.context.sessions[NAME].createdAt, data: session.data }
    }),
  )
  app.use(router)
  return toNodeListener(app)
}

// Headers a proxy never forwards (RFC 9110 §7.6.1); everything else passes as it came.
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
])

function withoutHopByHop(headers) {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !HOP_BY_HOP.has(name)))
}

// Forwards one request to the function: method, path, headers (Cookie, Origin,
// Sec-Fetch-Site, Content-Type...) and body; back come the status, the headers (Set-Cookie,
// the CORS headers) and the body. `host` is the Host to send: the browser's (kept) or the
// function's own name (rewritten). Every exchange is logged for the journey to look at.
function forward(req, res, target, host, log) {
  const headers = { ...withoutHopByHop(req.headers), host }
  const entry = {
    method: req.method,
    path: req.url,
    host,
    origin: req.headers.origin,
    secFetchSite: req.headers['sec-fetch-site'],
    sentCookie: Boolean(req.headers.cookie),
    sentSession: sessionFromCookieHeader(req.headers.cookie),
  }
  log.push(entry)
  const upstream = http.request(
    { host: '127.0.0.1', port: target.port, method: req.method, path: req.url, headers, timeout: WAIT_MS },
    (answer) => {
      entry.status = answer.statusCode
      entry.headers = answer.headers
      const chunks = []
      answer.on('data', (chunk) => chunks.push(chunk))
      answer.on('end', () => {
        entry.body = Buffer.concat(chunks).toString('utf8')
      })
      res.writeHead(answer.statusCode, withoutHopByHop(answer.headers))
      answer.pipe(res)
    },
  )
  upstream.on('timeout', () => upstream.destroy(new Error('the function did not answer in time')))
  upstream.on('error', (error) => {
    entry.error = String(error)
    if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' })
    res.end('bad gateway')
  })
  req.pipe(upstream)
}

// The app's routes the deployment rewrites to the function; everything else stays the app's
// (its session endpoint and sign-out among them).
function isFunctionRoute(url) {
  const path = url.split('?', 1)[0]
  return path.startsWith('/api/users/') || path === '/api/auth/login' || path === '/api/auth/sign-up'
}

// One host of the app: the function's routes to the function, the rest to h3.
function appServer({ keepHost, target }) {
  const log = []
  const h3 = nuxtApp()
  const server = http.createServer((req, res) => {
    if (isFunctionRoute(req.url)) {
      forward(req, res, target, keepHost ? req.headers.host : target.host, log)
    } else {
      h3(req, res)
    }
  })
  return { server, log }
}

// The pages of the other sites: whatever their host, a page whose script calls an API.
const SITE_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Another site</title></head>
<body><h1>Another site</h1>
<script>
window.callApi = async (url, init) => {
  try {
    const response = await fetch(url, { ...init, signal: AbortSignal.timeout(${WAIT_MS}) })
    return { status: response.status, body: await response.text() }
  } catch (error) {
    return { error: String(error) }
  }
}
</script></body></html>
`

function siteServer() {
  return http.createServer((req, res) => {
    res.writeHead(req.url === '/' ? 200 : 404, { 'content-type': 'text/html; charset=utf-8' })
    res.end(req.url === '/' ? SITE_PAGE : 'not found')
  })
}

// ---------------------------------------------------------------------------------------
// The browser

async function launchBrowser() {
  return within(
    30_000,
    'Chromium to start',
    chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-proxy-server',
        // Every name below .localhost is this machine's loopback address, IPv4 only.
        '--host-resolver-rules=MAP *.localhost 127.0.0.1',
      ],
      timeout: 30_000,
    }),
  )
}

// A browser context of its own: its own cookie jar, as a second browser has.
async function newContext(browser) {
  const context = await browser.newContext()
  context.setDefaultTimeout(WAIT_MS)
  context.setDefaultNavigationTimeout(WAIT_MS)
  return context
}

// Opens the app at `origin` in a new page of `context`, once its session fetch is done.
async function openApp(context, origin) {
  const page = await context.newPage()
  await page.goto(`${origin}/`)
  await page.waitForSelector('body[data-ready=yes]', { timeout: WAIT_MS })
  return page
}

// Submits one of the app page's forms and waits for the page's script to report.
async function submit(page, form, fields = {}) {
  await page.waitForSelector('body[data-ready=yes]', { timeout: WAIT_MS })
  const before = Number(await page.getAttribute('#result', 'data-seq'))
  for (const [name, value] of Object.entries(fields)) await page.fill(`#${form} [name=${name}]`, value)
  await page.click(`#${form} button`)
  await page.waitForFunction(
    (n) => Number(document.getElementById('result').dataset.seq) > n,
    before,
    { timeout: WAIT_MS },
  )
  return JSON.parse(await page.textContent('#result'))
}

// The messages a form shows under a field.
async function fieldErrors(page, form, field) {
  return page.$$eval(`#${form}-${field}-errors li`, (items) => items.map((item) => item.textContent))
}

// GET /me from the page (same origin, the browser's cookie), as the app's other routes see it.
async function me(page) {
  return within(
    WAIT_MS,
    'GET /me',
    page.evaluate(async () => (await fetch('/me')).json()),
  )
}

async function browserCookie(context, url) {
  const cookies = (await context.cookies(url)).filter((c) => c.name === NAME)
  expectTrue(cookies.length <= 1, `more than one ${NAME} cookie for ${url}`)
  return cookies[0]
}

function expectSessionCookieAttributes(cookie, host, what) {
  expectTrue(cookie, `${what}: the browser holds no ${NAME} cookie for ${host}`)
  expectEqual(
    { domain: cookie.domain, path: cookie.path, httpOnly: cookie.httpOnly, secure: cookie.secure, sameSite: cookie.sameSite },
    { domain: host, path: '/', httpOnly: true, secure: true, sameSite: 'Lax' },
    `${what}: the cookie's attributes (host-only, HttpOnly, Secure, Lax)`,
  )
}

// The last exchange of the function on `path` in a proxy's log.
function lastExchange(log, method, path) {
  const exchange = log.findLast((e) => e.method === method && e.path === path)
  expectTrue(exchange, `no ${method} ${path} reached the function`)
  return exchange
}

// A refusal the function answered: its status and exact body, and no cookie set.
function expectRefusal(exchange, status, body, what) {
  expectEqual(exchange.status, status, `${what}: the status`)
  expectSame(JSON.parse(exchange.body), body, `${what}: the body`)
  expectTrue(!exchange.headers['set-cookie'], `${what}: an error set a cookie`)
}

// The function's Set-Cookie on a 200: one neptun-session with h3's attributes and the
// function's Max-Age (about a week), and what h3 reads from it.
async function functionCookie(exchange, what) {
  const set = sessionFromSetCookie(exchange.headers['set-cookie'])
  expectTrue(set, `${what}: the function answered 200 without a Set-Cookie`)
  const attributes = /^neptun-session=Fe26\.2\*[^;]+; Max-Age=(\d+); Path=\/; HttpOnly; Secure; SameSite=Lax$/.exec(set.header)
  expectTrue(attributes, `${what}: the function's Set-Cookie has h3's attributes and a Max-Age: ${redacted(set.header)}`)
  const maxAge = Number(attributes[1])
  expectTrue(Math.abs(maxAge - WEEK_S) < 60, `${what}: the function's cookie lives 7 days, not ${maxAge} s`)
  return { ...set, session: await unseal(set.value) }
}

// A session the sign-in or the sign-up issued at a time within [from, to] for `email`: the
// body is the session's data, the data is {user, loggedInAt}, the user carries the stamp.
async function expectIssued(exchange, { email, from, to, version }, what) {
  expectEqual(exchange.status, 200, `${what}: the status (${exchange.body})`)
  const issued = await functionCookie(exchange, what)
  const { session } = issued
  expectSame(JSON.parse(exchange.body), session.data, `${what}: the body is the session's data`)
  expectEqual(Object.keys(session.data).sort(), ['loggedInAt', 'user'], `${what}: the session's data`)
  const user = session.data.user
  expectEqual(
    Object.keys(user).sort(),
    ['id', 'logged_in_at', 'primary_email', 'session_version'],
    `${what}: the session's user`,
  )
  expectEqual(user.primary_email, email, `${what}: the address`)
  expectTrue(Number.isInteger(user.id) && user.id > 0, `${what}: the user id ${user.id}`)
  expectTrue(Number.isInteger(user.session_version), `${what}: session_version ${user.session_version} is an integer`)
  if (version !== undefined) expectEqual(user.session_version, version, `${what}: the session version`)
  const inWindow = (ms) => Number.isInteger(ms) && ms >= from && ms <= to
  expectTrue(inWindow(user.logged_in_at), `${what}: logged_in_at ${user.logged_in_at} is now (${from}..${to})`)
  expectTrue(inWindow(Date.parse(session.data.loggedInAt)), `${what}: loggedInAt ${session.data.loggedInAt} is now`)
  expectTrue(inWindow(session.createdAt), `${what}: createdAt ${session.createdAt} is now`)
  return issued
}

// After the page's session fetch, the browser holds the app's re-seal of `sealed` (what h3
// read from the cookie the function set): the same session and user, loggedInAt now, and no
// Max-Age (a cookie for this browsing session only).
async function expectResealed(context, origin, host, sealed, what) {
  const cookie = await browserCookie(context, origin)
  expectSessionCookieAttributes(cookie, host, what)
  expectEqual(cookie.expires, -1, `${what}: the app's re-sealed cookie has no Max-Age`)
  const session = await unseal(cookie.value)
  expectSame(
    { id: session.id, createdAt: session.createdAt, user: session.data.user },
    { id: sealed.id, createdAt: sealed.createdAt, user: sealed.data.user },
    `${what}: the app's re-seal keeps the session and its stamp`,
  )
  expectTrue(
    Date.parse(session.data.loggedInAt) >= Date.parse(sealed.data.loggedInAt),
    `${what}: the re-seal's loggedInAt ${session.data.loggedInAt} is not before ${sealed.data.loggedInAt}`,
  )
  return { cookie, session }
}

// The preflights a page's CORS requests made, as Chromium's DevTools protocol reports them.
async function recordPreflights(context, page) {
  const preflights = []
  const cdp = await context.newCDPSession(page)
  await cdp.send('Network.enable')
  cdp.on('Network.responseReceived', (event) => {
    if (event.type === 'Preflight') {
      const headers = Object.fromEntries(Object.entries(event.response.headers).map(([k, v]) => [k.toLowerCase(), v]))
      preflights.push({ url: event.response.url, status: event.response.status, headers })
    }
  })
  return preflights
}

// A credentialed JSON PATCH from a page of another origin: the page's view of it, and the
// response as the network saw it (headers a script may not read, Set-Cookie included).
async function crossOriginPatch(page, url, body) {
  const seen = page.waitForResponse((r) => r.url() === url && r.request().method() === 'PATCH', { timeout: WAIT_MS })
  seen.catch(() => {}) // awaited below only when the page got an answer
  const outcome = await within(
    WAIT_MS + 1_000,
    `the PATCH to ${url}`,
    page.evaluate(
      ([u, b]) =>
        window.callApi(u, {
          method: 'PATCH',
          credentials: 'include',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify(b),
        }),
      [url, body],
    ),
  )
  if (outcome.error) return { outcome }
  const response = await seen
  return { outcome, headers: await response.allHeaders() }
}

// ---------------------------------------------------------------------------------------
// The journey

async function main() {
  const bin = process.env.NEPTUN_BIN
  if (!bin) fail('NEPTUN_BIN must name the built neptun binary')
  expectTrue(fs.existsSync(bin), `NEPTUN_BIN=${bin} does not exist`)
  expectTrue(fs.existsSync(CHROMIUM), `${CHROMIUM} does not exist (apt-get install -y chromium)`)

  const cleanups = []
  const steps = []
  let failed = false
  async function step(name, body) {
    if (failed) {
      steps.push({ name, result: 'skipped' })
      console.log(`skip ${name}`)
      return
    }
    const started = Date.now()
    try {
      await body()
      steps.push({ name, result: 'passed' })
      console.log(`ok   ${name} (${Date.now() - started} ms)`)
    } catch (error) {
      failed = true
      steps.push({ name, result: 'failed' })
      console.log(`FAIL ${name}\n     ${String(error?.stack ?? error).replace(/\n/g, '\n     ')}`)
    }
  }

  const functions = []
  const dumpFunctions = () => {
    for (const [label, fn] of functions) {
      console.log(`--- the ${label} function's stderr (last lines) ---\n${fn.stderr.split('\n').slice(-40).join('\n')}`)
    }
  }
  const watchdog = setTimeout(() => {
    console.log(`FAIL the journey did not finish in ${JOURNEY_MS / 1000} s`)
    dumpFunctions()
    for (const cleanup of cleanups.reverse()) {
      try {
        cleanup(true) // no waiting now: kill, remove, and go (playwright kills its browser at exit)
      } catch {}
    }
    const passed = steps.filter((s) => s.result === 'passed').length
    console.log(`browser-journey: ${passed} passed, 1 failed, 0 skipped`)
    process.exit(1)
  }, JOURNEY_MS)

  try {
    // The servers of the app's hosts and the other sites first: their origins go into the
    // function's ALLOWED_ORIGINS, and their ports are the OS's choice.
    const target = { port: 0, host: '' } // the function, once it listens
    const legacyTarget = { port: 0, host: '' } // the second function (accepting unstamped)
    const apps = {
      keep: appServer({ keepHost: true, target }),
      rewrite: appServer({ keepHost: false, target }),
      unlisted: appServer({ keepHost: false, target }),
      legacy: appServer({ keepHost: true, target: legacyTarget }),
    }
    const sites = siteServer()
    for (const app of Object.values(apps)) {
      app.port = await listen(app.server)
      cleanups.push(() => closeServer(app.server))
    }
    const sitesPort = await listen(sites)
    cleanups.push(() => closeServer(sites))
    const origin = (host, port) => `http://${host}:${port}`
    const appOrigin = origin('app.neptun.localhost', apps.keep.port)
    const wwwOrigin = origin('www.neptun.localhost', apps.rewrite.port)
    const betaOrigin = origin('beta.neptun.localhost', apps.unlisted.port)
    const legacyOrigin = origin('legacy.neptun.localhost', apps.legacy.port)
    const adminOrigin = origin('admin.neptun.localhost', sitesPort)
    const blogOrigin = origin('blog.neptun.localhost', sitesPort)
    const evilOrigin = origin('evil.localhost', sitesPort)

    // 1. The function, with the Nuxt app's password, every other setting at its default
    // (COOKIE_SECURE=true, NUXT_UNSTAMPED_SESSIONS=refuse, PASSWORD_RULES=neptun), and the
    // origins allowed to call it cross-origin with credentials: the second site, and the app
    // host whose proxy rewrites Host (as the README says it must be).
    const fn = await startFunction(bin, { allowedOrigins: [adminOrigin, wwwOrigin] })
    functions.push(['main', fn])
    cleanups.push((now) => (now ? fn.child.kill('SIGKILL') : stopFunction(fn)))
    target.port = fn.port
    target.host = `api.neptun.localhost:${fn.port}`
    const functionUrl = `http://${target.host}`
    // 2. The same, for a deployment whose sign-in is still the app's own.
    const legacyFn = await startFunction(bin, { env: { NUXT_UNSTAMPED_SESSIONS: 'accept' } })
    functions.push(['accepting', legacyFn])
    cleanups.push((now) => (now ? legacyFn.child.kill('SIGKILL') : stopFunction(legacyFn)))
    legacyTarget.port = legacyFn.port
    legacyTarget.host = `api.neptun.localhost:${legacyFn.port}`
    for (const started of [fn, legacyFn]) {
      expectEqual(
        started.seeds,
        [
          { id: 1, primary_email: 'user@example.com' },
          { id: 2, primary_email: 'other@example.com' },
        ],
        'the seeded users',
      )
    }
    console.log(`the function listens at ${fn.url}; the app at ${appOrigin}; the function's own host ${functionUrl}`)

    const browser = await launchBrowser()
    cleanups.push((now) => (now ? undefined : within(WAIT_MS, 'the browser to close', browser.close())))
    const context = await newContext(browser)
    const second = await newContext(browser) // another browser of the same person

    let app // the app's page in the first browser
    let ada // { id, version }: the account the journey signs up
    let signedIn // what h3 read from the first browser's cookie after its last sign-in
    let secondPage
    let passwordChangedBy // a time after the password change was answered

    await step("sign up on the app's sign-up page: the function creates the account and a stamped session, the app re-seals it", async () => {
      app = await openApp(context, appOrigin)
      // A visitor's first session fetch leaves a session without a user.
      const visitor = await browserCookie(context, appOrigin)
      expectSessionCookieAttributes(visitor, 'app.neptun.localhost', "a visitor's session")
      const visiting = await unseal(visitor.value)
      expectTrue(!visiting.data.user && typeof visiting.data.loggedInAt === 'string', `a visitor's session: ${JSON.stringify(visiting.data)}`)

      const from = Date.now()
      const outcome = await submit(app, 'sign-up', { email: ADA.email, password: ADA.password, confirmPassword: ADA.password })
      const to = Date.now()
      expectEqual(outcome.status, 200, `POST /api/auth/sign-up (${outcome.body})`)
      const exchange = lastExchange(apps.keep.log, 'POST', '/api/auth/sign-up')
      expectEqual(
        { host: exchange.host, origin: exchange.origin, secFetchSite: exchange.secFetchSite, sentSession: exchange.sentSession },
        { host: `app.neptun.localhost:${apps.keep.port}`, origin: appOrigin, secFetchSite: 'same-origin', sentSession: visitor.value },
        'what the function received through the proxy (the visitor session is no sign-in)',
      )
      expectEqual(outcome.body, exchange.body, 'what the page got')
      const issued = await expectIssued(exchange, { email: ADA.email, from, to }, 'the sign-up')
      const user = issued.session.data.user
      expectTrue(user.id > 2, `the new account's id ${user.id} is past the seeded users'`)
      ada = { id: user.id, version: user.session_version }
      signedIn = (await expectResealed(context, appOrigin, 'app.neptun.localhost', issued.session, 'after the sign-up')).session
      expectTrue(
        !(await app.evaluate(() => document.cookie)).includes(NAME),
        'the session cookie is visible to scripts (it must be HttpOnly)',
      )
      expectEqual(await app.textContent('#who'), `Signed in as ${ADA.email}`, 'the page after the sign-up')
    })

    await step('sign out: the app clears the session and leaves an empty cookie', async () => {
      const outcome = await submit(app, 'sign-out')
      expectEqual(outcome, { status: 200, body: '{"loggedOut":true}' }, 'DELETE /api/_auth/session')
      const cookie = await browserCookie(context, appOrigin)
      expectTrue(cookie && cookie.value === '', `the cookie after the sign-out: ${JSON.stringify(cookie?.value)}`)
      expectEqual(await app.textContent('#who'), 'Not signed in', 'the page after the sign-out')
    })

    await step('sign in on the login page: the function ignores the empty cookie and issues a stamped session', async () => {
      const from = Date.now()
      const outcome = await submit(app, 'login', { email: ADA.email, password: ADA.password })
      const to = Date.now()
      expectEqual(outcome.status, 200, `POST /api/auth/login (${outcome.body})`)
      const exchange = lastExchange(apps.keep.log, 'POST', '/api/auth/login')
      expectEqual(exchange.sentSession, '', 'the browser sent the empty cookie the sign-out left')
      const issued = await expectIssued(exchange, { email: ADA.email, from, to, version: ada.version }, 'the sign-in')
      expectEqual(issued.session.data.user.id, ada.id, 'the signed-up account')
      expectTrue(issued.session.id !== signedIn.id, 'the sign-in made a new session')
      signedIn = (await expectResealed(context, appOrigin, 'app.neptun.localhost', issued.session, 'after the sign-in')).session
      expectEqual(await app.textContent('#who'), `Signed in as ${ADA.email}`, 'the page after the sign-in')
      const seen = await me(app)
      expectSame(seen.data, signedIn.data, "what the app's other routes read")
    })

    await step('a second browser signs in to the same account', async () => {
      secondPage = await openApp(second, appOrigin)
      const from = Date.now()
      const outcome = await submit(secondPage, 'login', { email: ADA.email, password: ADA.password })
      const to = Date.now()
      expectEqual(outcome.status, 200, `POST /api/auth/login (${outcome.body})`)
      const issued = await expectIssued(lastExchange(apps.keep.log, 'POST', '/api/auth/login'), { email: ADA.email, from, to, version: ada.version }, 'the second sign-in')
      await expectResealed(second, appOrigin, 'app.neptun.localhost', issued.session, 'the second browser')
      expectEqual(await secondPage.textContent('#who'), `Signed in as ${ADA.email}`, "the second browser's page")
    })

    await step('change the address on the account page: 200, the refreshed cookie keeps the stamp, the app re-seals it', async () => {
      const before = await browserCookie(context, appOrigin)
      const outcome = await submit(app, 'account', { email: COUNTESS.email, password: '', confirmPassword: '' })
      expectEqual(outcome, { status: 200, body: JSON.stringify({ user: { id: ada.id, primary_email: COUNTESS.email } }) }, `PATCH /api/users/${ada.id}`)
      const exchange = lastExchange(apps.keep.log, 'PATCH', `/api/users/${ada.id}`)
      expectEqual(
        { host: exchange.host, origin: exchange.origin, secFetchSite: exchange.secFetchSite, sentSession: exchange.sentSession },
        { host: `app.neptun.localhost:${apps.keep.port}`, origin: appOrigin, secFetchSite: 'same-origin', sentSession: before.value },
        "what the function received: the app's re-sealed cookie",
      )
      const refreshed = await functionCookie(exchange, 'the address change')
      expectSame(
        refreshed.session,
        {
          id: signedIn.id,
          createdAt: signedIn.createdAt,
          data: {
            user: { ...signedIn.data.user, primary_email: COUNTESS.email },
            loggedInAt: (await unseal(before.value)).data.loggedInAt,
          },
        },
        'the refreshed session: the new address, the stamp and every other key as they were',
      )
      const { session } = await expectResealed(context, appOrigin, 'app.neptun.localhost', refreshed.session, 'after the address change')
      signedIn = session
      expectEqual(await app.textContent('#who'), `Signed in as ${COUNTESS.email}`, 'the page after the change')
      expectEqual(await app.inputValue('#account [name=email]'), COUNTESS.email, "the account page's address field")
    })

    await step('change the password on the account page: 200 and the next session version; the cookie from before answers 401', async () => {
      const before = await browserCookie(context, appOrigin)
      const outcome = await submit(app, 'account', { email: COUNTESS.email, password: COUNTESS.password, confirmPassword: COUNTESS.password })
      passwordChangedBy = Date.now()
      expectEqual(outcome, { status: 200, body: JSON.stringify({ user: { id: ada.id, primary_email: COUNTESS.email } }) }, `PATCH /api/users/${ada.id}`)
      const refreshed = await functionCookie(lastExchange(apps.keep.log, 'PATCH', `/api/users/${ada.id}`), 'the password change')
      expectSame(
        refreshed.session.data.user,
        { ...signedIn.data.user, session_version: ada.version + 1 },
        'the refreshed stamp: the next version, the same login time',
      )
      ada.version += 1
      signedIn = (await expectResealed(context, appOrigin, 'app.neptun.localhost', refreshed.session, 'after the password change')).session
      // Every other session of the user is revoked: the one from before the change, replayed.
      const replay = await fetch(`${fn.url}/api/users/${ada.id}`, {
        method: 'PATCH',
        headers: { cookie: `${NAME}=${before.value}`, 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'replayed@example.com' }),
        signal: AbortSignal.timeout(WAIT_MS),
      })
      expectEqual([replay.status, sorted(await replay.json())], [401, sorted(UNAUTHORIZED)], 'the cookie from before the password change, replayed')
    })

    await step('the second browser, signed in before the change, fetches its session through the app and its update answers 401', async () => {
      const fetched = await submit(secondPage, 'refresh')
      expectEqual(fetched.session?.user?.primary_email, ADA.email, "the second browser's session, as the app answers it")
      const cookie = await browserCookie(second, appOrigin)
      const session = await unseal(cookie.value)
      expectEqual(session.data.user.session_version, ada.version - 1, "the second browser's stamp: the version before the change")
      expectTrue(
        Date.parse(session.data.loggedInAt) > passwordChangedBy,
        `the app's re-seal says "logged in" ${session.data.loggedInAt}, after the password change`,
      )
      const outcome = await submit(secondPage, 'account', { email: 'thief@example.com', password: '', confirmPassword: '' })
      expectEqual(outcome.status, 401, `PATCH /api/users/${ada.id} from the second browser (${outcome.body})`)
      expectRefusal(lastExchange(apps.keep.log, 'PATCH', `/api/users/${ada.id}`), 401, UNAUTHORIZED, 'the revoked session')
      expectEqual(await secondPage.textContent('#toast'), '401 Unauthorized', "the second browser's page")
    })

    await step('sign out and in again: the old password and the old address answer 401 on the page, the new ones work', async () => {
      expectEqual((await submit(app, 'sign-out')).status, 200, 'the sign-out')
      // A page load after the sign-out: its session fetch leaves a session without a user.
      await app.reload()
      await app.waitForSelector('body[data-ready=yes]', { timeout: WAIT_MS })
      const visitor = await browserCookie(context, appOrigin)
      const visiting = await unseal(visitor.value)
      expectTrue(!visiting.data.user, `the session after the sign-out and a page load: ${JSON.stringify(visiting.data)}`)
      expectEqual(await app.textContent('#who'), 'Not signed in', 'the page after the sign-out')

      for (const [email, password, what] of [
        [COUNTESS.email, ADA.password, 'the new address with the old password'],
        [ADA.email, ADA.password, 'the old address and password'],
        [ADA.email, COUNTESS.password, 'the old address with the new password'],
      ]) {
        const outcome = await submit(app, 'login', { email, password })
        expectEqual(outcome.status, 401, `${what}: POST /api/auth/login (${outcome.body})`)
        const exchange = lastExchange(apps.keep.log, 'POST', '/api/auth/login')
        expectRefusal(exchange, 401, BAD_LOGIN, what)
        expectEqual(exchange.sentSession, visitor.value, `${what}: the browser sent its visitor session`)
        expectEqual(await app.textContent('#toast'), '401 Invalid email or password.', `${what}: the page`)
        expectEqual(await app.textContent('#who'), 'Not signed in', `${what}: the page`)
      }

      const from = Date.now()
      const outcome = await submit(app, 'login', { email: COUNTESS.email, password: COUNTESS.password })
      const to = Date.now()
      expectEqual(outcome.status, 200, `the new address and password: POST /api/auth/login (${outcome.body})`)
      const issued = await expectIssued(lastExchange(apps.keep.log, 'POST', '/api/auth/login'), { email: COUNTESS.email, from, to, version: ada.version }, 'the sign-in with the new ones')
      expectEqual(issued.session.data.user.id, ada.id, 'the same account')
      signedIn = (await expectResealed(context, appOrigin, 'app.neptun.localhost', issued.session, 'after the sign-in')).session
      expectEqual(await app.textContent('#toast'), '', 'the page after the sign-in')
      expectEqual(await app.textContent('#who'), `Signed in as ${COUNTESS.email}`, 'the page after the sign-in')
    })

    await step("signed in, the login and sign-up pages answer 403 with the app's messages", async () => {
      const cookie = await browserCookie(context, appOrigin)
      const login = await submit(app, 'login', { email: COUNTESS.email, password: COUNTESS.password })
      expectEqual(login.status, 403, `POST /api/auth/login (${login.body})`)
      expectRefusal(lastExchange(apps.keep.log, 'POST', '/api/auth/login'), 403, SIGNED_IN_LOGIN, 'a sign-in while signed in')
      const signUp = await submit(app, 'sign-up', { email: GRACE.email, password: GRACE.password, confirmPassword: GRACE.password })
      expectEqual(signUp.status, 403, `POST /api/auth/sign-up (${signUp.body})`)
      expectRefusal(lastExchange(apps.keep.log, 'POST', '/api/auth/sign-up'), 403, SIGNED_IN_SIGN_UP, 'a sign-up while signed in')
      expectEqual(await app.textContent('#toast'), `403 ${SIGNED_IN_SIGN_UP.message}`, 'the page')
      expectEqual((await browserCookie(context, appOrigin)).value, cookie.value, 'the session after the 403s')
    })

    await step("the app's password rules: a password without an uppercase letter gets the app's message under the field", async () => {
      const noUppercase = COUNTESS.password.toLowerCase()
      const outcome = await submit(app, 'account', { email: COUNTESS.email, password: noUppercase, confirmPassword: noUppercase })
      expectEqual(outcome.status, 400, `the account page's PATCH (${outcome.body})`)
      expectRefusal(
        lastExchange(apps.keep.log, 'PATCH', `/api/users/${ada.id}`),
        400,
        {
          statusCode: 400,
          statusMessage: 'Bad Request.',
          message: 'Invalid body(?email, ?password). At least one of email or password is required.',
          data: { issues: [passwordIssue(NO_UPPERCASE)] },
        },
        'the account page',
      )
      expectEqual(await fieldErrors(app, 'account', 'password'), [NO_UPPERCASE], "the account page's password field")

      // The second browser still holds its revoked session: no sign-in, so its sign-up is
      // judged by the body.
      const refused = await submit(secondPage, 'sign-up', { email: GRACE.email, password: 'quartzlamp-river-88', confirmPassword: 'quartzlamp-river-88' })
      expectEqual(refused.status, 400, `the sign-up page's POST (${refused.body})`)
      const exchange = lastExchange(apps.keep.log, 'POST', '/api/auth/sign-up')
      expectEqual((await unseal(exchange.sentSession)).data.user.session_version, ada.version - 1, 'the second browser sent its revoked session')
      expectRefusal(
        exchange,
        400,
        {
          statusCode: 400,
          statusMessage: 'Bad Request.',
          message: 'Invalid body(email, password, confirmPassword).',
          data: { issues: [passwordIssue(NO_UPPERCASE)] },
        },
        'the sign-up page',
      )
      expectEqual(await fieldErrors(secondPage, 'sign-up', 'password'), [NO_UPPERCASE], "the sign-up page's password field")
      expectEqual(await fieldErrors(secondPage, 'sign-up', 'email'), [], "the sign-up page's address field")

      const taken = await submit(secondPage, 'sign-up', { email: COUNTESS.email.toUpperCase(), password: GRACE.password, confirmPassword: GRACE.password })
      expectEqual(taken.status, 409, `a taken address, in other case (${taken.body})`)
      expectRefusal(lastExchange(apps.keep.log, 'POST', '/api/auth/sign-up'), 409, TAKEN, 'a taken address')
      expectEqual(await secondPage.textContent('#toast'), `409 ${TAKEN.message}`, 'the sign-up page')
      expectEqual(await fieldErrors(secondPage, 'sign-up', 'password'), [], "the sign-up page's password field")

      const from = Date.now()
      const created = await submit(secondPage, 'sign-up', { email: GRACE.email, password: GRACE.password, confirmPassword: GRACE.password })
      const to = Date.now()
      expectEqual(created.status, 200, `a valid sign-up (${created.body})`)
      const issued = await expectIssued(lastExchange(apps.keep.log, 'POST', '/api/auth/sign-up'), { email: GRACE.email, from, to }, 'the second sign-up')
      expectTrue(issued.session.data.user.id > ada.id, `the next account's id ${issued.session.data.user.id}`)
      await expectResealed(second, appOrigin, 'app.neptun.localhost', issued.session, 'after the second sign-up')
      expectEqual(await secondPage.textContent('#who'), `Signed in as ${GRACE.email}`, "the second browser's page")
    })

    await step("a session from the app's own sign-in (unstamped) is refused with 401, and is no sign-in", async () => {
      expectEqual((await submit(secondPage, 'sign-out')).status, 200, 'the sign-out')
      const outcome = await submit(secondPage, 'app-login', { email: 'user@example.com' })
      expectEqual(outcome.status, 200, "the app's own sign-in")
      const unstamped = await unseal((await browserCookie(second, appOrigin)).value)
      expectSame(unstamped.data.user, { id: 1, primary_email: 'user@example.com' }, "the app's own session: no stamp")
      const refused = await submit(secondPage, 'account', { email: 'unstamped@example.com', password: '', confirmPassword: '' })
      expectEqual(refused.status, 401, `PATCH /api/users/1 (${refused.body})`)
      expectRefusal(lastExchange(apps.keep.log, 'PATCH', '/api/users/1'), 401, UNAUTHORIZED, 'the unstamped session')

      const from = Date.now()
      const login = await submit(secondPage, 'login', { email: 'user@example.com', password: SEEDS['user@example.com'].password })
      const to = Date.now()
      expectEqual(login.status, 200, `a sign-in over the unstamped session (${login.body})`)
      const issued = await expectIssued(lastExchange(apps.keep.log, 'POST', '/api/auth/login'), { email: 'user@example.com', from, to }, 'the sign-in')
      expectTrue(issued.session.id !== unstamped.id, 'the sign-in replaced the unstamped session')
      await expectResealed(second, appOrigin, 'app.neptun.localhost', issued.session, 'after the sign-in')
    })

    await step("with NUXT_UNSTAMPED_SESSIONS=accept, the app's own session is accepted and its refresh stamped", async () => {
      const legacy = await openApp(second, legacyOrigin)
      const outcome = await submit(legacy, 'app-login', { email: 'user@example.com' })
      expectEqual(outcome.status, 200, "the app's own sign-in")
      const before = await browserCookie(second, legacyOrigin)
      const sent = await unseal(before.value)
      expectSame(sent.data.user, { id: 1, primary_email: 'user@example.com' }, "the app's own session: no stamp")
      const changed = await submit(legacy, 'account', { email: 'legacy@example.com', password: '', confirmPassword: '' })
      expectEqual(changed, { status: 200, body: '{"user":{"id":1,"primary_email":"legacy@example.com"}}' }, 'PATCH /api/users/1')
      const exchange = lastExchange(apps.legacy.log, 'PATCH', '/api/users/1')
      expectEqual(exchange.sentSession, before.value, 'the function got the unstamped session')
      const refreshed = await functionCookie(exchange, 'the refresh of an unstamped session')
      const user = refreshed.session.data.user
      expectSame(
        user,
        { id: 1, primary_email: 'legacy@example.com', session_version: user.session_version, logged_in_at: Date.parse(sent.data.loggedInAt) },
        'the refresh stamps the session: its loggedInAt as the login time',
      )
      expectTrue(Number.isInteger(user.session_version), `session_version ${user.session_version} is an integer`)
      await expectResealed(second, legacyOrigin, 'legacy.neptun.localhost', refreshed.session, 'after the refresh')
      expectEqual(await legacy.textContent('#who'), 'Signed in as legacy@example.com', 'the page')
      await legacy.close()
    })

    await step('the proxy that rewrites Host: the listed app origin passes, an unlisted one gets 403', async () => {
      const other = SEEDS['other@example.com']
      const www = await openApp(context, wwwOrigin)
      const from = Date.now()
      const login = await submit(www, 'login', { email: 'other@example.com', password: other.password })
      const to = Date.now()
      expectEqual(login.status, 200, `POST /api/auth/login on www (${login.body})`)
      const signIn = lastExchange(apps.rewrite.log, 'POST', '/api/auth/login')
      expectEqual(
        { host: signIn.host, origin: signIn.origin, allowOrigin: signIn.headers['access-control-allow-origin'] },
        { host: target.host, origin: wwwOrigin, allowOrigin: wwwOrigin },
        'the function saw a cross-origin sign-in from a listed origin',
      )
      await expectIssued(signIn, { email: 'other@example.com', from, to }, 'the sign-in on www')
      const outcome = await submit(www, 'account', { email: 'other-new@example.com', password: '', confirmPassword: '' })
      expectEqual(outcome, { status: 200, body: '{"user":{"id":2,"primary_email":"other-new@example.com"}}' }, 'PATCH via www')
      const exchange = lastExchange(apps.rewrite.log, 'PATCH', '/api/users/2')
      expectEqual(
        { host: exchange.host, origin: exchange.origin, allowOrigin: exchange.headers['access-control-allow-origin'] },
        { host: target.host, origin: wwwOrigin, allowOrigin: wwwOrigin },
        'the function saw a cross-origin call from a listed origin',
      )
      const refreshed = await functionCookie(exchange, 'the PATCH via www')
      const { cookie: wwwCookie } = await expectResealed(context, wwwOrigin, 'www.neptun.localhost', refreshed.session, "www's cookie")
      expectEqual((await me(www)).data.user.primary_email, 'other-new@example.com', '/me on www')

      const beta = await openApp(context, betaOrigin)
      const refusedLogin = await submit(beta, 'login', { email: 'other-new@example.com', password: other.password })
      expectEqual(refusedLogin.status, 403, `POST /api/auth/login via beta (Host rewritten, origin not listed): ${refusedLogin.body}`)
      expectRefusal(lastExchange(apps.unlisted.log, 'POST', '/api/auth/login'), 403, NOT_YOURS, 'the sign-in via beta')
      // The same person's valid session, on beta's host: the PATCH is refused all the same.
      await context.addCookies([
        { name: NAME, value: wwwCookie.value, domain: 'beta.neptun.localhost', path: '/', httpOnly: true, secure: true, sameSite: 'Lax' },
      ])
      expectEqual((await submit(beta, 'refresh')).session?.user?.id, 2, "beta's page knows the session")
      const betaCookie = await browserCookie(context, betaOrigin)
      const refused = await submit(beta, 'account', { email: 'beta@example.com', password: '', confirmPassword: '' })
      expectEqual(refused.status, 403, `PATCH via beta: ${refused.body}`)
      const betaPatch = lastExchange(apps.unlisted.log, 'PATCH', '/api/users/2')
      expectEqual(betaPatch.sentSession, betaCookie.value, 'beta sent the session')
      expectRefusal(betaPatch, 403, NOT_YOURS, 'the PATCH via beta')
      await www.close()
      await beta.close()
    })

    const admin = await context.newPage()
    const adminPreflights = await recordPreflights(context, admin)

    await step('the allowed second site calls the route where the app mounts it: preflight 204, then 200 with CORS', async () => {
      await admin.goto(`${adminOrigin}/`)
      const url = `${appOrigin}/api/users/${ada.id}`
      const { outcome, headers } = await crossOriginPatch(admin, url, { email: 'admin@example.com' })
      expectEqual(outcome, { status: 200, body: JSON.stringify({ user: { id: ada.id, primary_email: 'admin@example.com' } }) }, 'the PATCH, as the page sees it')
      const preflight = adminPreflights.find((p) => p.url === url)
      expectTrue(preflight, `no preflight to ${url} was seen`)
      expectEqual(
        [preflight.status, preflight.headers['access-control-allow-origin'], preflight.headers['access-control-allow-credentials'], preflight.headers['access-control-allow-methods']],
        [204, adminOrigin, 'true', 'PATCH'],
        'the preflight',
      )
      expectEqual(
        [headers['access-control-allow-origin'], headers['access-control-allow-credentials']],
        [adminOrigin, 'true'],
        "the PATCH response's CORS headers",
      )
      const sent = apps.keep.log.filter((e) => e.origin === adminOrigin)
      expectEqual(
        sent.map((e) => [e.method, e.status, e.secFetchSite, e.sentCookie]),
        [
          ['OPTIONS', 204, 'same-site', false],
          ['PATCH', 200, 'same-site', true],
        ],
        'what reached the function from the second site',
      )
      const refreshed = await functionCookie(sent[1], 'the PATCH from the second site')
      const cookie = await browserCookie(context, appOrigin)
      expectTrue(cookie.value === refreshed.value, "the app's cookie is not the function's refreshed one")
      expectSame(refreshed.session.data.user, { ...signedIn.data.user, primary_email: 'admin@example.com' }, 'the refreshed session')
      expectEqual((await me(app)).data.user.primary_email, 'admin@example.com', '/me on the app')
    })

    await step("the allowed second site calls the function's own host directly: preflight 204, then 200 with CORS", async () => {
      // A browser holds a cookie for a host only when that host set it: the user signed in
      // on the function's own host (its POST /api/auth/login, as a login page served on that
      // host would call it), and the browser keeps the session for api.neptun.localhost,
      // host-only, with the function's attributes.
      const signIn = await fetch(`${fn.url}/api/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'user@example.com', password: SEEDS['user@example.com'].password }),
        signal: AbortSignal.timeout(WAIT_MS),
      })
      expectEqual(signIn.status, 200, "the function's sign-in")
      const set = sessionFromSetCookie(signIn.headers.getSetCookie())
      expectTrue(set && /; HttpOnly; Secure; SameSite=Lax$/.test(set.header), `the function's cookie attributes: ${set && redacted(set.header)}`)
      // (`domain` without a leading dot is a host-only cookie; with `url`, Playwright would
      // drop Secure on http.)
      await context.addCookies([
        { name: NAME, value: set.value, domain: 'api.neptun.localhost', path: '/', httpOnly: true, secure: true, sameSite: 'Lax' },
      ])
      expectSessionCookieAttributes(await browserCookie(context, functionUrl), 'api.neptun.localhost', 'the sign-in on the function host')

      const url = `${functionUrl}/api/users/1`
      const { outcome, headers } = await crossOriginPatch(admin, url, { email: 'direct@example.com' })
      expectEqual(outcome, { status: 200, body: '{"user":{"id":1,"primary_email":"direct@example.com"}}' }, 'the PATCH, as the page sees it')
      const preflight = adminPreflights.find((p) => p.url === url)
      expectTrue(preflight, `no preflight to ${url} was seen`)
      expectEqual(
        [preflight.status, preflight.headers['access-control-allow-origin'], preflight.headers['access-control-allow-credentials'], preflight.headers['access-control-allow-methods'], preflight.headers['access-control-allow-headers']],
        [204, adminOrigin, 'true', 'PATCH', 'Content-Type'],
        'the preflight',
      )
      expectEqual(
        [headers['access-control-allow-origin'], headers['access-control-allow-credentials']],
        [adminOrigin, 'true'],
        "the PATCH response's CORS headers",
      )
      const refreshed = sessionFromSetCookie(headers['set-cookie']?.split('\n'))
      expectTrue(refreshed, 'the 200 carried no Set-Cookie')
      const cookie = await browserCookie(context, functionUrl)
      expectSessionCookieAttributes(cookie, 'api.neptun.localhost', 'after the CORS 200')
      expectTrue(cookie.value === refreshed.value && cookie.value !== set.value, "the browser did not take the function's refreshed cookie")
      const user = (await unseal(cookie.value)).data.user
      expectEqual([user.id, user.primary_email], [1, 'direct@example.com'], 'the refreshed seal, unsealed by h3')
    })

    await step('pages of sites not listed change nothing: the browser blocks the PATCH at the preflight', async () => {
      const attempts = []
      const appUrl = `${appOrigin}/api/users/${ada.id}`
      for (const siteOrigin of [blogOrigin, evilOrigin]) {
        const page = await context.newPage()
        await page.goto(`${siteOrigin}/`)
        for (const url of [appUrl, `${functionUrl}/api/users/1`]) {
          const { outcome } = await crossOriginPatch(page, url, { email: 'pwned@example.com' })
          attempts.push([siteOrigin, url, outcome.error ? 'blocked' : outcome.status])
        }
        // A request with no preflight: a no-cors form-like POST, cookie and all if same-site.
        const simple = await within(
          WAIT_MS + 1_000,
          'a no-cors POST',
          page.evaluate(
            (u) => window.callApi(u, { method: 'POST', mode: 'no-cors', credentials: 'include', body: '{"email":"pwned@example.com"}' }),
            appUrl,
          ),
        )
        attempts.push([siteOrigin, 'no-cors POST', simple.error ? 'blocked' : simple.status])
        await page.close()
      }
      expectEqual(
        attempts,
        [blogOrigin, evilOrigin].flatMap((o) => [
          [o, appUrl, 'blocked'],
          [o, `${functionUrl}/api/users/1`, 'blocked'],
          [o, 'no-cors POST', 0], // an opaque response: the page learns nothing
        ]),
        'what the pages got',
      )
      const reached = apps.keep.log
        .filter((e) => e.origin === blogOrigin || e.origin === evilOrigin)
        .map((e) => [e.origin, e.method, e.status, e.headers?.['access-control-allow-origin'] ?? null])
      expectEqual(
        reached,
        [blogOrigin, evilOrigin].flatMap((o) => [
          [o, 'OPTIONS', 405, null],
          [o, 'POST', 405, null],
        ]),
        'what reached the function through the app (no PATCH, no CORS grant)',
      )
      // The store's address, as a same-origin password change on the app's account page
      // reports it (the address field left empty), and the session every route of the app
      // reads: the second site's address, not the attacker's.
      const password = 'Harbor-lamp-64'
      const outcome = await submit(app, 'account', { email: '', password, confirmPassword: password })
      expectEqual(outcome, { status: 200, body: JSON.stringify({ user: { id: ada.id, primary_email: 'admin@example.com' } }) }, 'the stored address')
      const after = await me(app)
      expectEqual([after.id, after.data.user.primary_email], [signedIn.id, 'admin@example.com'], '/me at the end')
    })
  } catch (error) {
    failed = true
    steps.push({ name: 'setting up', result: 'failed' })
    console.log(`FAIL setting up: ${error?.stack ?? error}`)
  } finally {
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup(false)
      } catch (error) {
        console.log(`warning: cleanup: ${error?.message ?? error}`)
      }
    }
    clearTimeout(watchdog)
  }

  if (failed) dumpFunctions()
  const count = (result) => steps.filter((s) => s.result === result).length
  console.log(`browser-journey: ${count('passed')} passed, ${count('failed')} failed, ${count('skipped')} skipped`)
  return failed ? 1 : 0
}

// Exit now, whatever still holds the event loop (pipes to a process that did not stop).
process.exit(await main())
