// One student, for their instructor: their cluster's health, their lab
// and checks, a live read-only view of their terminal with takeover, and
// the actions on their environment.
import { useEffect, useState } from 'react'
import { api, ApiError, ago, envTitle, live, stateLabel, type Attempt, type Cohort, type Health, type Progress, type User } from '../api'
import { Link } from '../router'
import { Banner, Confirm, Empty, Spinner } from '../ui'
import { LabPanel } from '../LabPanel'
import { Terminal } from '../Terminal'
import { TimeLeft } from '../TimeLeft'
import { LabLayout } from '../LabLayout'
import { AttemptsTable } from './History'

type StudentView = { cohort: Cohort; user: User; attempts: Attempt[]; progress: Record<string, Progress> }
type LiveTerminal = { id: string; node: string; clients: number }

export function StudentPage({ cohortId, userId }: { cohortId: string; userId: string }) {
  const [view, setView] = useState<StudentView | null>(null)
  const [error, setError] = useState('')
  const [reload, setReload] = useState(0)
  useEffect(() => {
    let gone = false
    const load = () => api<StudentView>('GET', `/cohorts/${cohortId}/students/${userId}`)
      .then((v) => { if (!gone) { setView(v); setError('') } })
      .catch((e) => { if (!gone) setError((e as ApiError).message) })
    load()
    const t = window.setInterval(load, 5000)
    return () => { gone = true; window.clearInterval(t) }
  }, [cohortId, userId, reload])

  if (!view) return error ? <Banner kind="error">{error}</Banner> : <Spinner label="Loading student" />
  const current = view.attempts.find((a) => live(a.state))
  return (
    <div>
      <div className="page-head">
        <div>
          <p className="crumb"><Link to="/cohorts">Cohorts</Link> / <Link to={'/cohorts/' + cohortId}>{view.cohort.name}</Link> /</p>
          <h1>{view.user.name || view.user.email}</h1>
          <p className="muted">{view.user.email} · {Object.values(view.progress).filter((p) => p.passed).length} lab(s) passed</p>
        </div>
      </div>
      {error && <Banner kind="error">{error}</Banner>}
      {current ? <LiveEnvironment key={current.id} env={current} onChange={() => setReload((n) => n + 1)} />
        : <Empty title="No running environment"><p className="muted">When {view.user.name || 'the student'} starts a lab, its cluster, checks and terminal show here.</p></Empty>}
      <section className="panel">
        <h2>Attempts</h2>
        {view.attempts.length === 0 ? <p className="muted">No attempts yet.</p> : <AttemptsTable attempts={view.attempts} link={false} />}
      </section>
    </div>
  )
}

function LiveEnvironment({ env, onChange }: { env: Attempt; onChange: () => void }) {
  const [health, setHealth] = useState<Health | null>(null)
  const [terminals, setTerminals] = useState<LiveTerminal[]>([])
  const [watching, setWatching] = useState('')
  const [busy, setBusy] = useState('')
  const [confirm, setConfirm] = useState<'' | 'reset' | 'destroy'>('')
  const [error, setError] = useState('')
  const [checks, setChecks] = useState(0)

  useEffect(() => {
    let gone = false
    const poll = async () => {
      try {
        const h = await api<{ cluster?: Health }>('GET', `/environments/${env.id}/health`)
        const t = await api<{ terminals: LiveTerminal[] }>('GET', `/environments/${env.id}/terminals`)
        if (gone) return
        setHealth(h.cluster ?? null)
        setTerminals(t.terminals)
        setChecks((n) => n + 1) // re-read the check results
      } catch (e) { if (!gone) setError((e as ApiError).message) }
    }
    poll()
    const t = window.setInterval(poll, 5000)
    return () => { gone = true; window.clearInterval(t) }
  }, [env.id])

  const act = async (what: string, f: () => Promise<void>) => {
    setBusy(what)
    setError('')
    try { await f(); setConfirm(''); onChange() } catch (e) { setError((e as ApiError).message) } finally { setBusy('') }
  }
  const watched = terminals.find((t) => t.id === watching) ?? terminals[0]
  return (
    <section className="panel" aria-label="Current environment">
      <div className="section-head">
        <h2>{envTitle(env)} <span className={'state state-' + env.state}>{stateLabel(env.state)}</span></h2>
        <div className="row">
          {env.state === 'in_use' && env.expiresAt && <TimeLeft expiresAt={env.expiresAt} graceSeconds={env.graceSeconds} />}
          {env.state === 'in_use' && <button className="secondary" disabled={!!busy} onClick={() => act('extend', () => api('POST', `/environments/${env.id}/extend`, { minutes: 15 }))}>Extend 15 min</button>}
          <button className="secondary" disabled={!!busy} onClick={() => setConfirm('reset')}>Reset</button>
          <button className="danger" disabled={!!busy} onClick={() => setConfirm('destroy')}>Destroy</button>
        </div>
      </div>
      {confirm && <Confirm label={'Confirm ' + confirm} action={confirm === 'reset' ? 'Reset now' : 'Destroy now'} busy={!!busy} onCancel={() => setConfirm('')}
        onConfirm={() => confirm === 'reset'
          ? act('reset', () => api('POST', `/environments/${env.id}/reset`, {}))
          : act('destroy', () => api('DELETE', `/environments/${env.id}`))}>
        {confirm === 'reset' ? 'Reset deletes the student\'s cluster and starts a fresh one for the same lab.' : 'Destroy deletes the student\'s cluster now; their work in it is lost.'}</Confirm>}
      {error && <Banner kind="error">{error}</Banner>}
      <p className="small muted">Started {ago(env.startedAt ?? env.createdAt)} · last activity {ago(env.lastActivityAt)} · Kubernetes v{env.kubernetesVersion} · {env.topology}</p>
      {env.state === 'in_use' && (
        <div className="health" aria-label="Cluster health">
          {!health ? <Spinner label="Asking the cluster" /> : !health.reachable
            ? <Banner kind="error">The API server does not answer: {health.problem}</Banner>
            : <ul className="nodes">{health.nodes.map((n) => (
              <li key={n.name} className={n.ready ? 'pass' : 'fail'}>{n.ready ? '●' : '○'} {n.name} · {n.ready ? 'Ready' : 'NotReady'}{n.schedulable ? '' : ', cordoned'} · {n.kubelet}</li>
            ))}</ul>}
        </div>
      )}
      {env.state === 'in_use' && (
        <LabLayout panel={env.labId !== 'playground' && <LabPanel labId={env.labId} envId={env.id} canCheck={false} refresh={checks} />} tabs={terminals.length > 0 &&
          <div className="tabs" role="tablist">
            {terminals.map((t) => (
              <button key={t.id} role="tab" aria-selected={t.id === watched?.id} className={t.id === watched?.id ? 'tab active' : 'tab'} onClick={() => setWatching(t.id)}>{t.node}</button>
            ))}
          </div>}>
          {terminals.length === 0 ? <Empty title="No terminal open"><p className="muted">The student has no shell open right now; this view joins one when they do.</p></Empty>
            : watched && <Terminal key={watched.id} envId={env.id} node={watched.node} token={watched.id} label={watched.node} />}
        </LabLayout>
      )}
      {env.state !== 'in_use' && <p className="muted">The cluster is {stateLabel(env.state)}.</p>}
    </section>
  )
}
