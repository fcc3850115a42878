import { useEffect, useState } from 'react'
import { api, ApiError, type EnvList, type Environment, type Me } from '../api'
import { Link, useRouter } from '../router'
import { Banner } from '../ui'

export function CatalogPage({ me }: { me: Me }) {
  const { navigate } = useRouter()
  const [envs, setEnvs] = useState<EnvList | null>(null)
  const [error, setError] = useState('')
  const [starting, setStarting] = useState(false)
  useEffect(() => { api<EnvList>('GET', '/environments').then(setEnvs).catch((e) => setError((e as ApiError).message)) }, [])

  const start = async () => {
    setStarting(true)
    setError('')
    try {
      const r = await api<{ environment: Environment }>('POST', '/environments', { lab: 'playground', topology: '1cp-1w' })
      navigate('/env/' + r.environment.id)
    } catch (e) {
      setError((e as ApiError).message)
      setStarting(false)
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
            <button className="primary" onClick={start} disabled={starting || !envs?.available}>{starting ? 'Starting…' : 'Start playground'}</button>
          </div>
        </div>
      </section>
      <p className="muted small">{me.user.role === 'student' ? 'Graded labs appear here when your instructor publishes them.' : 'Graded labs appear here once lab folders are added under labs/.'}</p>
    </div>
  )
}
