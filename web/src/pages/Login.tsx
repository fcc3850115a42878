import { useState, type FormEvent } from 'react'
import { api, ApiError, setCsrf } from '../api'
import { Banner } from '../ui'
import { ssoErrorFromURL, ssoHref, useSignInMethods } from '../sso'

export function LoginPage({ onLogin }: { onLogin: () => void }) {
  const [email, setEmail] = useState('')
  const [password, setPassword] = useState('')
  const [error, setError] = useState(ssoErrorFromURL)
  const [busy, setBusy] = useState(false)
  const methods = useSignInMethods()
  const path = window.location.pathname
  const next = path === '/login' ? '' : path + window.location.search

  const submit = async (e: FormEvent) => {
    e.preventDefault()
    setBusy(true)
    setError('')
    try {
      const r = await api<{ csrfToken: string }>('POST', '/auth/login', { email, password })
      setCsrf(r.csrfToken)
      onLogin()
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err))
    } finally {
      setBusy(false)
    }
  }

  return (
    <div className="auth-page">
      <section className="auth-hero" aria-hidden>
        <div className="brand big"><span className="logo">k</span>ckalab</div>
        <p className="tagline">Practise for the CKA on real, multi-node Kubernetes clusters — your own, in seconds.</p>
        <pre className="hero-term">{`$ kubectl get nodes
NAME                 STATUS   ROLES           VERSION
lab-control-plane    Ready    control-plane   v1.34.4
lab-worker           Ready    <none>          v1.34.4
$ ETCDCTL_API=3 etcdctl snapshot save /opt/backup.db
Snapshot saved at /opt/backup.db`}</pre>
      </section>
      <section className="auth-card">
        <h1>Sign in</h1>
        {methods?.sso && (
          <a className="button primary sso" href={ssoHref(methods, { next })}>Sign in with {methods.sso.name}</a>
        )}
        {methods?.sso && methods.password && <p className="muted small or">or with your email and password</p>}
        {methods?.password && (
          <form onSubmit={submit} noValidate>
            <label>Email<input type="email" autoComplete="username" value={email} onChange={(e) => setEmail(e.target.value)} required autoFocus={!methods?.sso} /></label>
            <label>Password<input type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} required /></label>
            <button className={methods?.sso ? '' : 'primary'} type="submit" disabled={busy || !email || !password}>{busy ? 'Signing in…' : 'Sign in'}</button>
          </form>
        )}
        {error && <Banner kind="error">{error}</Banner>}
        <p className="muted small">New here? Open the invite link your instructor sent you.</p>
      </section>
    </div>
  )
}
