// The task side of a lab: its tasks in Markdown, hints revealed one at a
// time, and the Check button with each check's result. Instructors get
// the same panel read-only (canCheck false). Check and the score stay in
// view at the panel's foot; after a Check the panel moves to the first
// failed check.
import { useEffect, useRef, useState } from 'react'
import { marked } from 'marked'
import { api, ApiError, type CheckRun, type Lab } from './api'
import { Banner } from './ui'

type Step = { manifest?: string; node?: string; script?: string }
type Explanation = { taskId: string; title: string; markdown: string }

export function LabPanel({ labId, envId, canCheck, refresh = 0 }: { labId: string; envId: string; canCheck: boolean; refresh?: number }) {
  const [lab, setLab] = useState<Lab | null>(null)
  const [run, setRun] = useState<CheckRun | null>(null)
  const [hints, setHints] = useState<Record<string, string[]>>({})
  const [checking, setChecking] = useState(false)
  const [error, setError] = useState('')
  const [solution, setSolution] = useState<Step[] | null>(null)
  const [explanations, setExplanations] = useState<Explanation[]>([])
  const [checked, setChecked] = useState(0) // Checks pressed here: each moves to its first failure
  const panel = useRef<HTMLElement>(null)
  // A student reads the solution once the attempt is over: at full marks,
  // or after giving up (later Checks then do not count).
  const fullMarks = !!run && run.counted && run.score >= run.maxScore
  const showSolution = async () => {
    try {
      if (canCheck && !fullMarks) {
        if (!window.confirm('Give up this attempt and read the solution? You can keep working and pressing Check, but later Checks will not count towards your grade.')) return
        await api('POST', `/environments/${envId}/give-up`, {})
      }
      const r = await api<{ steps: Step[]; explanations: Explanation[] }>('GET', `/environments/${envId}/solution`)
      setSolution(r.steps)
      setExplanations(r.explanations ?? [])
    } catch (e) { setError((e as ApiError).message) }
  }
  useEffect(() => {
    api<{ lab: Lab }>('GET', `/labs/${labId}`).then((r) => setLab(r.lab)).catch((e) => setError((e as ApiError).message))
  }, [labId])
  useEffect(() => {
    api<{ runs: CheckRun[] }>('GET', `/environments/${envId}/checks`).then((r) => setRun(r.runs[0] ?? null)).catch(() => {})
    api<{ hints: Record<string, string[]> }>('GET', `/environments/${envId}/hints`).then((r) => setHints(r.hints)).catch(() => {})
  }, [envId, refresh])

  const check = async () => {
    setChecking(true)
    setError('')
    try {
      setRun((await api<{ run: CheckRun }>('POST', `/environments/${envId}/check`, {})).run)
      setChecked((n) => n + 1)
    } catch (e) {
      setError((e as ApiError).message)
    } finally {
      setChecking(false)
    }
  }
  // After a Check, the first check that failed (or waits); the solution once opened.
  useEffect(() => {
    if (checked) scrollWithin(panel.current, panel.current?.querySelector<HTMLElement>('.results .fail, .results .wait'))
  }, [checked])
  useEffect(() => {
    if (solution) scrollWithin(panel.current, panel.current?.querySelector<HTMLElement>('.solution'))
  }, [solution])
  const hint = async (task: string) => {
    try {
      const r = await api<{ taskId: string; hints: string[] }>('POST', `/environments/${envId}/hints`, { taskId: task })
      setHints((h) => ({ ...h, [r.taskId]: r.hints }))
    } catch (e) { setError((e as ApiError).message) }
  }
  if (!lab) return error ? <Banner kind="error">{error}</Banner> : null
  const resultOf = (task: string, check: string) => run?.results.find((r) => r.taskId === task && r.checkId === check)
  return (
    <aside className="lab-panel" aria-label="Tasks" ref={panel}>
      {lab.description && <div className="md" dangerouslySetInnerHTML={{ __html: marked.parse(lab.description) as string }} />}
      {lab.tasks.map((t, i) => {
        const shown = hints[t.id] ?? []
        return (
          <section key={t.id} className="task">
            <h3>{i + 1}. {t.title} <span className="muted small">({t.weight} pt)</span></h3>
            <div className="md" dangerouslySetInnerHTML={{ __html: marked.parse(t.markdown) as string }} />
            {shown.length > 0 && <ul className="hints" aria-label={`Hints for task ${i + 1}`}>{shown.map((h) => <li key={h} dangerouslySetInnerHTML={{ __html: marked.parseInline(h) as string }} />)}</ul>}
            {canCheck && shown.length < t.hints && <button className="secondary small" onClick={() => hint(t.id)}>Show a hint ({shown.length + 1} of {t.hints})</button>}
            {!canCheck && t.hints > 0 && <p className="muted small">{shown.length} of {t.hints} hints used</p>}
            {run && (
              <ul className="results">
                {t.checks.map((c) => {
                  const r = resultOf(t.id, c.id)
                  // A check waiting for another found what it wanted but does not count yet.
                  const waiting = !r?.passed && (r?.waitingFor?.length ?? 0) > 0
                  return <li key={c.id} className={r?.passed ? 'pass' : waiting ? 'wait' : 'fail'}>{r?.passed ? '✓' : waiting ? '…' : '✗'} {r?.passed ? c.description : r?.message ?? c.description}</li>
                })}
              </ul>
            )}
          </section>
        )
      })}
      {solution && (
        <section className="solution" aria-label="Solution">
          {explanations.map((x) => (
            <div key={x.taskId} className="explanation">
              <h4>Why: {x.title}</h4>
              <div className="md" dangerouslySetInnerHTML={{ __html: marked.parse(x.markdown) as string }} />
            </div>
          ))}
          <h3>Solution</h3>
          {solution.map((st, i) => <pre key={i}>{st.script ? `# on ${st.node}\n${st.script}` : `# kubectl apply -f - <<EOF\n${st.manifest}EOF`}</pre>)}
        </section>
      )}
      <div className="lab-actions">
        {error && <Banner kind="error">{error}</Banner>}
        {run && run.score >= run.maxScore && <Banner kind="success"><span className="passed">{run.counted ? '✓ Passed: every check is green.' : '✓ Every check is green (not counted: given up).'}</span></Banner>}
        <div className="lab-actions-row">
          {canCheck && <button className="primary" onClick={check} disabled={checking}>{checking ? 'Checking…' : 'Check'}</button>}
          {run ? <p className="score" role="status">Score: {run.score.toFixed(1)} / {run.maxScore}{!run.counted && ' (not counted: given up)'} <span className="muted small">({new Date(run.at).toLocaleTimeString()}, {run.tookMs} ms)</span></p>
            : !canCheck && <p className="muted small">No Check yet.</p>}
        </div>
        {run && !solution && <button className="secondary small" onClick={showSolution}>{canCheck && !fullMarks ? 'Give up and show the solution' : 'Show the solution'}</button>}
      </div>
    </aside>
  )
}

// scrollWithin scrolls the panel (not the page) to show el a little below
// its top, and brings the panel itself into view.
function scrollWithin(panel: HTMLElement | null, el: HTMLElement | null | undefined) {
  if (!panel || !el) return
  panel.scrollTo({ top: el.getBoundingClientRect().top - panel.getBoundingClientRect().top + panel.scrollTop - 48, behavior: 'smooth' })
  const r = panel.getBoundingClientRect()
  if (r.bottom > window.innerHeight || r.top < 0) panel.scrollIntoView({ block: 'nearest', behavior: 'smooth' })
}
