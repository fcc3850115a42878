import { useCallback, useEffect, useState } from 'react'
import { api, loadMe, setCsrf, type Me } from './api'
import { Link, match, useRouter } from './router'
import { LoginPage } from './pages/Login'
import { CatalogPage } from './pages/Catalog'
import { JoinPage } from './pages/Join'
import { CohortsPage, CohortPage } from './pages/Cohorts'
import { EnvironmentPage } from './pages/Environment'
import { HistoryPage } from './pages/History'
import { StudentPage } from './pages/Student'
import { Banner, Spinner } from './ui'

export function App() {
  const { path, navigate } = useRouter()
  const [me, setMe] = useState<Me | null | undefined>(undefined)
  const [bootError, setBootError] = useState('')

  const refresh = useCallback(async () => {
    try {
      setMe(await loadMe())
      setBootError('')
    } catch (e) {
      setBootError((e as Error).message)
    }
  }, [])
  useEffect(() => { refresh() }, [refresh])

  const join = match('/join/:token', path)
  if (join) return <JoinPage token={join.token} me={me ?? null} onJoined={async () => { await refresh(); navigate('/') }} />

  if (bootError) return <div className="center-page"><Banner kind="error">{bootError} <button className="link" onClick={refresh}>Retry</button></Banner></div>
  if (me === undefined) return <div className="center-page"><Spinner label="Loading ckalab" /></div>
  if (me === null) return <LoginPage onLogin={async () => { await refresh(); if (path === '/login') navigate('/') }} />

  const logout = async () => {
    await api('POST', '/auth/logout')
    setCsrf('')
    setMe(null)
    navigate('/login')
  }
  const teaches = me.user.role !== 'student'
  let page
  let m
  let wide = false // a page with a terminal takes the window's width
  if ((m = match('/env/:id', path))) { page = <EnvironmentPage id={m.id} />; wide = true }
  else if ((m = match('/cohorts/:id/students/:uid', path)) && teaches) { page = <StudentPage cohortId={m.id} userId={m.uid} />; wide = true }
  else if ((m = match('/cohorts/:id', path)) && teaches) page = <CohortPage id={m.id} />
  else if (path === '/history') page = <HistoryPage />
  else if (path === '/cohorts' && teaches) page = <CohortsPage />
  else page = <CatalogPage me={me} />

  return (
    <div className="shell">
      <header className="topbar">
        <Link to="/" className="brand"><span className="logo" aria-hidden>k</span>ckalab</Link>
        <nav aria-label="Main">
          <Link to="/">Labs</Link>
          <Link to="/history">History</Link>
          {teaches && <Link to="/cohorts">Cohorts</Link>}
        </nav>
        <div className="who">
          <span className="who-name" title={me.user.email}>{me.user.name || me.user.email}</span>
          <span className={'role role-' + me.user.role}>{me.user.role}</span>
          <button className="ghost" onClick={logout}>Sign out</button>
        </div>
      </header>
      <main className={wide ? 'content wide' : 'content'}>{page}</main>
    </div>
  )
}
