// Runs every browser test in this folder (files named *.test.mjs) in order.
import { readdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'

const dir = dirname(fileURLToPath(import.meta.url))
const only = process.argv[2]
let failed = 0
for (const f of readdirSync(dir).filter((f) => f.endsWith('.test.mjs')).sort()) {
  if (only && !f.includes(only)) continue
  const t0 = Date.now()
  try {
    const mod = await import(`./${f}`)
    await mod.default()
    console.log(`ok   ${f} (${((Date.now() - t0) / 1000).toFixed(1)}s)`)
  } catch (e) {
    failed++
    console.log(`FAIL ${f}: ${e.stack || e}`)
  }
}
if (failed) { console.log(`${failed} browser test file(s) failed`); process.exit(1) }
