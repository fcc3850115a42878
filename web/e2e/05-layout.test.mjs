// The student's pages hold at a phone's, a small laptop's and a desktop's
// width: no sideways scroll, Sign out in reach, a terminal that takes the
// width (≥ 150 columns at 1920 px), Stop that asks first, the score in
// view after Check. Environments are rows in the database (no cluster):
// the terminal cannot connect and Check reports the cluster unreachable.
import { startServer, launchBrowser, watchConsole, assert, artifacts } from './harness.mjs'

export default async function () {
  const srv = await startServer()
  const browser = await launchBrowser()
  try {
    srv.addUser('ana@example.com', 'student', 'ana-password-1')
    const uid = srv.sql(`SELECT id FROM users WHERE email = 'ana@example.com'`)
    const cp = 'ckalab-e2elayout-control-plane'
    const nodes = JSON.stringify([{ name: cp, role: 'control-plane', ip: '10.0.0.2' }, { name: 'ckalab-e2elayout-worker', role: 'worker', ip: '10.0.0.3' }])
    const env = srv.sql(`INSERT INTO environments (id, user_id, lab_id, state, topology, k8s_version, cluster_name, kubeconfig, nodes, started_at, expires_at, time_limit)
      VALUES (gen_random_uuid(), '${uid}', 'rbac-developer', 'in_use', '1cp-1w', '1.34.4', 'ckalab-e2elayout', 'kc', '${nodes}', now(), now() + interval '35 min', interval '35 min') RETURNING id`)
    for (const [w, h] of [[1920, 1080], [1440, 900], [1024, 768], [390, 844]]) {
      const ctx = await browser.newContext({ viewport: { width: w, height: h } })
      const page = await ctx.newPage()
      const errors = []
      watchConsole(page, errors)
      const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
      await page.goto(srv.url + '/')
      await page.getByLabel('Email').fill('ana@example.com')
      await page.getByLabel('Password').fill('ana-password-1')
      await page.getByRole('button', { name: 'Sign in' }).click()
      await page.getByRole('heading', { name: 'Labs', exact: true }).waitFor()
      await page.getByTestId('lab-pv-pvc').waitFor()
      assert(await overflow() <= 0, `catalog scrolls sideways at ${w} px`)
      const out = await page.getByRole('button', { name: 'Sign out' }).boundingBox()
      assert(out && out.x >= 0 && out.x + out.width <= w, `Sign out out of reach at ${w} px: ${JSON.stringify(out)}`)
      // The running lab stands in place of the other labs' Start buttons.
      assert(!(await page.getByTestId('lab-pv-pvc').getByRole('button', { name: /^Start/ }).count()), `a second Start at ${w} px`)
      await page.screenshot({ path: `${artifacts}/layout-catalog-${w}.png`, fullPage: true })

      await page.goto(srv.url + '/env/' + env)
      await page.getByTestId(`terminal-${cp}`).waitFor()
      await page.waitForTimeout(500)
      assert(await overflow() <= 0, `lab page scrolls sideways at ${w} px`)
      const cols = () => page.evaluate((n) => document.querySelector(`[data-testid="terminal-${n}"]`).xterm.cols, cp)
      if (w === 1920) assert(await cols() >= 150, `${await cols()} columns at 1920 px`)
      const shown = await cols()
      await page.getByRole('button', { name: 'Hide tasks' }).click()
      await page.waitForTimeout(500)
      // Below 900 px the tasks sit under the terminal: hiding them gives height, not width.
      if (w >= 900) assert(await cols() > shown, `hiding the tasks gives no width at ${w} px (${shown} → ${await cols()})`)
      await page.screenshot({ path: `${artifacts}/layout-lab-${w}.png` })
      await page.getByRole('button', { name: 'Show tasks' }).click()

      await page.getByRole('button', { name: 'Stop environment' }).click()
      await page.getByRole('alertdialog', { name: 'Confirm stop' }).waitFor()
      await page.getByRole('alertdialog', { name: 'Confirm stop' }).getByRole('button', { name: 'Cancel' }).click()

      if (w === 1440) {
        await page.getByRole('button', { name: 'Check', exact: true }).click()
        const score = page.getByText(/Score: /)
        await score.waitFor({ timeout: 60000 })
        await page.waitForTimeout(800)
        const box = await score.boundingBox()
        assert(box && box.y >= 0 && box.y + box.height <= h, `score out of view after Check: ${JSON.stringify(box)}`)
        await page.screenshot({ path: `${artifacts}/layout-checked-${w}.png` })
      }
      await ctx.close()
      // The terminal's failed connection and the 503/502 of the fake cluster are expected.
      const unexpected = errors.filter((e) => !/WebSocket|websocket|50[23]|Failed to load resource/.test(e))
      assert(unexpected.length === 0, `console errors at ${w} px: ${unexpected.join('; ')}`)
    }
  } finally {
    await browser.close()
    await srv.stop()
  }
}
