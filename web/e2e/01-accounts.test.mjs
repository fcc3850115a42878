// An instructor signs in, creates a cohort and invites a student by CSV;
// the student signs up through the invite link and sees the catalog.
import { startServer, launchBrowser, watchConsole, assert, artifacts } from './harness.mjs'

export default async function () {
  const srv = await startServer()
  const browser = await launchBrowser()
  const errors = []
  try {
    srv.addUser('teacher@example.com', 'instructor', 'teacher-password')
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } })
    const page = await ctx.newPage()
    watchConsole(page, errors)

    await page.goto(srv.url + '/')
    await page.getByRole('heading', { name: 'Sign in' }).waitFor()
    await page.screenshot({ path: `${artifacts}/login.png` })

    await page.getByLabel('Email').fill('teacher@example.com')
    await page.getByLabel('Password').fill('wrong-password')
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByText('wrong email or password').waitFor()
    errors.length = 0 // the expected 401 of the wrong password is logged by Chromium

    await page.getByLabel('Password').fill('teacher-password')
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByRole('heading', { name: 'Labs', exact: true }).waitFor()
    await page.screenshot({ path: `${artifacts}/catalog-empty.png` })

    await page.getByRole('link', { name: 'Cohorts' }).click()
    await page.getByText('No cohorts yet').waitFor()
    await page.getByLabel('New cohort name').fill('CKA Autumn')
    await page.getByRole('button', { name: 'Create cohort' }).click()
    await page.getByRole('link', { name: /CKA Autumn/ }).click()
    await page.getByRole('heading', { name: 'CKA Autumn' }).waitFor()

    await page.getByLabel('Emails').fill('email\nstudent@example.com\n')
    await page.getByRole('button', { name: 'Create invites' }).click()
    const link = await page.getByLabel('Invite link for student@example.com').inputValue()
    assert(link.startsWith(srv.url + '/join/'), 'invite link ' + link)
    await page.screenshot({ path: `${artifacts}/cohort.png` })

    // The student, in a separate browser context, joins through the link.
    const sctx = await browser.newContext({ viewport: { width: 1280, height: 800 } })
    const spage = await sctx.newPage()
    watchConsole(spage, errors)
    await spage.goto(link)
    await spage.getByRole('heading', { name: 'Join CKA Autumn' }).waitFor()
    assert(await spage.getByLabel('Email').inputValue() === 'student@example.com', 'email prefilled')
    await spage.getByLabel('Name').fill('Stu Dent')
    await spage.getByLabel(/Password/).fill('student-password')
    await spage.getByRole('button', { name: 'Create account and join' }).click()
    await spage.getByRole('heading', { name: 'Labs', exact: true }).waitFor()
    assert(!(await spage.getByRole('link', { name: 'Cohorts' }).isVisible()), 'students have no Cohorts page')

    // The instructor sees the new student on the live board, without a reload.
    await page.getByTestId('student-student@example.com').getByText('not started').waitFor({ timeout: 10000 })
    await page.reload()
    await page.getByRole('cell', { name: 'student@example.com', exact: true }).waitFor()
    // Keyboard: the sign-out button is reachable by Tab.
    assert(errors.length === 0, 'browser console errors: ' + errors.join('\n'))
  } finally {
    await browser.close()
    await srv.stop()
  }
}
