import { useEffect, useState } from 'react'
import { api } from './api'

export type SignInMethods = { password: boolean; sso: { name: string; start: string } | null }

// useSignInMethods asks the server what the sign-in and invite pages offer.
export function useSignInMethods(): SignInMethods | null {
  const [m, setM] = useState<SignInMethods | null>(null)
  useEffect(() => {
    api<SignInMethods>('GET', '/auth/methods').then(setM).catch(() => setM({ password: true, sso: null }))
  }, [])
  return m
}

// The server sends a code, never text, back from single sign-on.
const ssoMessages: Record<string, string> = {
  expired: 'The sign-in took too long or was started in another browser. Try again.',
  unavailable: 'The identity provider cannot be reached right now. Try again in a minute, or ask your instructor.',
  refused: 'The identity provider did not sign you in.',
  token: 'The identity provider’s answer could not be verified. Try again; if it keeps failing, tell the operator.',
  domain: 'Your email address is not in a domain this server accepts. Sign in with your school or company account.',
  group: 'Your account is not in a group allowed to use this server. Ask your instructor to add you.',
  email_unverified: 'The identity provider has not verified your email address.',
  unlinkable: 'An account with your email is already linked to another sign-in of this provider. Ask an admin.',
  invite_required: 'You have no account here yet. Open the invite link your instructor sent you, then choose the sign-in button there.',
  disabled: 'Your account is disabled. Ask an admin.',
  invite: 'This invite does not exist or has expired. Ask your instructor for a new one.',
  error: 'Sign-in failed on the server. Try again; the server log has details.',
}

// ssoErrorFromURL is the message for ?sso_error=…, or ''.
export function ssoErrorFromURL(): string {
  const code = new URLSearchParams(window.location.search).get('sso_error')
  if (!code) return ''
  return ssoMessages[code] ?? ssoMessages.error
}

// ssoHref starts single sign-on and returns to next (or joins invite).
export function ssoHref(m: SignInMethods, opts: { next?: string; invite?: string }): string {
  const q = new URLSearchParams()
  if (opts.next) q.set('next', opts.next)
  if (opts.invite) q.set('invite', opts.invite)
  const s = q.toString()
  return m.sso!.start + (s ? '?' + s : '')
}
