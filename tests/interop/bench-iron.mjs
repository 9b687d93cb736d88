#!/usr/bin/env node
// iron-webcrypto's own unseal + seal of one h3 session object, as h3 calls them (its default
// options, a string password): the baseline for the Nuxt format's cost in the Rust bench.
// Prints one JSON line: {"pairs": N, "ns_per_pair": …}. Usage: node bench-iron.mjs [N]
import { seal, unseal, defaults } from 'iron-webcrypto'

const PASSWORD = 'bench-secret-bench-secret-bench-secret-1'
// The same object as benches/handler.rs's NUXT_SESSION.
const SESSION = {
  id: '2f273744-b82b-4ea5-bde7-ea0ba7b31e5e',
  createdAt: 1796154020615,
  data: { user: { id: 1, primary_email: 'bench@example.com' }, loggedInAt: '2026-12-01T10:00:00.000Z' },
}
const pairs = Number(process.argv[2] ?? 2000)
const sealed = await seal(crypto, SESSION, PASSWORD, defaults)
const pair = async () => {
  const opened = await unseal(crypto, sealed, PASSWORD, defaults)
  return seal(crypto, opened, PASSWORD, { ...defaults, ttl: 604800000 })
}
for (let i = 0; i < Math.min(200, pairs); i++) await pair() // warm-up
const started = process.hrtime.bigint()
for (let i = 0; i < pairs; i++) await pair()
const elapsed = Number(process.hrtime.bigint() - started)
process.stdout.write(`${JSON.stringify({ pairs, ns_per_pair: Math.round(elapsed / pairs) })}\n`)
