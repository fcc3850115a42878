// Harness for browser tests: a real ckalab binary with its own embedded
// PostgreSQL and state directory, and Debian's Chromium through playwright-core.
import { spawn, execFileSync } from 'node:child_process'
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import net from 'node:net'
import { chromium } from 'playwright-core'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
export const artifacts = join(root, 'web', 'e2e', 'artifacts')
mkdirSync(artifacts, { recursive: true })

async function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer()
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)) })
  })
}

export async function startServer(extraEnv = {}) {
  const state = mkdtempSync(join(tmpdir(), 'ckalab-e2e-'))
  execFileSync('chmod', ['755', state])
  const port = await freePort()
  // extraEnv may be a function of the server's URL (e.g. for CKALAB_PUBLIC_URL).
  const more = typeof extraEnv === 'function' ? extraEnv(`http://127.0.0.1:${port}`) : extraEnv
  const env = { ...process.env, CKALAB_STATE_DIR: state, CKALAB_LISTEN: `127.0.0.1:${port}`, ...more }
  const bin = join(root, 'bin', 'ckalab')
  const proc = spawn(bin, ['serve'], { env, stdio: ['ignore', 'inherit', 'pipe'] })
  let log = ''
  proc.stderr.on('data', (d) => { log += d })
  const url = `http://127.0.0.1:${port}`
  for (let i = 0; i < 300; i++) {
    try { if ((await fetch(url + '/readyz')).ok) break } catch { /* not yet */ }
    if (proc.exitCode !== null) throw new Error('ckalab exited:\n' + log)
    await new Promise((r) => setTimeout(r, 100))
  }
  const addUser = (email, role, password) => execFileSync(bin, ['user', 'add', '--email', email, '--role', role], { env, input: password + '\n' }).toString()
  const stop = async () => {
    proc.kill('SIGTERM')
    await new Promise((r) => proc.once('exit', r))
    rmSync(state, { recursive: true, force: true })
  }
  // sql runs one statement on the server's embedded PostgreSQL and returns
  // the first row's first field (for fixtures that need no cluster).
  const sql = (q) => execFileSync('psql', ['-h', join(state, 'postgres', 'run'), '-U', 'ckalab', '-d', 'ckalab', '-At', '-c', q]).toString().trim().split('\n')[0]
  return { url, addUser, stop, sql, log: () => log }
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
  })
}

// watchConsole fails the test on any browser console error or page error.
export function watchConsole(page, errors) {
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()) })
  page.on('pageerror', (e) => errors.push(String(e)))
}

export function assert(cond, msg) { if (!cond) throw new Error('assertion failed: ' + msg) }

// removeClusters deletes kind clusters (containers and networks) whose
// name starts with prefix: what a failed test left behind.
export function removeClusters(prefix) {
  const out = execFileSync('docker', ['ps', '-a', '--filter', 'label=io.x-k8s.kind.cluster', '--format', '{{.Names}} {{.Label "io.x-k8s.kind.cluster"}}']).toString()
  const clusters = new Set()
  for (const line of out.split('\n')) {
    const [name, cluster] = line.split(' ')
    if (cluster && cluster.startsWith(prefix)) {
      clusters.add(cluster)
      execFileSync('docker', ['rm', '-f', '-v', name], { stdio: 'ignore' })
    }
  }
  for (const c of clusters) {
    try { execFileSync('docker', ['network', 'rm', c + '-net'], { stdio: 'ignore' }) } catch { /* none */ }
  }
}

// The text on a node's terminal, read from xterm.js's buffer.
export const screen = (page, node) => page.evaluate((n) => {
  const el = document.querySelector(`[data-testid="terminal-${n}"]`)
  const buf = el?.xterm?.buffer.active
  if (!buf) return ''
  const lines = []
  for (let i = 0; i < buf.length; i++) lines.push(buf.getLine(i)?.translateToString(true) ?? '')
  return lines.join('\n')
}, node)

export async function waitScreen(page, node, re, ms) {
  const end = Date.now() + ms
  let text = ''
  while (Date.now() < end) {
    text = await screen(page, node)
    if (re.test(text)) return text
    await page.waitForTimeout(250)
  }
  throw new Error(`terminal never showed ${re}; screen:\n${text}`)
}


// stopEnvironment presses Stop on the environment page, confirms, and waits
// until its cluster is deleted, so the server is not stopped with a cluster half-gone.
export async function stopEnvironment(page) {
  const envId = new URL(page.url()).pathname.split('/').pop()
  await page.getByRole('button', { name: 'Stop environment' }).click()
  await page.getByRole('alertdialog', { name: 'Confirm stop' }).getByRole('button', { name: 'Stop now' }).click()
  await page.getByRole('heading', { name: 'Labs', exact: true }).waitFor()
  let state = ''
  for (let i = 0; i < 240 && state !== 'deleted'; i++) {
    state = await page.evaluate(async (id) => (await (await fetch('/api/v1/environments/' + id)).json()).environment.state, envId)
    if (state !== 'deleted') await page.waitForTimeout(500)
  }
  assert(state === 'deleted', `environment ${envId} is ${state} two minutes after Stop`)
}
