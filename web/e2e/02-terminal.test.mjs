// A student starts the playground, waits for a real kind cluster, types
// `kubectl get nodes` in the browser terminal and sees both nodes Ready,
// reloads the page and finds the same shell, then stops the environment.
import { startServer, launchBrowser, watchConsole, assert, artifacts, removeClusters, waitScreen, stopEnvironment } from './harness.mjs'

export default async function () {
  const prefix = `ckweb${Date.now() % 100000}-`
  const srv = await startServer({ CKALAB_CLUSTER_PREFIX: prefix, CKALAB_POOL_SIZE: '0', CKALAB_NODE_MEMORY: '2g' })
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

    await stopEnvironment(page)
    assert(errors.length === 0, 'browser errors: ' + errors.join('\n'))
  } finally {
    await browser.close()
    await srv.stop()
    removeClusters(prefix)
  }
}
