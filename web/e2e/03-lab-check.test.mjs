// A student starts a graded lab, reads its tasks, presses Check (failing
// checks with reasons), solves it in the terminal and checks again: full
// marks, visible to the instructor's history.
import { startServer, launchBrowser, watchConsole, assert, artifacts, removeClusters, waitScreen, stopEnvironment } from './harness.mjs'

export default async function () {
  const prefix = `cklab${Date.now() % 100000}-`
  const srv = await startServer({ CKALAB_CLUSTER_PREFIX: prefix, CKALAB_POOL_SIZE: '0' })
  const browser = await launchBrowser()
  const errors = []
  try {
    srv.addUser('ana@example.com', 'student', 'ana-password-1')
    const page = await (await browser.newContext({ viewport: { width: 1440, height: 900 } })).newPage()
    watchConsole(page, errors)
    await page.goto(srv.url + '/')
    await page.getByLabel('Email').fill('ana@example.com')
    await page.getByLabel('Password').fill('ana-password-1')
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByRole('button', { name: 'Start Just enough access for a developer and a CI bot' }).click()
    await page.getByRole('tab', { selected: true }).waitFor({ timeout: 300000 })
    const cp = (await page.getByRole('tab', { selected: true }).innerText()).split(' ')[0]
    await page.getByText('A Role for jane in dev').waitFor()

    await page.getByRole('button', { name: 'Check', exact: true }).click()
    await page.getByText(/Score: [0-4]\.\d \/ 5/).waitFor({ timeout: 60000 })
    await page.getByText('jane cannot list pods in namespace dev yet').waitFor()
    await page.screenshot({ path: `${artifacts}/lab-check-failing.png` })

    await page.getByLabel(`${cp} terminal connected`).waitFor({ timeout: 30000 })
    await waitScreen(page, cp, /root@.*# $/m, 20000)
    await page.getByTestId(`terminal-${cp}`).click()
    for (const cmd of [
      'k create role developer -n dev --verb=get,list,watch,create,update,delete --resource=pods,deployments.apps',
      'k create rolebinding developer -n dev --role=developer --user=jane',
      'k create clusterrole node-reader --verb=get,list,watch --resource=nodes',
      'k create clusterrolebinding ci-bot-node-reader --clusterrole=node-reader --serviceaccount=dev:ci-bot',
    ]) {
      await page.keyboard.type(cmd + '\n')
    }
    await waitScreen(page, cp, /clusterrolebinding.rbac.authorization.k8s.io\/ci-bot-node-reader created/, 30000)
    await page.getByRole('button', { name: 'Check', exact: true }).click()
    await page.getByText(/Score: 5\.0 \/ 5/).waitFor({ timeout: 60000 })
    await page.screenshot({ path: `${artifacts}/lab-check-passing.png` })

    const envId = new URL(page.url()).pathname.split('/').pop()
    const runs = await page.evaluate(async (id) => (await (await fetch(`/api/v1/environments/${id}/checks`)).json()).runs, envId)
    assert(runs.length === 2 && runs[0].score === 5 && runs[1].score < 5, 'history ' + JSON.stringify(runs.map((r) => r.score)))
    await stopEnvironment(page)
    assert(errors.length === 0, 'browser errors: ' + errors.join('\n'))
  } finally {
    await browser.close()
    await srv.stop()
    removeClusters(prefix)
  }
}
