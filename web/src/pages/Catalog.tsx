import { useEffect, useState } from 'react'
import { api, ApiError, type EnvList, type Environment, type LabSummary, type Me } from '../api'
import { Link, useRouter } from '../router'
import { Banner } from '../ui'

export function CatalogPage({ me }: { me: Me }) {
  const { navigate } = useRouter()
  const [envs, setEnvs] = useState<EnvList | null>(null)
  const [error, setError] = useState('')
  const [starting, setStarting] = useState('')
  const [labs, setLabs] = useState<LabSummary[]>([])
  useEffect(() => {
    api<EnvList>('GET', '/environments').then(setEnvs).catch((e) => setError((e as ApiError).message))
    api<{ labs: LabSummary[] }>('GET', '/labs').then((r) => setLabs(r.labs)).catch((e) => setError((e as ApiError).message))
  }, [])

  const start = async (lab: string) => {
    setStarting(lab)
    setError('')
    try {
      const r = await api<{ environment: Environment }>('POST', '/environments', lab === 'playground' ? { lab, topology: '1cp-1w' } : { lab })
      navigate('/env/' + r.environment.id)
    } catch (e) {
      setError((e as ApiError).message)
      setStarting('')
    }
  }
  const running = envs?.environments ?? []
  return (
    <div>
      <div className="page-head">
        <div>
          <h1>Labs</h1>
          <p className="muted">Hands-on CKA tasks on a cluster of your own. Pick a lab, press Start, and the terminal opens on your control-plane node.</p>
        </div>
      </div>
      {error && <Banner kind="error">{error}</Banner>}
      {envs && !envs.available && <Banner kind="info">Clusters cannot start on this server right now: {envs.unavailableReason}</Banner>}
      {running.length > 0 && (
        <section className="running">
          <h2>Your environments</h2>
          <div className="cards">
            {running.map((e) => (
              <Link key={e.id} to={'/env/' + e.id} className="card">
                <strong>{e.labId === 'playground' ? 'Playground' : e.labId}</strong>
                <p className="muted">{e.state.replace('_', ' ')} · {e.topology} · v{e.kubernetesVersion}</p>
              </Link>
            ))}
          </div>
        </section>
      )}
      <section>
        <h2>Practice</h2>
        <div className="cards">
          <div className="card">
            <strong>Playground</strong>
            <p className="muted">A free cluster of your own: one control plane and one worker, Kubernetes v{envs?.kubernetesVersion ?? '…'}, with kubectl, etcdctl and ssh between nodes.</p>
            <button className="primary" onClick={() => start('playground')} disabled={!!starting || !envs?.available}>{starting === 'playground' ? 'Starting…' : 'Start playground'}</button>
          </div>
        </div>
      </section>
      <section>
        <h2>Graded labs</h2>
        {labs.length === 0 && <p className="muted small">{me.user.role === 'student' ? 'No graded labs on this server yet.' : 'No labs: add lab folders (see the README) and restart ckalab.'}</p>}
        <div className="cards">
          {labs.map((l) => (
            <div key={l.id} className="card">
              <strong>{l.title}</strong>
              <p className="muted">{l.domainName} · {l.difficulty} · {l.minutes} min · {l.topology}</p>
              <button className="primary" onClick={() => start(l.id)} disabled={!!starting || !envs?.available} aria-label={`Start ${l.title}`}>{starting === l.id ? 'Starting…' : 'Start'}</button>
            </div>
          ))}
        </div>
      </section>
    </div>
  )
}
