#!/usr/bin/env node
// The web UI's journey in a real browser: headless Chromium (Debian's /usr/bin/chromium,
// driven by playwright-core) signs in on "the Nuxt app" (a small h3 app with the session code
// of nuxt-auth-utils) and changes the address and the password through the function, which
// is the real `neptun serve` binary in SESSION_FORMAT=nuxt. Run by tests/browser.rs:
//
//   NEPTUN_BIN=target/debug/neptun node tests/browser/journey.mjs
//
// Every server listens on 127.0.0.1, on a port the OS chose. The browser reaches them under
// names below `.localhost`, which Chromium maps to 127.0.0.1 here (--host-resolver-rules), so
// that hosts, origins and sites differ as they do in a deployment:
//
//   app.neptun.localhost    the Nuxt app; its proxy mounts /api/users/* and keeps Host
//   www.neptun.localhost    the same app behind a proxy that rewrites Host to the function's
//                           (an nginx `proxy_pass` default): its origin is in ALLOWED_ORIGINS
//   beta.neptun.localhost   the same again, rewriting Host, origin NOT listed: the control
//   api.neptun.localhost    the function's own host (the `neptun serve` port)
//   admin.neptun.localhost  a second site of the same owner, listed in ALLOWED_ORIGINS
//   blog.neptun.localhost   a sibling site, same site but not listed
//   evil.localhost          another site altogether, not listed
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
import os from 'node:os'
import path from 'node:path'
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
// The session code of nuxt-auth-utils 0.5: useSession with these options.
const SESSION = { name: NAME, password: PASSWORD, cookie: { sameSite: 'lax' } }
const USERS = {
  'user@example.com': { id: 1, password: 'user-password-1' },
  'other@example.com': { id: 2, password: 'other-password-2' },
}
const WAIT_MS = 10_000 // any one wait: a request, a page load, a click's effect
const JOURNEY_MS = 120_000 // the whole run

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

// What h3 reads from a sealed value (throws when it cannot: wrong password, tampered...).
function unseal(value) {
  return unsealSession(undefined, SESSION, value)
}

// ---------------------------------------------------------------------------------------
// The function: `neptun serve` on 127.0.0.1:0

