import { useEffect, useState } from 'react'
import { api, ApiError, type Environment, type EnvEvent } from '../api'
import { Terminal } from '../Terminal'
import { LabPanel } from '../LabPanel'
import { Banner, Spinner } from '../ui'
import { useRouter } from '../router'

const phases = ['queued', 'provisioning', 'creating nodes', 'kubeadm init', 'network', 'storage', 'joining workers', 'waiting for nodes', 'cluster ready', 'claimed', 'lab setup', 'ready']

// EnvironmentPage follows an environment from the queue to a running
// cluster, then shows a terminal per node.
export function EnvironmentPage({ id }: { id: string }) {
  const { navigate } = useRouter()
  const [env, setEnv] = useState<Environment | null>(null)
  const [events, setEvents] = useState<EnvEvent[]>([])
  const [error, setError] = useState('')
  const [node, setNode] = useState('')
  const [stopping, setStopping] = useState(false)

  useEffect(() => {
    let after = 0
    let timer: number | undefined
    let gone = false
    const poll = async () => {
      try {
        const r = await api<{ events: EnvEvent[]; environment: Environment }>('GET', `/environments/${id}/events?after=${after}`)
        if (gone) return
        if (r.events.length) { after = r.events[r.events.length - 1].id; setEvents((old) => [...old, ...r.events]) }
        setEnv(r.environment)
        setError('')
        if (['requested', 'provisioning', 'ready'].includes(r.environment.state)) timer = window.setTimeout(poll, 1000)
      } catch (e) {
        if (gone) return
        setError((e as ApiError).message)
        timer = window.setTimeout(poll, 3000)
      }
    }
    poll()
    return () => { gone = true; window.clearTimeout(timer) }
  }, [id])

  const stop = async () => {
    setStopping(true)
    try { await api('DELETE', `/environments/${id}`); navigate('/') } catch (e) { setError((e as ApiError).message); setStopping(false) }
  }

  if (!env) return error ? <Banner kind="error">{error}</Banner> : <Spinner label="Loading environment" />
  const cp = env.nodes.find((n) => n.role === 'control-plane')?.name ?? ''
  const current = node || cp
  const seen = new Set(events.map((e) => e.phase))
  return (
    <div className="env">
      <div className="page-head">
        <div>
          <h1>{env.labId === 'playground' ? 'Playground' : env.labId}</h1>
          <p className="muted">Kubernetes v{env.kubernetesVersion} · {env.topology}{env.expiresAt && <> · until {new Date(env.expiresAt).toLocaleTimeString()}</>}</p>
        </div>
        {['requested', 'provisioning', 'ready', 'in_use'].includes(env.state) &&
          <button className="danger" onClick={stop} disabled={stopping}>{stopping ? 'Stopping…' : 'Stop environment'}</button>}
      </div>
      {error && <Banner kind="error">{error}</Banner>}
      {env.state === 'failed' && <Banner kind="error">This environment failed: {env.failure}. Go back to the labs and start it again.</Banner>}
      {['expired', 'deleting', 'deleted'].includes(env.state) && <Banner kind="info">This environment has ended ({env.state}). Start the lab again for a fresh cluster.</Banner>}
      {['requested', 'provisioning', 'ready'].includes(env.state) && (
        <div className="progress" aria-label="Environment progress">
          <Spinner label={env.state === 'requested' && env.queuePosition ? `Waiting for a free slot: ${env.queuePosition} ahead of you` : 'Preparing your cluster'} />
          <ol className="phases">
            {phases.filter((p) => seen.has(p)).map((p) => <li key={p} className="done">{p}</li>)}
          </ol>
        </div>
      )}
      {env.state === 'in_use' && (
        <div className={env.labId === 'playground' ? '' : 'lab-layout'}>
          {env.labId !== 'playground' && <LabPanel labId={env.labId} envId={env.id} canCheck />}
          <div className="lab-terminal">
          <div className="tabs" role="tablist">
            {env.nodes.map((n) => (
              <button key={n.name} role="tab" aria-selected={n.name === current} className={n.name === current ? 'tab active' : 'tab'} onClick={() => setNode(n.name)}>
                {n.name} <span className="muted">({n.role})</span>
              </button>
            ))}
          </div>
          {env.nodes.map((n) => (
            <div key={n.name} hidden={n.name !== current}>
              {(n.name === current || node) && <Terminal envId={env.id} node={n.name} label={n.name} />}
            </div>
          ))}
          </div>
        </div>
      )}
    </div>
  )
}
