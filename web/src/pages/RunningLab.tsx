// A lab the student has running, as the catalog shows it: its title, its
// time left (or how far it got), Open, and Stop (confirmed). The catalog
// shows it in place of Start (saying why) when the student may run no more labs.
import { useState } from 'react'
import { api, ApiError, envTitle, stateLabel, type Environment } from '../api'
import { Link, useRouter } from '../router'
import { TimeLeft } from '../TimeLeft'
import { Banner, Confirm } from '../ui'

export function RunningLab({ env, onStopped, why }: { env: Environment; onStopped: () => void; why?: string }) {
  const { navigate } = useRouter()
  const [confirm, setConfirm] = useState(false)
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState('')
  const title = envTitle(env)
  const stop = async () => {
    setBusy(true)
    setError('')
    try {
      await api('DELETE', `/environments/${env.id}`)
      setConfirm(false)
      onStopped()
    } catch (e) { setError((e as ApiError).message) } finally { setBusy(false) }
  }
  const when = env.state === 'in_use' && env.expiresAt ? <TimeLeft expiresAt={env.expiresAt} graceSeconds={env.graceSeconds} /> : stateLabel(env.state)
  const link = <Link to={'/env/' + env.id}><strong>{title}</strong></Link>
  return (
    <div className="running-lab" role="group" aria-label={`Running: ${title}`}>
      {why
        ? <p className="small"><span className="muted">{why}</span> {link} · {when}</p>
        : <><p>{link}</p><p className="muted small">{when} · {env.topology}</p></>}
      {error && <Banner kind="error">{error}</Banner>}
      {confirm
        ? <Confirm label="Confirm stop" action={busy ? 'Stopping…' : 'Stop now'} busy={busy} onConfirm={stop} onCancel={() => setConfirm(false)}>
          Stop deletes the cluster of {title} and your work in it. Your Checks so far are kept.</Confirm>
        : <div className="row">
          <button className={why ? 'secondary small' : 'primary'} onClick={() => navigate('/env/' + env.id)} aria-label={`Open ${title}`}>Open</button>
          <button className={why ? 'secondary small' : 'secondary'} onClick={() => setConfirm(true)} aria-label={`Stop ${title}`}>Stop</button>
        </div>}
    </div>
  )
}
