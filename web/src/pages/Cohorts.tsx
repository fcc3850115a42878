import { useEffect, useState, type FormEvent } from 'react'
import { api, ApiError, type Cohort, type Invite, type Member } from '../api'
import { Link } from '../router'
import { Banner, Empty, Spinner } from '../ui'
import { CohortBoard } from './Board'

export function CohortsPage() {
  const [cohorts, setCohorts] = useState<Cohort[] | null>(null)
  const [error, setError] = useState('')
  const [name, setName] = useState('')
  const load = () => api<{ cohorts: Cohort[] }>('GET', '/cohorts').then((r) => setCohorts(r.cohorts)).catch((e) => setError(e.message))
  useEffect(() => { load() }, [])

  const create = async (e: FormEvent) => {
    e.preventDefault()
    setError('')
    try {
      await api('POST', '/cohorts', { name })
      setName('')
      load()
    } catch (err) {
      setError((err as ApiError).message)
    }
  }

  return (
    <div>
      <div className="page-head">
        <div><h1>Cohorts</h1><p className="muted">Your classes. Invite students, then follow their labs live.</p></div>
        <form className="inline-form" onSubmit={create}>
          <label className="sr-only" htmlFor="cohort-name">New cohort name</label>
          <input id="cohort-name" placeholder="New cohort, e.g. CKA — Autumn" value={name} onChange={(e) => setName(e.target.value)} />
          <button className="primary" disabled={!name.trim()}>Create cohort</button>
        </form>
      </div>
      {error && <Banner kind="error">{error}</Banner>}
      {cohorts === null ? <Spinner label="Loading cohorts" /> : cohorts.length === 0 ? (
        <Empty title="No cohorts yet"><p className="muted">Create one above, then invite your students by email or with a link.</p></Empty>
      ) : (
        <div className="cards">
          {cohorts.map((c) => (
            <Link key={c.id} to={'/cohorts/' + c.id} className="card">
              <h3>{c.name}</h3>
              <p className="muted">{c.students} student{c.students === 1 ? '' : 's'} · {c.instructors} instructor{c.instructors === 1 ? '' : 's'}</p>
            </Link>
          ))}
        </div>
      )}
    </div>
  )
}

export function CohortPage({ id }: { id: string }) {
  const [cohort, setCohort] = useState<Cohort | null>(null)
  const [members, setMembers] = useState<Member[]>([])
  const [error, setError] = useState('')
  const [csv, setCsv] = useState('')
  const [created, setCreated] = useState<Invite[]>([])
  const [inviteErrors, setInviteErrors] = useState<string[]>([])

  const load = () => api<{ cohort: Cohort; members?: Member[] }>('GET', '/cohorts/' + id)
    .then((r) => { setCohort(r.cohort); setMembers(r.members ?? []) })
    .catch((e) => setError(e.message))
  useEffect(() => { load() }, [id])

  const invite = async (body: object) => {
    setInviteErrors([])
    try {
      const r = await api<{ invites: Invite[] }>('POST', `/cohorts/${id}/invites`, body)
      setCreated(r.invites)
      setCsv('')
    } catch (err) {
      const ae = err as ApiError
      setInviteErrors([ae.message, ...(Array.isArray(ae.details) ? (ae.details as string[]) : [])])
    }
  }

  if (error) return <Banner kind="error">{error}</Banner>
  if (!cohort) return <Spinner label="Loading cohort" />
  return (
    <div>
      <div className="page-head">
        <div><p className="crumb"><Link to="/cohorts">Cohorts</Link> /</p><h1>{cohort.name}</h1></div>
        {cohort.myRole === 'instructor' && (
          <label className="toggle">
            <input type="checkbox" checked={cohort.showSolutions} onChange={async (e) => {
              try { setCohort((await api<{ cohort: Cohort }>('PATCH', '/cohorts/' + id, { showSolutions: e.target.checked })).cohort) } catch (err) { setError((err as ApiError).message) }
            }} /> Students may see solutions after a Check
          </label>
        )}
      </div>
      {cohort.myRole === 'instructor' && (
        <section className="panel">
          <div className="section-head">
            <h2>Progress</h2>
            <a className="button secondary" href={`/api/v1/cohorts/${id}/grades.csv`} download>Export grades (CSV)</a>
          </div>
          <CohortBoard cohortId={id} />
        </section>
      )}
      <div className="two-col">
        <section className="panel">
          <h2>Members</h2>
          <table className="table">
            <thead><tr><th>Email</th><th>Name</th><th>Role</th><th>Joined</th></tr></thead>
            <tbody>
              {members.map((m) => (
                <tr key={m.user.id}><td>{m.user.email}</td><td>{m.user.name}</td><td>{m.role}</td><td>{new Date(m.joinedAt).toLocaleDateString()}</td></tr>
              ))}
            </tbody>
          </table>
        </section>
        <section className="panel">
          <h2>Invite students</h2>
          <p className="muted small">Paste emails, one per line or as CSV (a column of addresses; a header row is fine). Each student gets a personal link.</p>
          <label className="sr-only" htmlFor="invite-csv">Emails</label>
          <textarea id="invite-csv" rows={5} value={csv} onChange={(e) => setCsv(e.target.value)} placeholder={'email\nana@example.com\nbob@example.com'} />
          <div className="row">
            <button className="primary" disabled={!csv.trim()} onClick={() => invite({ csv })}>Create invites</button>
            <button className="secondary" onClick={() => invite({ link: true })}>Create a shareable link</button>
          </div>
          {inviteErrors.length > 0 && <Banner kind="error">{inviteErrors.map((m) => <div key={m}>{m}</div>)}</Banner>}
          {created.length > 0 && (
            <div className="invites">
              <Banner kind="success">Copy these links now: they are shown only once.</Banner>
              <ul>{created.map((i) => <li key={i.id}><b>{i.email ?? 'Anyone with the link'}</b><input readOnly value={i.link} onFocus={(e) => e.target.select()} aria-label={'Invite link for ' + (i.email ?? 'the cohort')} /></li>)}</ul>
            </div>
          )}
        </section>
      </div>
    </div>
  )
}
