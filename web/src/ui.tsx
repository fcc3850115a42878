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

// Confirm asks before a destructive action, in place (an alert dialog
// named label, e.g. "Confirm stop"; its button says action, e.g. "Stop now").
export function Confirm({ label, action, busy, onConfirm, onCancel, children }: {
  label: string; action: string; busy?: boolean; onConfirm: () => void; onCancel: () => void; children: ReactNode
}) {
  return (
    <div className="banner banner-info confirm" role="alertdialog" aria-label={label}>
      <span>{children}</span>
      <button className="danger" onClick={onConfirm} disabled={busy} autoFocus>{action}</button>
      <button className="secondary" onClick={onCancel}>Cancel</button>
    </div>
  )
}
