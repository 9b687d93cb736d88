#!/usr/bin/env node
// h3 1.x session cookies, sealed and unsealed by h3's own code (which seals with
// iron-webcrypto), the way the Nuxt app's nuxt-auth-utils 0.5 uses them:
//   useSession(event, { name: 'neptun-session', password, cookie: { sameSite: 'lax' } })
//   setUserSession(event, data) === session.update(defu(data, session.data))
// Every request goes through a real h3 app, in process (toWebHandler), so the cookie is read
// from and written to real Cookie / Set-Cookie headers.
//
// Usage: one JSON object on stdin, one line of JSON on stdout.
//   node h3-session.mjs seal    <<< '{"password": "...", "data": {...}, "maxAge": 3600}'
//     -> {"cookie": "<sealed>", "id": "<uuid>", "createdAt": <ms>, "setCookie": "<header>"}
//   node h3-session.mjs unseal  <<< '{"password": "...", "cookie": "<sealed>", "maxAge": 3600}'
//     -> {"id": "...", "createdAt": <ms>, "data": {...}}   or   {"error": "..."}
//   node h3-session.mjs reseal  <<< '{"password": "...", "cookie": "<sealed>"}'
//     -> {"cookie": "<sealed>", "setCookie": "<header>"}
//     what the Nuxt app's session fetch (GET /api/_auth/session) answers to a request
//     carrying that cookie: its server plugin's
//       replaceUserSession(event, {user: session.user, loggedInAt: new Date()})
//     which is session.clear() then session.update(data); h3 re-reads the request's cookie
//     for the update, so `id`, `createdAt` and the other keys of `data` survive.
// maxAge (seconds) is optional in both; the app sets none (no expiration in the seal).
// Exit code: 0 with a JSON answer (including {"error"}), 2 on bad usage or input.
import { createApp, defineEventHandler, getCookie, toWebHandler, unsealSession, useSession } from 'h3'
import { defu } from 'defu'

const NAME = 'neptun-session'

function sessionConfig(input) {
  if (typeof input.password !== 'string') throw new Error('password must be a string')
  const config = { name: NAME, password: input.password, cookie: { sameSite: 'lax' } }
  if (input.maxAge !== undefined && input.maxAge !== null) {
    if (typeof input.maxAge !== 'number') throw new Error('maxAge must be a number of seconds')
    config.maxAge = input.maxAge
  }
  return config
}

async function readStdin() {
  const chunks = []
  for await (const chunk of process.stdin) chunks.push(chunk)
  return JSON.parse(Buffer.concat(chunks).toString('utf8'))
}

// The value of the last Set-Cookie header for NAME (h3 replaces earlier ones of the same name).
function sealedFromSetCookie(response) {
  const headers = response.headers.getSetCookie()
  const mine = headers.filter((h) => h.startsWith(`${NAME}=`))
  if (mine.length === 0) throw new Error('h3 set no session cookie')
  const header = mine[mine.length - 1]
  const value = header.slice(NAME.length + 1).split(';', 1)[0]
  return { cookie: decodeURIComponent(value), setCookie: header }
}

async function seal(input) {
  const config = sessionConfig(input)
  const data = input.data ?? {}
  let created
  const app = createApp()
  app.use(
    defineEventHandler(async (event) => {
      const session = await useSession(event, config)
      await session.update(defu(data, session.data))
      created = event.context.sessions[NAME]
      return 'ok'
    }),
  )
  const response = await toWebHandler(app)(new Request('http://localhost/seal'))
  if (response.status !== 200) throw new Error(`h3 answered ${response.status}: ${await response.text()}`)
  const { cookie, setCookie } = sealedFromSetCookie(response)
  return { cookie, id: created.id, createdAt: created.createdAt, setCookie }
}

async function unseal(input) {
  const config = sessionConfig(input)
  if (typeof input.cookie !== 'string') throw new Error('cookie must be a string')
  const app = createApp()
  app.use(
    defineEventHandler(async (event) => {
      // The function useSession/getSession calls on the request's cookie; it throws where
      // getSession would silently start a new session, so the error can be reported.
      const sealed = getCookie(event, NAME)
      if (!sealed) return { error: 'no session cookie in the request' }
      try {
        return await unsealSession(event, config, sealed)
      } catch (error) {
        return { error: String(error?.message ?? error) }
      }
    }),
  )
  const request = new Request('http://localhost/unseal', {
    headers: { cookie: `${NAME}=${encodeURIComponent(input.cookie)}` },
  })
  const response = await toWebHandler(app)(request)
  if (response.status !== 200) throw new Error(`h3 answered ${response.status}: ${await response.text()}`)
  return await response.json()
}

async function reseal(input) {
  const config = sessionConfig(input)
  if (typeof input.cookie !== 'string') throw new Error('cookie must be a string')
  const app = createApp()
  app.use(
    defineEventHandler(async (event) => {
      // nuxt-auth-utils' getUserSession: the data, as the request's cookie has it.
      const session = await useSession(event, config)
      const user = session.data.user
      // Its session endpoint calls the fetch hook only for a non-empty session (it always
      // is: getUserSession adds the id), and the app's hook replaces the session.
      await session.clear()
      await session.update({ user, loggedInAt: new Date() })
      return 'ok'
    }),
  )
  const request = new Request('http://localhost/api/_auth/session', {
    headers: { cookie: `${NAME}=${encodeURIComponent(input.cookie)}` },
  })
  const response = await toWebHandler(app)(request)
  if (response.status !== 200) throw new Error(`h3 answered ${response.status}: ${await response.text()}`)
  return sealedFromSetCookie(response)
}

const commands = { seal, unseal, reseal }
const command = commands[process.argv[2]]
if (!command) {
  process.stderr.write('usage: node h3-session.mjs seal|unseal|reseal < input.json\n')
  process.exit(2)
}
try {
  const output = await command(await readStdin())
  process.stdout.write(`${JSON.stringify(output)}\n`)
} catch (error) {
  process.stderr.write(`h3-session: ${error?.stack ?? error}\n`)
  process.exit(2)
}
