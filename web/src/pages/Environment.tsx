import { useEffect, useState } from 'react'
import { api, ApiError, envTitle, type Environment, type EnvEvent } from '../api'
import { Terminal } from '../Terminal'
import { LabPanel } from '../LabPanel'
import { LabLayout } from '../LabLayout'
import { TimeLeft } from '../TimeLeft'
import { Banner, Confirm, Spinner } from '../ui'
import { useRouter } from '../router'

const phases = ['queued', 'provisioning', 'creating nodes', 'kubeadm init', 'network', 'storage', 'joining workers', 'waiting for nodes', 'cluster ready', 'claimed', 'lab setup', 'ready']
const starting = ['requested', 'provisioning', 'ready']

// useEnvironment follows an environment: every second while it starts,
// every 10 s while it runs (to notice expiry, a reset or a failure).
export function useEnvironment(id: string) {
  const [env, setEnv] = useState<Environment | null>(null)
  const [events, setEvents] = useState<EnvEvent[]>([])
  const [typical, setTypical] = useState<{ seconds: number; of: number } | null>(null)
  const [error, setError] = useState('')
  useEffect(() => {
    let after = 0
    let timer: number | undefined
    let gone = false
    setEnv(null)
    setEvents([])
    const poll = async () => {
      try {
        const r = await api<{ events: EnvEvent[]; environment: Environment; typicalStartSeconds?: number; typicalStartOf?: number }>('GET', `/environments/${id}/events?after=${after}`)
        if (gone) return
        setTypical(r.typicalStartSeconds ? { seconds: r.typicalStartSeconds, of: r.typicalStartOf ?? 0 } : null)
        if (r.events.length) { after = r.events[r.events.length - 1].id; setEvents((old) => [...old, ...r.events]) }
        setEnv(r.environment)
        setError('')
        if (starting.includes(r.environment.state)) timer = window.setTimeout(poll, 1000)
        else if (['in_use', 'deleting'].includes(r.environment.state)) timer = window.setTimeout(poll, 10000)
      } catch (e) {
        if (gone) return
        setError((e as ApiError).message)
        if ((e as ApiError).status !== 403 && (e as ApiError).status !== 404) timer = window.setTimeout(poll, 3000)
      }
    }
    poll()
    return () => { gone = true; window.clearTimeout(timer) }
  }, [id])
  return { env, setEnv, events, typical, error }
}

