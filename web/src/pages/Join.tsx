import { useEffect, useState, type FormEvent } from 'react'
import { api, ApiError, setCsrf, type Me } from '../api'
import { Banner, Spinner } from '../ui'
import { ssoErrorFromURL, ssoHref, useSignInMethods } from '../sso'

type InviteInfo = { cohort: { id: string; name: string }; email: string | null; expiresAt: string }

export function JoinPage({ token, me, onJoined }: { token: string; me: Me | null; onJoined: () => void }) {
  const [info, setInfo] = useState<InviteInfo | null>(null)
  const [loadError, setLoadError] = useState('')
  const [email, setEmail] = useState('')
  const [name, setName] = useState('')
  const [password, setPassword] = useState('')
  const [error, setError] = useState<string[]>(() => { const m = ssoErrorFromURL(); return m ? [m] : [] })
  const methods = useSignInMethods()
  const [busy, setBusy] = useState(false)

  useEffect(() => {
    api<InviteInfo>('GET', '/invites/' + encodeURIComponent(token))
      .then((i) => { setInfo(i); if (i.email) setEmail(i.email) })
      .catch((e) => setLoadError(e.message))
  }, [token])

  const submit = async (e: FormEvent) => {
    e.preventDefault()
    setBusy(true)
    setError([])
    try {
      const r = await api<{ csrfToken?: string }>('POST', '/invites/' + encodeURIComponent(token) + '/accept', me ? {} : { email, name, password })
      if (r.csrfToken) setCsrf(r.csrfToken)
      onJoined()
    } catch (err) {
      const ae = err as ApiError
      setError([ae.message, ...(Array.isArray(ae.details) ? (ae.details as string[]) : [])])
    } finally {
      setBusy(false)
    }
  }

  if (loadError) return <div className="center-page"><div className="auth-card"><h1>Invite not usable</h1><Banner kind="error">{loadError}</Banner></div></div>
  if (!info) return <div className="center-page"><Spinner label="Opening invite" /></div>
  return (
    <div className="center-page">
      <section className="auth-card">
        <h1>Join {info.cohort.name}</h1>
        <form onSubmit={submit}>
          {me ? (
            <p>You are signed in as <b>{me.user.email}</b>.</p>
          ) : methods?.sso ? (
            <>
              <a className="button primary sso" href={ssoHref(methods, { invite: token })}>Join with {methods.sso.name}</a>
              {methods.password && <p className="muted small or">or create an account with a password:</p>}
            </>
          ) : null}
          {!me && methods?.password && (
            <>
              <label>Email<input type="email" value={email} onChange={(e) => setEmail(e.target.value)} readOnly={!!info.email} required autoComplete="username" /></label>
              <label>Name<input value={name} onChange={(e) => setName(e.target.value)} autoComplete="name" /></label>
              <label>Password <span className="muted small">(8 characters or more)</span><input type="password" value={password} onChange={(e) => setPassword(e.target.value)} required autoComplete="new-password" /></label>
            </>
          )}
          {error.length > 0 && <Banner kind="error">{error.map((m) => <div key={m}>{m}</div>)}</Banner>}
          {(me || methods?.password) && (
            <button className={!me && methods?.sso ? '' : 'primary'} type="submit" disabled={busy}>{busy ? 'Joining…' : me ? 'Join cohort' : 'Create account and join'}</button>
          )}
        </form>
      </section>
    </div>
  )
}
