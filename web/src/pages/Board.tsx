// The instructor's live view of a cohort: students × labs, pushed by the
// server (server-sent events) as states and scores change.
import { useEffect, useState } from 'react'
import { ago, labName, live, stateLabel, type Board } from '../api'
import { Link } from '../router'
import { Empty, Spinner } from '../ui'

export function CohortBoard({ cohortId }: { cohortId: string }) {
  const [board, setBoard] = useState<Board | null>(null)
  const [status, setStatus] = useState<'connecting' | 'live' | 'reconnecting' | 'stopped'>('connecting')
  const [problem, setProblem] = useState('')
  const [, tick] = useState(0)
  useEffect(() => {
    const es = new EventSource(`/api/v1/cohorts/${cohortId}/board/events`)
    es.addEventListener('board', (ev) => { setBoard(JSON.parse((ev as MessageEvent).data)); setStatus('live'); setProblem('') })
    es.addEventListener('problem', (ev) => setProblem(JSON.parse((ev as MessageEvent).data)))
    // The server ends the stream when the sign-in ends: stop, say why.
    es.addEventListener('end', (ev) => { es.close(); setStatus('stopped'); setProblem(JSON.parse((ev as MessageEvent).data)) })
    es.onerror = () => setStatus('reconnecting')
    const t = window.setInterval(() => tick((n) => n + 1), 10000) // refresh "… ago"
    return () => { es.close(); window.clearInterval(t) }
  }, [cohortId])

  if (!board) return <Spinner label="Connecting to the live board" />
  if (board.students.length === 0) return <Empty title="No students yet"><p className="muted">Invite students below; they appear here as they join.</p></Empty>
  const titles = new Map(board.labs.map((l) => [l.id, l.title]))
  const title = (id: string) => titles.get(id) ?? labName(id)
  const labs = board.labs.filter((l) => board.students.some((s) => s.progress[l.id] || s.environment?.labId === l.id))
  return (
    <div>
      <p className="small muted live" role="status"><span className={'dot ' + (status === 'live' ? 'dot-connected' : 'dot-reconnecting')} aria-hidden /> {status === 'live' ? 'Live' : status === 'stopped' ? 'Stopped' : 'Reconnecting…'}{problem && ` · ${problem}`}</p>
      <div className="table-wrap">
        <table className="table board" aria-label="Students and labs">
          <thead>
            <tr><th>Student</th><th>Now</th><th>Last activity</th>{labs.map((l) => <th key={l.id} className="lab-col" title={l.id}>{l.title}</th>)}</tr>
          </thead>
          <tbody>
            {board.students.map((s) => {
              const e = s.environment
              const active = e && live(e.state)
              return (
                <tr key={s.user.id} data-testid={'student-' + s.user.email}>
                  <td><Link to={`/cohorts/${cohortId}/students/${s.user.id}`}>{s.user.name || s.user.email}</Link>{s.user.name && <div className="muted small">{s.user.email}</div>}</td>
                  <td className="now">{e ? <span className={'state state-' + e.state} title={e.failure}>{active ? title(e.labId) + ': ' : ''}{stateLabel(e.state)}</span> : <span className="muted">not started</span>}</td>
                  <td>{ago(s.lastActivityAt)}</td>
                  {labs.map((l) => {
                    const p = s.progress[l.id]
                    return <td key={l.id} data-lab={l.id}>{!p || p.checks === 0 ? <span className="muted">—</span>
                      : <span className={p.passed ? 'badge pass' : 'badge partial'} title={`${p.checks} checks, ${p.hintsUsed} hints`}>{p.passed ? '✓ ' : ''}{p.bestScore.toFixed(1)}/{p.maxScore}</span>}</td>
                  })}
                </tr>
              )
            })}
          </tbody>
        </table>
      </div>
    </div>
  )
}
