// The countdown of an environment, truthful about the grace: the server
// deletes the cluster at expiresAt, which is the lab's own time plus
// graceSeconds (--environment-grace; Extend adds to both). So the lab's
// time ends graceSeconds before expiresAt, and Checks count until expiresAt.
import { useEffect, useState } from 'react'

const clock = (s: number) => `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`

export function TimeLeft({ expiresAt, graceSeconds = 0 }: { expiresAt: string; graceSeconds?: number }) {
  const [now, setNow] = useState(Date.now())
  useEffect(() => { const t = window.setInterval(() => setNow(Date.now()), 1000); return () => window.clearInterval(t) }, [])
  const s = Math.max(0, Math.floor((new Date(expiresAt).getTime() - now) / 1000))
  const lab = s - graceSeconds
  const grace = Math.round(graceSeconds / 60)
  const why = grace > 0 ? `Your lab's time, then ${grace} min of grace before the cluster is deleted; Checks count until the end of the grace.` : 'The cluster is deleted when the time runs out.'
  if (lab > 0) {
    const text = clock(lab)
    return <span className={lab < 300 ? 'timer low' : 'timer'} role="timer" title={why}
      aria-label={`Time left ${text}${grace > 0 ? `, then ${grace} min grace` : ''}`}>{text} left{grace > 0 && <span className="grace"> · +{grace} min grace</span>}</span>
  }
  const text = clock(s)
  return <span className="timer low" role="timer" title={why} aria-label={`Grace period: ${text} left`}>Grace period: {text} left</span>
}
