// The task side of a lab: its tasks in Markdown, hints, and the Check
// button with each check's result.
import { useEffect, useState } from 'react'
import { marked } from 'marked'
import { api, ApiError, type CheckRun, type Lab } from './api'
import { Banner } from './ui'

export function LabPanel({ labId, envId, canCheck }: { labId: string; envId: string; canCheck: boolean }) {
  const [lab, setLab] = useState<Lab | null>(null)
  const [run, setRun] = useState<CheckRun | null>(null)
  const [checking, setChecking] = useState(false)
  const [error, setError] = useState('')
  const [solution, setSolution] = useState<{ manifest?: string; node?: string; script?: string }[] | null>(null)
  const showSolution = async () => {
    try { setSolution((await api<{ steps: { manifest?: string; node?: string; script?: string }[] }>('GET', `/environments/${envId}/solution`)).steps) } catch (e) { setError((e as ApiError).message) }
  }
  useEffect(() => {
    api<{ lab: Lab }>('GET', `/labs/${labId}`).then((r) => setLab(r.lab)).catch((e) => setError((e as ApiError).message))
    api<{ runs: CheckRun[] }>('GET', `/environments/${envId}/checks`).then((r) => setRun(r.runs[0] ?? null)).catch(() => {})
  }, [labId, envId])

  const check = async () => {
    setChecking(true)
    setError('')
    try {
      setRun((await api<{ run: CheckRun }>('POST', `/environments/${envId}/check`, {})).run)
    } catch (e) {
      setError((e as ApiError).message)
    } finally {
      setChecking(false)
    }
  }
  if (!lab) return error ? <Banner kind="error">{error}</Banner> : null
  const resultOf = (task: string, check: string) => run?.results.find((r) => r.taskId === task && r.checkId === check)
  return (
    <aside className="lab-panel" aria-label="Tasks">
      {lab.description && <div className="md" dangerouslySetInnerHTML={{ __html: marked.parse(lab.description) as string }} />}
      {lab.tasks.map((t, i) => (
        <section key={t.id} className="task">
          <h3>{i + 1}. {t.title} <span className="muted small">({t.weight} pt)</span></h3>
          <div className="md" dangerouslySetInnerHTML={{ __html: marked.parse(t.markdown) as string }} />
          {t.hints.length > 0 && <details><summary>Hints</summary><ul>{t.hints.map((h) => <li key={h} dangerouslySetInnerHTML={{ __html: marked.parseInline(h) as string }} />)}</ul></details>}
          {run && (
            <ul className="results">
              {t.checks.map((c) => {
                const r = resultOf(t.id, c.id)
                return <li key={c.id} className={r?.passed ? 'pass' : 'fail'}>{r?.passed ? '✓' : '✗'} {r?.passed ? c.description : r?.message ?? c.description}</li>
              })}
            </ul>
          )}
        </section>
      ))}
      {error && <Banner kind="error">{error}</Banner>}
      {canCheck && <button className="primary" onClick={check} disabled={checking}>{checking ? 'Checking…' : 'Check'}</button>}
      {run && !solution && <button className="ghost small" onClick={showSolution}>Show the solution</button>}
      {solution && (
        <section className="solution" aria-label="Solution">
          <h3>Solution</h3>
          {solution.map((st, i) => <pre key={i}>{st.script ? `# on ${st.node}\n${st.script}` : `# kubectl apply -f - <<EOF\n${st.manifest}EOF`}</pre>)}
        </section>
      )}
      {run && <p className="score" role="status">Score: {run.score.toFixed(1)} / {run.maxScore} <span className="muted small">({new Date(run.at).toLocaleTimeString()}, {run.tookMs} ms)</span></p>}
    </aside>
  )
}