// EnvironmentPage follows an environment from the queue to a running
// cluster, then shows the lab's tasks and a terminal per node.
export function EnvironmentPage({ id }: { id: string }) {
  const { navigate } = useRouter()
  const { env, setEnv, events, typical, error: loadError } = useEnvironment(id)
  const [error, setError] = useState('')
  const [node, setNode] = useState('')
  const [busy, setBusy] = useState('')
  const [confirm, setConfirm] = useState<'' | 'reset' | 'stop'>('')
  const [woke, setWoke] = useState<number | null>(null)
  const [waking, setWaking] = useState(false)
  const [wakeTry, setWakeTry] = useState(0)
  const asleep = env?.state === 'in_use' && !!env.pausedAt

  // A sleeping cluster is woken as soon as its page is open.
  useEffect(() => {
    if (!asleep) return
    let gone = false
    setWaking(true)
    setWoke(null)
    api<{ environment: Environment; tookSeconds: number }>('POST', `/environments/${id}/wake`, {})
      .then((r) => { if (!gone) { setEnv(r.environment); setWoke(r.tookSeconds) } })
      .catch((e) => { if (!gone) setError((e as ApiError).message) })
      .finally(() => { if (!gone) setWaking(false) })
    return () => { gone = true }
  }, [asleep, id, setEnv, wakeTry])

  const act = async (what: string, f: () => Promise<void>) => {
    setBusy(what)
    setError('')
    try { await f() } catch (e) { setError((e as ApiError).message) } finally { setBusy('') }
  }
  const stop = () => act('stop', async () => { await api('DELETE', `/environments/${id}`); navigate('/') })
  const reset = () => act('reset', async () => {
    const r = await api<{ environment: Environment }>('POST', `/environments/${id}/reset`, {})
    setConfirm('')
    navigate('/env/' + r.environment.id)
  })
  const extend = () => act('extend', async () => {
    setEnv((await api<{ environment: Environment }>('POST', `/environments/${id}/extend`, { minutes: 15 })).environment)
  })

  if (!env) return loadError ? <Banner kind="error">{loadError}</Banner> : <Spinner label="Loading environment" />
  const nodes = [...env.nodes].sort((a, b) => (a.role === 'control-plane' ? 0 : 1) - (b.role === 'control-plane' ? 0 : 1) || a.name.localeCompare(b.name))
  const cp = nodes.find((n) => n.role === 'control-plane')?.name ?? ''
  const current = node || cp
  const seen = new Set(events.map((e) => e.phase))
  // Steps in their order; the last one reached is the one running.
  const reached = phases.filter((p) => seen.has(p))
  const live = [...starting, 'in_use'].includes(env.state)
  const graded = env.labId !== 'playground'
  return (
    <div className="env">
      <div className="page-head">
        <div>
          <h1>{envTitle(env)}</h1>
          <p className="muted">Kubernetes v{env.kubernetesVersion} · {env.topology}</p>
        </div>
        <div className="row">
          {env.state === 'in_use' && env.expiresAt && <>
            <TimeLeft expiresAt={env.expiresAt} graceSeconds={env.graceSeconds} />
            <button className="secondary" onClick={extend} disabled={!!busy}>{busy === 'extend' ? 'Extending…' : 'Extend 15 min'}</button>
          </>}
          {(live || env.state === 'failed' || env.state === 'expired') && <button className="secondary" onClick={() => setConfirm('reset')} disabled={!!busy}>Reset</button>}
          {live && <button className="danger" onClick={() => setConfirm('stop')} disabled={!!busy}>{busy === 'stop' ? 'Stopping…' : 'Stop environment'}</button>}
        </div>
      </div>
      {confirm === 'reset' && <Confirm label="Confirm reset" action={busy === 'reset' ? 'Resetting…' : 'Reset now'} busy={!!busy} onConfirm={reset} onCancel={() => setConfirm('')}>
        Reset deletes this cluster and everything you did in it, then starts a fresh one for this lab.</Confirm>}
      {confirm === 'stop' && <Confirm label="Confirm stop" action={busy === 'stop' ? 'Stopping…' : 'Stop now'} busy={!!busy} onConfirm={stop} onCancel={() => setConfirm('')}>
        Stop deletes this cluster and everything you did in it. Your Checks so far are kept.</Confirm>}
      {(error || loadError) && <Banner kind="error">{error || loadError}</Banner>}
      {env.state === 'failed' && <Banner kind="error">The cluster failed to start: {env.failure}. <button className="link" onClick={reset} disabled={!!busy}>Retry with a fresh cluster</button></Banner>}
      {['expired', 'deleting', 'deleted'].includes(env.state) && <Banner kind="info">This environment has ended ({env.state}). <button className="link" onClick={reset} disabled={!!busy}>Start this lab again</button> for a fresh cluster.</Banner>}
      {starting.includes(env.state) && (
        <div className={graded ? 'starting' : undefined}>
          <div className="progress" aria-label="Environment progress">
            <Spinner label={env.state === 'requested' && env.queuePosition ? `Waiting for a free slot: ${env.queuePosition} ahead of you` : 'Preparing your cluster'} />
            <ol className="phases">
              {reached.map((p, i) => i < reached.length - 1
                ? <li key={p} className="done">{p}</li>
                : <li key={p} className="running" aria-current="step">{p}…</li>)}
            </ol>
            <p className="muted">
              {typical && <>A new cluster usually takes about {duration(typical.seconds)} here (the median of the last {typical.of} starts). </>}
              {duration(elapsed(env.createdAt))} so far.{graded && ' Read the tasks meanwhile: the terminal opens here when the cluster is ready.'}
            </p>
          </div>
          {graded && <LabPanel labId={env.labId} envId={env.id} canCheck={false} />}
        </div>
      )}
      {asleep && <div className="progress" aria-label="Waking your cluster">
        <Spinner label={waking ? 'Waking your cluster' : 'Your cluster is asleep'} />
        <p className="muted">It was paused after a while without activity, to spare the server; the lab clock kept running. It takes about 10 seconds to wake.</p>
        {!waking && <button onClick={() => { setError(''); setWakeTry((n) => n + 1) }}>Wake it again</button>}
      </div>}
      {asleep && graded && <LabPanel labId={env.labId} envId={env.id} canCheck={false} />}
      {woke !== null && woke > 0 && !asleep && <Banner kind="info">Your cluster was asleep and woke in {woke.toFixed(1)} s: everything you did is still there.</Banner>}
      {env.state === 'in_use' && !asleep && (
        <LabLayout panel={graded && <LabPanel labId={env.labId} envId={env.id} canCheck />} tabs={
          <div className="tabs" role="tablist">
            {nodes.map((n) => (
              <button key={n.name} role="tab" aria-selected={n.name === current} className={n.name === current ? 'tab active' : 'tab'} onClick={() => setNode(n.name)}>
                {n.name} <span className="muted">({n.role})</span>
              </button>
            ))}
          </div>}>
          {env.nodes.map((n) => (
            <div key={n.name} hidden={n.name !== current}>
              {(n.name === current || node) && <Terminal envId={env.id} node={n.name} label={n.name} />}
            </div>
          ))}
        </LabLayout>
      )}
      {graded && ['expired', 'deleting', 'deleted'].includes(env.state) && <LabPanel labId={env.labId} envId={env.id} canCheck={false} />}
    </div>
  )
}

// elapsed is how many seconds ago a time was.
function elapsed(at: string): number { return Math.max(0, Math.round((Date.now() - new Date(at).getTime()) / 1000)) }

// duration writes seconds as "45 s" or "1 min 10 s".
function duration(s: number): string { return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s` }
