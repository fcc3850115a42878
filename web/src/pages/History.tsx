import { useEffect, useState } from 'react'
import { api, ApiError, envTitle, live, stateLabel, type Attempt } from '../api'
import { Link } from '../router'
import { Banner, Empty, Spinner } from '../ui'

// AttemptsTable lists environments with their best Check; with link, each
// row opens its environment's page (the lab while it runs, its last Check after).
export function AttemptsTable({ attempts, link }: { attempts: Attempt[]; link: boolean }) {
  return (
    <div className="table-wrap"><table className="table">
      <thead><tr><th>Lab</th><th>Started</th><th>State</th><th>Checks</th><th>Best score</th></tr></thead>
      <tbody>
        {attempts.map((a) => (
          <tr key={a.id}>
            <td>{link ? <Link to={'/env/' + a.id}>{envTitle(a)}</Link> : envTitle(a)}{link && live(a.state) && <span className="muted small"> · open</span>}</td>
            <td>{new Date(a.startedAt ?? a.createdAt).toLocaleString()}</td>
            <td>{stateLabel(a.state)}{a.failure ? `: ${a.failure}` : ''}</td>
            <td>{a.checks}</td>
            <td>{a.checks > 0 ? <span className={a.bestScore === a.maxScore ? 'badge pass' : 'badge partial'}>{a.bestScore.toFixed(1)} / {a.maxScore}</span> : <span className="muted">—</span>}</td>
          </tr>
        ))}
      </tbody>
    </table></div>
  )
}

export function HistoryPage() {
  const [attempts, setAttempts] = useState<Attempt[] | null>(null)
  const [error, setError] = useState('')
  useEffect(() => { api<{ attempts: Attempt[] }>('GET', '/attempts').then((r) => setAttempts(r.attempts)).catch((e) => setError((e as ApiError).message)) }, [])
  return (
    <div>
      <div className="page-head"><div><p className="crumb"><Link to="/">Labs</Link> /</p><h1>Your attempts</h1><p className="muted">Every environment you started, with its best Check.</p></div></div>
      {error && <Banner kind="error">{error}</Banner>}
      {!attempts ? !error && <Spinner label="Loading your attempts" /> : attempts.length === 0
        ? <Empty title="No attempts yet"><p className="muted">Start a lab from the <Link to="/">catalog</Link>; each environment shows up here.</p></Empty>
        : <section className="panel"><AttemptsTable attempts={attempts} link /></section>}
    </div>
  )
}
