// A student starts the playground, waits for a real kind cluster, types
// `kubectl get nodes` in the browser terminal and sees both nodes Ready,
// reloads the page and finds the same shell; leaves, and finds on coming
// back that the cluster slept and wakes with the shell as it was; then
// stops the environment.
import { execFileSync } from 'node:child_process'
import { startServer, launchBrowser, watchConsole, assert, artifacts, removeClusters, waitScreen, stopEnvironment } from './harness.mjs'

export default async function () {
  const prefix = `ckweb${Date.now() % 100000}-`
  const srv = await startServer({ CKALAB_CLUSTER_PREFIX: prefix, CKALAB_POOL_SIZE: '0', CKALAB_NODE_MEMORY: '2g', CKALAB_SLEEP_AFTER: '1m' })
  const browser = await launchBrowser()
  const errors = []
  try {
    srv.addUser('ana@example.com', 'student', 'ana-password-1')
    const ctx = await browser.newContext({ viewport: { width: 1360, height: 900 } })
    await ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: srv.url })
    const page = await ctx.newPage()
    watchConsole(page, errors)
    await page.goto(srv.url + '/')
    await page.getByLabel('Email').fill('ana@example.com')
    await page.getByLabel('Password').fill('ana-password-1')
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByRole('button', { name: 'Start playground' }).click()
    await page.getByText('Preparing your cluster').waitFor()
    await page.screenshot({ path: `${artifacts}/environment-progress.png` })

    const started = Date.now()
    await page.getByRole('tab', { selected: true }).waitFor({ timeout: 300000 })
    console.log(`  environment ready in the page after ${((Date.now() - started) / 1000).toFixed(1)} s`)
    const cp = (await page.getByRole('tab', { selected: true }).innerText()).split(' ')[0]
    assert(cp.endsWith('-control-plane'), 'first tab is the control plane: ' + cp)
    await page.getByLabel(`${cp} terminal connected`).waitFor({ timeout: 30000 })
    await waitScreen(page, cp, /root@.*# $/m, 20000)
    await page.getByTestId(`terminal-${cp}`).click()
    await page.keyboard.type('kubectl get nodes\n')
    const text = await waitScreen(page, cp, /-worker\s+Ready/, 30000)
    assert(new RegExp(cp + '\\s+Ready\\s+control-plane').test(text), 'control plane Ready in:\n' + text)
    await page.screenshot({ path: `${artifacts}/terminal-kubectl.png` })

    // Reload: the same shell comes back with its output.
    await page.keyboard.type('echo marker-$((40+2))\n')
    await waitScreen(page, cp, /^marker-42/m, 10000)
    await page.reload()
    await page.getByLabel(`${cp} terminal connected`).waitFor({ timeout: 30000 })
    await waitScreen(page, cp, /^marker-42/m, 10000)

    // The worker's tab opens a shell on the worker.
    const worker = cp.replace(/-control-plane$/, '-worker')
    await page.getByRole('tab', { name: new RegExp(worker) }).click()
    await page.getByLabel(`${worker} terminal connected`).waitFor({ timeout: 30000 })
    await page.getByTestId(`terminal-${worker}`).click()
    await page.keyboard.type('hostname\n')
    await waitScreen(page, worker, new RegExp('^' + worker + '$', 'm'), 10000)

    // The student leaves; an hour on (set back in the database), the
    // cluster sleeps; coming back wakes it, the shells as they were.
    const envURL = page.url()
    await page.goto(srv.url + '/')
    await page.getByRole('heading', { name: 'Labs', exact: true }).waitFor()
    srv.sql(`UPDATE environments SET started_at = now() - interval '1 hour', last_activity_at = now() - interval '1 hour', last_seen_at = now() - interval '1 hour' WHERE state = 'in_use'`)
    const paused = () => execFileSync('docker', ['inspect', '-f', '{{.State.Paused}}', cp]).toString().trim() === 'true'
    for (let i = 0; !paused(); i++) {
      assert(i < 60, 'the idle cluster was not paused within 30 s')
      await new Promise((r) => setTimeout(r, 500))
    }
    await page.goto(envURL)
    await page.getByLabel('Waking your cluster').waitFor({ timeout: 10000 })
    await page.screenshot({ path: `${artifacts}/environment-waking.png` })
    await page.getByText(/Your cluster was asleep and woke in [0-9.]+ s/).waitFor({ timeout: 90000 })
    assert(!paused(), 'the page says awake but the node is paused')
    await page.getByLabel(`${worker} terminal connected`).or(page.getByLabel(`${cp} terminal connected`)).first().waitFor({ timeout: 30000 })
    await page.getByRole('tab', { name: new RegExp(cp) }).click()
    await page.getByLabel(`${cp} terminal connected`).waitFor({ timeout: 30000 })
    await waitScreen(page, cp, /^marker-42/m, 10000)
    await page.getByTestId(`terminal-${cp}`).click()
    await page.keyboard.type('kubectl get nodes --no-headers | grep -c " Ready "\n')
    await waitScreen(page, cp, /^2$/m, 30000)

    await stopEnvironment(page)
    assert(errors.length === 0, 'browser errors: ' + errors.join('\n'))
  } finally {
    await browser.close()
    await srv.stop()
    removeClusters(prefix)
  }
}
