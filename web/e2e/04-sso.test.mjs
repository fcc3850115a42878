// Single sign-on in Chromium against a real OpenID Connect provider
// (mockidp): a refused domain shows why on the sign-in page, an instructor
// from the teachers' group signs in and invites, and a student joins the
// cohort through the invite link with "Join with …" and "Join cohort",
// no password anywhere.
import { spawn, execFileSync } from 'node:child_process'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startServer, launchBrowser, watchConsole, assert, artifacts } from './harness.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

async function startIdP() {
  const bin = join(artifacts, 'mockidp')
  execFileSync('go', ['build', '-o', bin, './web/e2e/mockidp'], { cwd: root, stdio: 'inherit' })
  const proc = spawn(bin, [], { stdio: ['pipe', 'pipe', 'inherit'] })
  const info = await new Promise((resolve, reject) => {
    let out = ''
    proc.stdout.on('data', (d) => { out += d; if (out.includes('\n')) resolve(JSON.parse(out)) })
    proc.once('exit', (c) => reject(new Error('mockidp exited ' + c)))
  })
  const queue = async (sub, email, groups = []) => {
    const r = await fetch(info.queue, { method: 'POST', body: JSON.stringify({ sub, email, groups }) })
    assert(r.status === 204, 'queue user: ' + r.status)
  }
  return { ...info, queue, stop: () => { proc.stdin.end(); proc.kill() } }
}

export default async function () {
  const idp = await startIdP()
  const srv = await startServer((url) => ({
    CKALAB_PUBLIC_URL: url, CKALAB_OIDC_ISSUER: idp.issuer, CKALAB_OIDC_CLIENT_ID: idp.clientId, CKALAB_OIDC_CLIENT_SECRET: idp.clientSecret,
    CKALAB_OIDC_NAME: 'Example University', CKALAB_OIDC_SCOPES: 'email,profile,groups',
    CKALAB_OIDC_ALLOWED_DOMAINS: 'example.edu', CKALAB_OIDC_INSTRUCTOR_GROUPS: 'teachers',
    CKALAB_DISABLE_PASSWORD_LOGIN: 'true',
  }))
  const browser = await launchBrowser()
  const errors = []
  try {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } })
    const page = await ctx.newPage()
    watchConsole(page, errors)
    await page.goto(srv.url + '/')
    await page.getByRole('heading', { name: 'Sign in' }).waitFor()
    await page.getByRole('link', { name: 'Sign in with Example University' }).waitFor()
    assert(!(await page.getByLabel('Password').isVisible()), 'password form shown with --disable-password-login')

    // Someone outside the allowed domain is told why.
    await idp.queue('outsider', 'pat@gmail.com')
    await page.getByRole('link', { name: 'Sign in with Example University' }).click()
    await page.getByText('not in a domain this server accepts').waitFor()
    await page.screenshot({ path: `${artifacts}/sso-refused.png` })

    // A teacher signs in as an instructor and invites a student.
    await idp.queue('teacher-1', 'teacher@example.edu', ['teachers'])
    await page.getByRole('link', { name: 'Sign in with Example University' }).click()
    await page.getByRole('heading', { name: 'Labs', exact: true }).waitFor()
    assert(new URL(page.url()).search === '', 'sign-in left a query in the address bar: ' + page.url())
    await page.getByRole('link', { name: 'Cohorts' }).click()
    await page.getByLabel('New cohort name').fill('CKA Winter')
    await page.getByRole('button', { name: 'Create cohort' }).click()
    await page.getByRole('link', { name: /CKA Winter/ }).click()
    await page.getByLabel('Emails').fill('student@example.edu\n')
    await page.getByRole('button', { name: 'Create invites' }).click()
    const link = await page.getByLabel('Invite link for student@example.edu').inputValue()

    // The student joins with the provider: no password asked.
    const sctx = await browser.newContext({ viewport: { width: 1280, height: 800 } })
    const spage = await sctx.newPage()
    watchConsole(spage, errors)
    await spage.goto(link)
    await spage.getByRole('heading', { name: 'Join CKA Winter' }).waitFor()
    await spage.getByRole('link', { name: 'Join with Example University' }).waitFor()
    assert(!(await spage.getByLabel(/Password/).isVisible()), 'invite page asks for a password with --disable-password-login')
    await idp.queue('student-1', 'student@example.edu')
    await spage.getByRole('link', { name: 'Join with Example University' }).click()
    // Back on the invite page, signed in: joining is the student's click.
    await spage.getByText('You are signed in as student@example.edu').waitFor()
    await spage.getByRole('button', { name: 'Join cohort' }).click()
    await spage.getByRole('heading', { name: 'Labs', exact: true }).waitFor()
    const me = await spage.evaluate(async () => (await fetch('/api/v1/me')).json())
    assert(me.user.email === 'student@example.edu' && me.user.role === 'student', 'student: ' + JSON.stringify(me.user))
    assert(me.cohorts.length === 1 && me.cohorts[0].name === 'CKA Winter', 'student not placed in the cohort: ' + JSON.stringify(me.cohorts))
    await spage.screenshot({ path: `${artifacts}/sso-joined.png` })

    // The instructor's board lists the student without a reload.
    await page.getByTestId('student-student@example.edu').waitFor({ timeout: 10000 })
    assert(errors.length === 0, 'browser console errors: ' + errors.join('\n'))
  } finally {
    await browser.close()
    await srv.stop()
    idp.stop()
  }
}
