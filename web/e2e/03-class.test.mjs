// A class, end to end: an instructor creates a cohort and invites a
// student; the student signs up, starts a graded lab, reveals a hint,
// fails Check, solves the task in the terminal and passes. The instructor
// follows on the live board (the pass arrives without a reload), watches
// and takes over the student's terminal, and finds the pass in the CSV.
// Last, the student resets the lab and gets a fresh cluster.
import { readFileSync } from 'node:fs'
import { startServer, launchBrowser, watchConsole, assert, artifacts, removeClusters, waitScreen, stopEnvironment } from './harness.mjs'

export default async function () {
  const prefix = `ckcls${Date.now() % 100000}-`
  const srv = await startServer({ CKALAB_CLUSTER_PREFIX: prefix, CKALAB_POOL_SIZE: '0' })
  const browser = await launchBrowser()
  const errors = []
  try {
    srv.addUser('teacher@example.com', 'instructor', 'teacher-password')
    const tctx = await browser.newContext({ viewport: { width: 1280, height: 800 } })
    const tpage = await tctx.newPage()
    watchConsole(tpage, errors)
    await signIn(tpage, srv.url, 'teacher@example.com', 'teacher-password')
    await tpage.getByRole('link', { name: 'Cohorts' }).click()
    await tpage.getByLabel('New cohort name').fill('CKA November')
    await tpage.getByRole('button', { name: 'Create cohort' }).click()
    await tpage.getByRole('link', { name: /CKA November/ }).click()
    await tpage.getByText('No students yet').waitFor()
    await tpage.getByLabel('Emails').fill('ana@example.com')
    await tpage.getByRole('button', { name: 'Create invites' }).click()
    const link = await tpage.getByLabel('Invite link for ana@example.com').inputValue()

    // The student signs up through the invite.
    const sctx = await browser.newContext({ viewport: { width: 1280, height: 800 } })
    const page = await sctx.newPage()
    watchConsole(page, errors)
    await page.goto(link)
    await page.getByLabel('Name').fill('Ana Lyst')
    await page.getByLabel(/Password/).fill('ana-password-1')
    await page.getByRole('button', { name: 'Create account and join' }).click()
    await page.getByRole('heading', { name: 'Labs', exact: true }).waitFor()

    // She appears on the board without a reload.
    const row = tpage.getByTestId('student-ana@example.com')
    await row.getByText('not started').waitFor({ timeout: 10000 })

    // The catalog filters by difficulty.
    const rbac = page.getByTestId('lab-rbac-developer')
    await rbac.getByText('Not attempted').waitFor()
    await page.getByLabel('Difficulty').selectOption('hard')
    await page.getByTestId('lab-kubeadm-upgrade').waitFor()
    assert(!(await rbac.isVisible()), 'an easy lab shows under the hard filter')
    await page.getByLabel('Difficulty').selectOption('')
    await page.screenshot({ path: `${artifacts}/catalog.png` })

    // Start, a hint, a failing Check.
    await page.getByRole('button', { name: 'Start Just enough access for a developer and a CI bot' }).click()
    await page.getByText('Preparing your cluster').waitFor()
    const rbacTitle = 'Just enough access for a developer and a CI bot'
    await row.getByText(new RegExp(rbacTitle + ': (queued|starting|setting up)')).waitFor({ timeout: 10000 })
    await page.getByRole('tab', { selected: true }).waitFor({ timeout: 300000 })
    const cp = (await page.getByRole('tab', { selected: true }).innerText()).split(' ')[0]
    await page.getByRole('timer').waitFor()
    await page.getByRole('button', { name: /Show a hint \(1 of/ }).first().click()
    await page.getByRole('list', { name: 'Hints for task 1' }).getByRole('listitem').first().waitFor()
    await page.getByRole('button', { name: 'Check', exact: true }).click()
    await page.getByText(/Score: [0-4]\.\d \/ 5/).waitFor({ timeout: 60000 })
    await page.getByText(/user jane cannot get pods, list pods, .* in namespace dev yet/).waitFor()
    await page.screenshot({ path: `${artifacts}/lab-check-failing.png` })
    await row.locator('[data-lab="rbac-developer"]').getByText(/^[0-4]\.\d\/5$/).waitFor({ timeout: 10000 })
    await row.getByText(rbacTitle + ': running').waitFor()
    await tpage.screenshot({ path: `${artifacts}/cohort-board.png` })

    // The instructor watches her terminal from the student page, in a second tab.
    await page.getByLabel(`${cp} terminal connected`).waitFor({ timeout: 30000 })
    await waitScreen(page, cp, /root@.*# $/m, 20000)
    const wpage = await tctx.newPage()
    watchConsole(wpage, errors)
    await wpage.goto(tpage.url())
    await wpage.getByTestId('student-ana@example.com').getByRole('link', { name: 'Ana Lyst' }).click()
    await wpage.getByRole('heading', { name: 'Ana Lyst' }).waitFor()
    await wpage.getByText(`${cp} · Ready`).waitFor({ timeout: 20000 })
    await wpage.getByLabel(`${cp} terminal connected`).waitFor({ timeout: 20000 })
    await page.getByTestId(`terminal-${cp}`).click()
    await page.keyboard.type('echo hello-from-$((40+2))\n')
    await waitScreen(wpage, cp, /hello-from-42/, 10000)
    await wpage.getByText(/of \d+ hints used/).first().waitFor()
    await wpage.screenshot({ path: `${artifacts}/student-page.png` })
    await wpage.getByRole('button', { name: 'Take over' }).click()
    await wpage.getByTestId(`terminal-${cp}`).click()
    await wpage.keyboard.type('echo teacher-$((6*7))\n')
    await waitScreen(page, cp, /teacher-42/, 10000)
    // Both may type now; she is told who joined.
    await page.getByText('teacher@example.com (instructor) has taken over this terminal').waitFor()
    assert(!(await wpage.getByRole('button', { name: 'Take over' }).isVisible()), 'the instructor still only watches')

    // She solves it and passes; the board shows the pass live.
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
    await row.locator('[data-lab="rbac-developer"]').getByText('✓ 5.0/5').waitFor({ timeout: 10000 })
    await wpage.getByText(/Score: 5\.0 \/ 5/).waitFor({ timeout: 15000 })

    // The grades export holds the pass.
    const [download] = await Promise.all([tpage.waitForEvent('download'), tpage.getByRole('link', { name: 'Export grades (CSV)' }).click()])
    const csv = readFileSync(await download.path(), 'utf8').trim().split('\n').map((l) => l.split(','))
    const col = csv[0].indexOf('rbac-developer')
    const ana = csv.find((r) => r[0] === 'ana@example.com')
    assert(col > 0 && ana && ana[col] === '100.0' && ana[csv[0].indexOf('labs_passed')] === '1', 'grades csv:\n' + csv.join('\n'))

    // At full marks the attempt is over: once her instructor allows it, she
    // reads the solution and why it is right.
    const toggle = tpage.getByLabel('Students may see solutions after a Check')
    await toggle.click()
    for (let i = 0; !(await toggle.isChecked()); i++) {
      assert(i < 50, 'the cohort did not start showing solutions')
      await tpage.waitForTimeout(100)
    }
    await page.getByRole('button', { name: 'Show the solution' }).click()
    const solution = page.getByRole('region', { name: 'Solution' })
    await solution.getByRole('heading', { name: 'Why: A Role for jane in dev' }).waitFor({ timeout: 10000 })
    await solution.getByText('kubectl create role developer').waitFor()
    await page.screenshot({ path: `${artifacts}/lab-solution.png` })

    // Her history, then a reset to a fresh cluster.
    const envId = new URL(page.url()).pathname.split('/').pop()
    const runs = await page.evaluate(async (id) => (await (await fetch(`/api/v1/environments/${id}/checks`)).json()).runs, envId)
    assert(runs.length === 2 && runs[0].score === 5 && runs[1].score < 5, 'check history ' + JSON.stringify(runs.map((r) => r.score)))
    await page.getByRole('button', { name: 'Reset' }).click()
    await page.getByRole('alertdialog', { name: 'Confirm reset' }).getByRole('button', { name: 'Reset now' }).click()
    await page.waitForURL((u) => u.pathname.startsWith('/env/') && !u.pathname.endsWith(envId))
    await page.getByText('Preparing your cluster').waitFor()
    await page.getByRole('tab', { selected: true }).waitFor({ timeout: 300000 })
    const cp2 = (await page.getByRole('tab', { selected: true }).innerText()).split(' ')[0]
    assert(cp2 !== cp, 'reset kept the old cluster ' + cp)
    await page.getByLabel(`${cp2} terminal connected`).waitFor({ timeout: 30000 })
    await waitScreen(page, cp2, /root@.*# $/m, 20000)
    await page.getByTestId(`terminal-${cp2}`).click()
    await page.keyboard.type('k get role -n dev developer\n')
    await waitScreen(page, cp2, /roles.rbac.authorization.k8s.io "developer" not found/, 20000)
    assert(!(await page.getByText(/Score: /).isVisible()), 'the fresh attempt shows an old score')
    await stopEnvironment(page)

    await page.getByRole('link', { name: 'History' }).first().click()
    await page.getByRole('heading', { name: 'Your attempts' }).waitFor()
    await page.getByText('5.0 / 5').waitFor()
    await page.screenshot({ path: `${artifacts}/history.png` })
    await wpage.close()
    assert(errors.length === 0, 'browser errors: ' + errors.join('\n'))
  } finally {
    await browser.close()
    await srv.stop()
    removeClusters(prefix)
  }
}

async function signIn(page, url, email, password) {
  await page.goto(url + '/')
  await page.getByLabel('Email').fill(email)
  await page.getByLabel('Password').fill(password)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.getByRole('heading', { name: 'Labs', exact: true }).waitFor()
}
