import type { ReactNode } from 'react'

export function Spinner({ label }: { label: string }) {
  return <div className="spinner" role="status"><span className="spin" aria-hidden />{label}…</div>
}

export function Banner({ kind, children }: { kind: 'error' | 'info' | 'success'; children: ReactNode }) {
  return <div className={'banner banner-' + kind} role={kind === 'error' ? 'alert' : 'status'}>{children}</div>
}

export function Empty({ title, children }: { title: string; children?: ReactNode }) {
  return <div className="empty"><h3>{title}</h3>{children}</div>
}