async function startFunction(bin, allowedOrigins) {
  const env = { ...process.env }
  // Only this run's settings: nothing inherited may change the cookie or the secrets.
  for (const name of Object.keys(env)) {
    if (/^(SESSION_|NUXT_SESSION_|COOKIE_|ALLOWED_ORIGINS$)/.test(name)) delete env[name]
  }
  Object.assign(env, {
    SESSION_FORMAT: 'nuxt',
    NUXT_SESSION_PASSWORD: PASSWORD,
    ALLOWED_ORIGINS: allowedOrigins.join(','),
    RUST_LOG: 'info',
  })
  const args = ['serve', '--addr', '127.0.0.1:0']
  for (const [email, user] of Object.entries(USERS)) args.push('--seed', `${email}:${user.password}`)
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
// The Nuxt app: h3, with nuxt-auth-utils' session calls, and the function mounted under
// its host by a forwarding proxy (a Vercel rewrite, an nginx location)

const APP_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Neptun account</title></head>
<body>
<h1>Neptun account</h1>
<form id="login"><input name="email" type="email" required> <button>Sign in</button></form>
<p id="who">Not signed in</p>
<form id="change-email"><input name="email" type="email" required> <button>Change email</button></form>
<form id="change-password"><input name="password" type="password" required> <button>Change password</button></form>
<output id="result" data-seq="0"></output>
<script type="module">
const result = document.getElementById('result')
let user = null
let seq = 0
async function loadUser() {
  // useUserSession().fetch(): the session as the app's server reads it.
  const me = await (await fetch('/me', { signal: AbortSignal.timeout(${WAIT_MS}) })).json()
  user = me.data.user ?? null
  document.getElementById('who').textContent = user ? 'Signed in as ' + user.primary_email : 'Not signed in'
}
// What $fetch('/api/users/' + id, { method: 'PATCH', body }) sends.
async function patchUser(body) {
  const response = await fetch('/api/users/' + user.id, {
    method: 'PATCH',
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(${WAIT_MS}),
  })
  const text = await response.text()
  if (response.ok) {
    user = JSON.parse(text).user
    document.getElementById('who').textContent = 'Signed in as ' + user.primary_email
  }
  return { status: response.status, body: text }
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
on('login', async (form) => {
  const response = await fetch('/login', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ email: form.get('email') }),
    signal: AbortSignal.timeout(${WAIT_MS}),
  })
  await loadUser()
  return { status: response.status, body: await response.text() }
})
on('change-email', (form) => patchUser({ email: form.get('email') }))
on('change-password', (form) => patchUser({ password: form.get('password') }))
// Ready once the page knows its session: h3 answers the first /me of a browser without a
// cookie with a new (empty) session cookie, which must not race the sign-in's.
loadUser().finally(() => { document.body.dataset.ready = 'yes' })
</script>
</body></html>
`

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
  // The app's login, as nuxt-auth-utils' setUserSession writes it:
  //   session.update(defu(data, session.data))
  // (the real app checks the password against its database; this one knows the seeded users)
  router.post(
    '/login',
    defineEventHandler(async (event) => {
      const { email } = (await readBody(event)) ?? {}
      const user = USERS[email]
      if (!user) throw createError({ statusCode: 401, statusMessage: 'Unknown user' })
      const session = await useSession(event, SESSION)
      await session.update(
        defu({ user: { id: user.id, primary_email: email }, loggedInAt: new Date().toISOString() }, session.data),
      )
      return { user: session.data.user }
    }),
  )
  // The session as every other route of the app reads it (getUserSession).
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
  }
  log.push(entry)
  const upstream = http.request(
    { host: '127.0.0.1', port: target.port, method: req.method, path: req.url, headers, timeout: WAIT_MS },
    (answer) => {
      entry.status = answer.statusCode
      entry.headers = answer.headers
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

// One host of the app: `/api/users/*` to the function, the rest to h3.
function appServer({ keepHost, target }) {
  const log = []
  const h3 = nuxtApp()
  const server = http.createServer((req, res) => {
    if (req.url.startsWith('/api/users/')) {
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

async function launchBrowser(profile) {
  return within(
    30_000,
    'Chromium to start',
    chromium.launchPersistentContext(profile, {
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

// Submits one of the app page's forms and waits for the page's script to report.
async function submit(page, form, fields) {
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

  let fn
  const watchdog = setTimeout(() => {
    console.log(`FAIL the journey did not finish in ${JOURNEY_MS / 1000} s`)
    if (fn) console.log(`--- the function's stderr (last lines) ---\n${fn.stderr.split('\n').slice(-40).join('\n')}`)
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
    const apps = {
      keep: appServer({ keepHost: true, target }),
      rewrite: appServer({ keepHost: false, target }),
      unlisted: appServer({ keepHost: false, target }),
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
    const adminOrigin = origin('admin.neptun.localhost', sitesPort)
    const blogOrigin = origin('blog.neptun.localhost', sitesPort)
    const evilOrigin = origin('evil.localhost', sitesPort)

    // 1. The function, with the Nuxt app's password, COOKIE_SECURE left at its default
    // (true), and the origins allowed to call it cross-origin with credentials: the second
    // site, and the app host whose proxy rewrites Host (as the README says it must be).
    fn = await startFunction(bin, [adminOrigin, wwwOrigin])
    cleanups.push((now) => (now ? fn.child.kill('SIGKILL') : stopFunction(fn)))
    target.port = fn.port
    target.host = `api.neptun.localhost:${fn.port}`
    const functionUrl = `http://${target.host}`
    expectEqual(
      fn.seeds,
      [
        { id: 1, primary_email: 'user@example.com' },
        { id: 2, primary_email: 'other@example.com' },
      ],
      'the seeded users',
    )
    console.log(`the function listens at ${fn.url}; the app at ${appOrigin}; the function's own host ${functionUrl}`)

    const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'neptun-browser-'))
    cleanups.push(() => fs.rmSync(profile, { recursive: true, force: true }))
    const context = await launchBrowser(profile)
    cleanups.push((now) => (now ? undefined : within(WAIT_MS, 'the browser to close', context.close())))
    context.setDefaultTimeout(WAIT_MS)
    context.setDefaultNavigationTimeout(WAIT_MS)

    const app = await context.newPage()
    let login // GET /me right after the sign-in
    let loginCookie // the cookie h3 set at the sign-in
    let emailCookie // the cookie the function set with the new address

    await step('sign in on the app: h3 sets an HttpOnly neptun-session, /me reads it', async () => {
      await app.goto(`${appOrigin}/`)
      const outcome = await submit(app, 'login', { email: 'user@example.com' })
      expectEqual(outcome.status, 200, 'POST /login')
      loginCookie = await browserCookie(context, appOrigin)
      expectSessionCookieAttributes(loginCookie, 'app.neptun.localhost', 'after the sign-in')
      expectTrue(
        !(await app.evaluate(() => document.cookie)).includes(NAME),
        'the session cookie is visible to scripts (it must be HttpOnly)',
      )
      login = await me(app)
      expectEqual(login.data.user, { id: 1, primary_email: 'user@example.com' }, '/me after the sign-in')
      expectTrue(typeof login.data.loggedInAt === 'string' && login.id, '/me has a session id and loggedInAt')
      expectEqual(await app.textContent('#who'), 'Signed in as user@example.com', 'the page after the sign-in')
    })

    await step('change the address from the app page (proxy keeps Host, origin not listed): 200, refreshed cookie', async () => {
      const outcome = await submit(app, 'change-email', { email: 'new@example.com' })
      expectEqual(outcome, { status: 200, body: '{"user":{"id":1,"primary_email":"new@example.com"}}' }, 'PATCH /api/users/1')
      const exchange = apps.keep.log.at(-1)
      expectEqual(
        { method: exchange.method, host: exchange.host, origin: exchange.origin, secFetchSite: exchange.secFetchSite },
        { method: 'PATCH', host: `app.neptun.localhost:${apps.keep.port}`, origin: appOrigin, secFetchSite: 'same-origin' },
        'what the function received through the proxy',
      )
      const set = sessionFromSetCookie(exchange.headers['set-cookie'])
      expectTrue(set, 'the function answered 200 without a Set-Cookie')
      expectTrue(
        /^neptun-session=Fe26\.2\*[^;]+; Max-Age=\d+; Path=\/; HttpOnly; Secure; SameSite=Lax$/.test(set.header),
        `the function's Set-Cookie has h3's attributes: ${set.header.replace(/=Fe26[^;]*/, '=…')}`,
      )
      emailCookie = await browserCookie(context, appOrigin)
      expectSessionCookieAttributes(emailCookie, 'app.neptun.localhost', 'after the change')
      expectTrue(emailCookie.value === set.value, "the browser's cookie is not the one the function's Set-Cookie carried")
      expectTrue(emailCookie.value !== loginCookie.value, 'the cookie did not change')
      const lifetime = emailCookie.expires - Date.now() / 1000
      expectTrue(Math.abs(lifetime - 604_800) < 60, `the refreshed cookie lives 7 days, not ${lifetime} s`)
      const sealed = await unseal(emailCookie.value)
      expectEqual(sealed.data.user, { id: 1, primary_email: 'new@example.com' }, 'the refreshed seal, unsealed by h3')
      const after = await me(app)
      expectEqual(
        { id: after.id, createdAt: after.createdAt, loggedInAt: after.data.loggedInAt, user: after.data.user },
        { id: login.id, createdAt: login.createdAt, loggedInAt: login.data.loggedInAt, user: { id: 1, primary_email: 'new@example.com' } },
        '/me after the change: the new address, the same session',
      )
      expectTrue(Number.isInteger(after.data.sessionVersion), '/me: the function recorded the session version')
      expectEqual(await app.textContent('#who'), 'Signed in as new@example.com', 'the page after the change')
    })

    await step('change the password: 200, a new cookie h3 still reads, the old cookie answers 401', async () => {
      const before = await me(app)
      // Not the brief's 'a-new-password-1': the function refuses a password containing the
      // address's local part ('new'), as the web UI's schema does.
      const outcome = await submit(app, 'change-password', { password: 'a-fresh-password-1' })
      expectEqual(outcome, { status: 200, body: '{"user":{"id":1,"primary_email":"new@example.com"}}' }, 'PATCH /api/users/1')
      const set = sessionFromSetCookie(apps.keep.log.at(-1).headers['set-cookie'])
      const cookie = await browserCookie(context, appOrigin)
      expectSessionCookieAttributes(cookie, 'app.neptun.localhost', 'after the password change')
      expectTrue(set && cookie.value === set.value, "the browser's cookie is not the function's new one")
      expectTrue(cookie.value !== emailCookie.value, 'the cookie did not change')
      const after = await me(app)
      expectEqual(
        { id: after.id, createdAt: after.createdAt, loggedInAt: after.data.loggedInAt, user: after.data.user },
        { id: login.id, createdAt: login.createdAt, loggedInAt: login.data.loggedInAt, user: { id: 1, primary_email: 'new@example.com' } },
        '/me after the password change',
      )
      expectEqual(after.data.sessionVersion, before.data.sessionVersion + 1, 'the session version after a password change')
      // Every other cookie of the user is revoked: the one from before the change, replayed.
      const replay = await fetch(`${fn.url}/api/users/1`, {
        method: 'PATCH',
        headers: { cookie: `${NAME}=${emailCookie.value}`, 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'new@example.com' }),
        signal: AbortSignal.timeout(WAIT_MS),
      })
      expectEqual(replay.status, 401, 'the cookie from before the password change, replayed')
    })

    await step('the proxy that rewrites Host: the listed app origin passes, an unlisted one gets 403', async () => {
      const www = await context.newPage()
      await www.goto(`${wwwOrigin}/`)
      expectEqual((await submit(www, 'login', { email: 'other@example.com' })).status, 200, 'POST /login on www')
      const outcome = await submit(www, 'change-email', { email: 'other-new@example.com' })
      expectEqual(outcome, { status: 200, body: '{"user":{"id":2,"primary_email":"other-new@example.com"}}' }, 'PATCH via www')
      const exchange = apps.rewrite.log.at(-1)
      expectEqual(
        { host: exchange.host, origin: exchange.origin, allowOrigin: exchange.headers['access-control-allow-origin'] },
        { host: target.host, origin: wwwOrigin, allowOrigin: wwwOrigin },
        'the function saw a cross-origin call from a listed origin',
      )
      const cookie = await browserCookie(context, wwwOrigin)
      expectTrue(cookie && cookie.value === sessionFromSetCookie(exchange.headers['set-cookie'])?.value, "www's cookie is not the function's")
      expectEqual((await me(www)).data.user, { id: 2, primary_email: 'other-new@example.com' }, '/me on www')

      const beta = await context.newPage()
      await beta.goto(`${betaOrigin}/`)
      expectEqual((await submit(beta, 'login', { email: 'other@example.com' })).status, 200, 'POST /login on beta')
      const betaCookie = await browserCookie(context, betaOrigin)
      const refused = await submit(beta, 'change-email', { email: 'beta@example.com' })
      expectEqual(refused.status, 403, 'PATCH via beta (Host rewritten, origin not listed)')
      expectEqual(JSON.parse(refused.body).message, 'You do not have access to this resource.', 'the 403 message')
      expectTrue(!apps.unlisted.log.at(-1).headers['set-cookie'], 'a 403 set a cookie')
      expectEqual((await browserCookie(context, betaOrigin)).value, betaCookie.value, "beta's cookie after the 403")
      await www.close()
      await beta.close()
    })

    const admin = await context.newPage()
    const adminPreflights = await recordPreflights(context, admin)

    await step('the allowed second site calls the route where the app mounts it: preflight 204, then 200 with CORS', async () => {
      await admin.goto(`${adminOrigin}/`)
      const url = `${appOrigin}/api/users/1`
      const { outcome, headers } = await crossOriginPatch(admin, url, { email: 'admin@example.com' })
      expectEqual(outcome, { status: 200, body: '{"user":{"id":1,"primary_email":"admin@example.com"}}' }, 'the PATCH, as the page sees it')
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
      const cookie = await browserCookie(context, appOrigin)
      expectTrue(cookie.value === sessionFromSetCookie(sent[1].headers['set-cookie'])?.value, "the app's cookie is not the function's refreshed one")
      expectEqual((await me(app)).data.user, { id: 1, primary_email: 'admin@example.com' }, '/me on the app')
    })

    await step("the allowed second site calls the function's own host directly: preflight 204, then 200 with CORS", async () => {
      // The function has no login of its own, and a browser holds a cookie for a host only
      // when that host set it. Here the user signed in on the function's host: the app's own
      // login (its /login, setUserSession) made the session, and the browser keeps it for
      // api.neptun.localhost with the attributes h3 gave it, host-only, as a login page
      // served on that host would have left it. From then on the cookie is the function's:
      // it must replace it with its refreshed one, also on a CORS response.
      const signIn = await fetch(`http://127.0.0.1:${apps.keep.port}/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'user@example.com' }),
        signal: AbortSignal.timeout(WAIT_MS),
      })
      expectEqual(signIn.status, 200, "the app's login")
      const set = sessionFromSetCookie(signIn.headers.getSetCookie())
      expectTrue(/; HttpOnly; Secure; SameSite=Lax$/.test(set.header), `h3's cookie attributes: ${set.header.replace(/=Fe26[^;]*/, '=…')}`)
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
      expectEqual((await unseal(cookie.value)).data.user, { id: 1, primary_email: 'direct@example.com' }, 'the refreshed seal, unsealed by h3')
    })

    await step('pages of sites not listed change nothing: the browser blocks the PATCH at the preflight', async () => {
      const attempts = []
      for (const siteOrigin of [blogOrigin, evilOrigin]) {
        const page = await context.newPage()
        await page.goto(`${siteOrigin}/`)
        for (const url of [`${appOrigin}/api/users/1`, `${functionUrl}/api/users/1`]) {
          const { outcome } = await crossOriginPatch(page, url, { email: 'pwned@example.com' })
          attempts.push([siteOrigin, url, outcome.error ? 'blocked' : outcome.status])
        }
        // A request with no preflight: a no-cors form-like POST, cookie and all if same-site.
        const simple = await within(
          WAIT_MS + 1_000,
          'a no-cors POST',
          page.evaluate(
            (u) => window.callApi(u, { method: 'POST', mode: 'no-cors', credentials: 'include', body: '{"email":"pwned@example.com"}' }),
            `${appOrigin}/api/users/1`,
          ),
        )
        attempts.push([siteOrigin, 'no-cors POST', simple.error ? 'blocked' : simple.status])
        await page.close()
      }
      expectEqual(
        attempts,
        [blogOrigin, evilOrigin].flatMap((o) => [
          [o, `${appOrigin}/api/users/1`, 'blocked'],
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
      // The store's address, as a same-origin password change on the app reports it, and the
      // session every route of the app reads: the direct call's address, not the attacker's.
      const outcome = await submit(app, 'change-password', { password: 'a-fresh-password-2' })
      expectEqual(outcome, { status: 200, body: '{"user":{"id":1,"primary_email":"direct@example.com"}}' }, 'the stored address')
      const after = await me(app)
      expectEqual([after.id, after.data.user.primary_email], [login.id, 'direct@example.com'], '/me at the end')
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

  if (failed && fn) {
    console.log(`--- the function's stderr (last lines) ---\n${fn.stderr.split('\n').slice(-40).join('\n')}`)
  }
  const count = (result) => steps.filter((s) => s.result === result).length
  console.log(`browser-journey: ${count('passed')} passed, ${count('failed')} failed, ${count('skipped')} skipped`)
  return failed ? 1 : 0
}

// Exit now, whatever still holds the event loop (pipes to a process that did not stop).
process.exit(await main())
