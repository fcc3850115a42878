import { useCallback, useEffect, useMemo, useState } from 'react'
import { api, ApiError, stateLabel, type EnvList, type Environment, type LabSummary, type Me } from '../api'
import { Link, useRouter } from '../router'
import { Banner, Empty } from '../ui'
import { RunningLab } from './RunningLab'

const difficulties = ['easy', 'medium', 'hard']

export function CatalogPage({ me }: { me: Me }) {
  const { navigate } = useRouter()
  const [envs, setEnvs] = useState<EnvList | null>(null)
  const [error, setError] = useState('')
  const [starting, setStarting] = useState('')
  const [labs, setLabs] = useState<LabSummary[] | null>(null)
  const [domain, setDomain] = useState('')
  const [difficulty, setDifficulty] = useState('')
  const loadEnvs = useCallback(() => { api<EnvList>('GET', '/environments').then(setEnvs).catch((e) => setError((e as ApiError).message)) }, [])
  useEffect(() => {
    loadEnvs()
    api<{ labs: LabSummary[] }>('GET', '/labs').then((r) => setLabs(r.labs)).catch((e) => setError((e as ApiError).message))
  }, [loadEnvs])
  // A server still waiting for its node image turns labs on by itself: look again.
  useEffect(() => {
    if (!envs || envs.available) return
    const t = window.setInterval(loadEnvs, 15000)
    return () => window.clearInterval(t)
  }, [envs, loadEnvs])

  const start = async (lab: string) => {
    setStarting(lab)
    setError('')
    try {
      const r = await api<{ environment: Environment }>('POST', '/environments', lab === 'playground' ? { lab, topology: '1cp-1w' } : { lab })
      navigate('/env/' + r.environment.id)
    } catch (e) {
      setError((e as ApiError).message)
      setStarting('')
      loadEnvs() // a lab started elsewhere (another tab) shows in place of Start
      window.scrollTo({ top: 0, behavior: 'smooth' })
    }
  }
  const domains = useMemo(() => {
    const m = new Map<string, string>()
    for (const l of labs ?? []) m.set(l.domain, l.domainName)
    return [...m.entries()].sort((a, b) => a[1].localeCompare(b[1]))
  }, [labs])
  const shown = (labs ?? []).filter((l) => (!domain || l.domain === domain) && (!difficulty || l.difficulty === difficulty))
  const passed = (labs ?? []).filter((l) => l.progress?.passed).length
  const running = envs?.environments ?? []
  const openEnv = (lab: string) => running.find((e) => e.labId === lab)
  // At the per-user cap, Start would only earn a quota error: each lab shows
  // what runs instead, with Open and Stop.
  const full = running.length > 0 && running.length >= (envs?.perUser ?? 1)
  const instead = full && running.map((e) => <RunningLab key={e.id} env={e} onStopped={loadEnvs} why={running.length === 1 ? 'One lab at a time; running now:' : 'Your limit is reached; stop one to start this:'} />)
  return (
    <div>
      <div className="page-head">
        <div>
          <h1>Labs</h1>
          <p className="muted">Hands-on CKA tasks on a cluster of your own. Pick a lab, press Start, and the terminal opens on your control-plane node.</p>
        </div>
        {labs && labs.length > 0 && <p className="stat" aria-label="Labs passed"><b>{passed}</b> / {labs.length} passed · <Link to="/history">History</Link></p>}
      </div>
      {error && <Banner kind="error">{error}</Banner>}
      {envs && !envs.available && <Banner kind="info">Clusters cannot start right now: {envs.unavailableReason}</Banner>}
      {running.length > 0 && (
        <section className="running">
          <h2>Your environments</h2>
          <div className="cards">
            {running.map((e) => <div key={e.id} className="card"><RunningLab env={e} onStopped={loadEnvs} /></div>)}
          </div>
        </section>
      )}
      <section>
        <h2>Practice</h2>
        <div className="cards">
          <div className="card">
            <strong>Playground</strong>
            <p className="muted">A free cluster of your own: one control plane and one worker, Kubernetes v{envs?.kubernetesVersion ?? '…'}, with kubectl, etcdctl and ssh between nodes.</p>
            {full && !openEnv('playground') ? instead
              : <button className="primary" onClick={() => start('playground')} disabled={!!starting || !envs?.available}>{starting === 'playground' ? 'Starting…' : openEnv('playground') ? 'Open playground' : 'Start playground'}</button>}
          </div>
        </div>
      </section>
      <section>
        <div className="section-head">
          <h2>Graded labs</h2>
          {labs && labs.length > 0 && (
            <div className="filters" role="group" aria-label="Filter labs">
              <label>Domain <select value={domain} onChange={(e) => setDomain(e.target.value)}>
                <option value="">All domains</option>
                {domains.map(([id, name]) => <option key={id} value={id}>{name}</option>)}
              </select></label>
              <label>Difficulty <select value={difficulty} onChange={(e) => setDifficulty(e.target.value)}>
                <option value="">Any difficulty</option>
                {difficulties.map((d) => <option key={d} value={d}>{d}</option>)}
              </select></label>
            </div>
          )}
        </div>
        {labs && labs.length === 0 && <p className="muted small">{me.user.role === 'student' ? 'No graded labs on this server yet.' : 'No labs: add lab folders (see the README) and restart ckalab.'}</p>}
        {labs && labs.length > 0 && shown.length === 0 && <Empty title="No lab matches these filters"><button className="link" onClick={() => { setDomain(''); setDifficulty('') }}>Clear the filters</button></Empty>}
        <div className="cards">
          {shown.map((l) => {
            const open = openEnv(l.id)
            const p = l.progress
            return (
              <div key={l.id} className="card" data-testid={'lab-' + l.id}>
                <strong>{l.title}</strong>
                <p className="muted">{l.domainName} · <span className={'diff diff-' + l.difficulty}>{l.difficulty}</span> · {l.minutes} min · {l.topology}</p>
                <p className="small">{!p ? <span className="muted">Not attempted</span> : p.passed
                  ? <span className="badge pass">Passed</span>
                  : <span className="badge partial">Best {p.bestScore.toFixed(1)} / {p.maxScore}</span>}
                  {p && <span className="muted"> · {p.checks} check{p.checks === 1 ? '' : 's'}</span>}</p>
                {open
                  ? <button className="secondary" onClick={() => navigate('/env/' + open.id)} aria-label={`Open ${l.title}`}>Open ({stateLabel(open.state)})</button>
                  : full ? instead
                  : <button className="primary" onClick={() => start(l.id)} disabled={!!starting || !envs?.available} aria-label={`Start ${l.title}`}>{starting === l.id ? 'Starting…' : 'Start'}</button>}
              </div>
            )
          })}
        </div>
      </section>
    </div>
  )
}
