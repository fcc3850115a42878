// A browser terminal on one node of an environment: xterm.js over the
// server's websocket (see server/terminal.go for the protocol), with
// reconnect and replay, copy/paste keys, and instructor takeover.
import { useEffect, useRef, useState } from 'react'
import { Terminal as XTerm } from '@xterm/xterm'
import { FitAddon } from '@xterm/addon-fit'
import { WebLinksAddon } from '@xterm/addon-web-links'
import '@xterm/xterm/css/xterm.css'

type Status = 'connecting' | 'connected' | 'reconnecting' | 'closed'
type Note = { type: string; text?: string; role?: string; token?: string; node?: string }

export function Terminal({ envId, node, token: watchToken, label }: { envId: string; node: string; token?: string; label: string }) {
  const host = useRef<HTMLDivElement>(null)
  const [status, setStatus] = useState<Status>('connecting')
  const [notice, setNotice] = useState('')
  const [role, setRole] = useState('')
  const [closedWhy, setClosedWhy] = useState('')
  const takeover = useRef<() => void>(() => {})

  useEffect(() => {
    const term = new XTerm({ cursorBlink: true, fontSize: 14, scrollback: 5000, convertEol: false,
      fontFamily: 'ui-monospace, "DejaVu Sans Mono", Menlo, monospace', theme: { background: '#0f1720' } })
    const fit = new FitAddon()
    term.loadAddon(fit)
    term.loadAddon(new WebLinksAddon())
    term.open(host.current!)
    // Tests read the screen through the element (the WebGL renderer draws no DOM text).
    ;(host.current as HTMLDivElement & { xterm?: XTerm }).xterm = term
    import('@xterm/addon-webgl').then(({ WebglAddon }) => {
      try {
        const gl = new WebglAddon()
        gl.onContextLoss(() => gl.dispose())
        term.loadAddon(gl)
        fit.fit() // the WebGL renderer measures cells its own way
      } catch { /* the DOM renderer stays */ }
    }).catch(() => {})
    fit.fit()

    const key = `ckalab.term.${envId}.${node}`
    let token = watchToken || sessionStorage.getItem(key) || ''
    let ws: WebSocket | null = null
    let stopped = false
    let retry = 0
    let retryTimer: number | undefined
    let pingTimer: number | undefined
    const send = (m: object) => { if (ws?.readyState === WebSocket.OPEN) ws.send(JSON.stringify(m)) }
    takeover.current = () => send({ type: 'takeover' })

    const connect = () => {
      const proto = location.protocol === 'https:' ? 'wss' : 'ws'
      const q = new URLSearchParams({ node, cols: String(term.cols), rows: String(term.rows) })
      if (token) q.set('token', token)
      ws = new WebSocket(`${proto}://${location.host}/api/v1/environments/${envId}/terminal?${q}`)
      ws.binaryType = 'arraybuffer'
      let replaying = true
      ws.onmessage = (ev) => {
        if (typeof ev.data !== 'string') {
          if (replaying) { term.reset(); replaying = false }
          term.write(new Uint8Array(ev.data))
          return
        }
        const n: Note = JSON.parse(ev.data)
        if (n.type === 'hello') {
          token = n.token || ''
          if (!watchToken) sessionStorage.setItem(key, token)
          setRole(n.role || '')
          setStatus('connected')
          setClosedWhy('')
          retry = 0
        } else if (n.type === 'notice') setNotice(n.text || '')
        else if (n.type === 'role') setRole(n.role || '')
        else if (n.type === 'exit') { setClosedWhy(n.text || 'the shell exited'); sessionStorage.removeItem(key); token = '' }
      }
      ws.onclose = (ev) => {
        window.clearInterval(pingTimer)
        if (stopped) return
        if (ev.code === 1000 || ev.code === 1008 || ev.code === 1009) {
          // Closed on purpose: the shell exited, or a message was refused.
          setStatus('closed')
          setClosedWhy(ev.reason || 'the terminal closed')
          if (ev.code === 1000) { sessionStorage.removeItem(key); token = '' }
          return
        }
        setStatus('reconnecting')
        const delay = Math.min(10000, 500 * 2 ** retry++)
        retryTimer = window.setTimeout(connect, delay)
      }
      ws.onopen = () => {
        pingTimer = window.setInterval(() => send({ type: 'ping' }), 20000)
        send({ type: 'resize', cols: term.cols, rows: term.rows })
      }
    }
    connect()

    term.onData((data) => send({ type: 'input', data }))
    term.onResize(({ cols, rows }) => send({ type: 'resize', cols, rows }))
    // Copy and paste as in desktop terminals: Ctrl+Shift+C / Ctrl+Shift+V, Shift+Insert.
    term.attachCustomKeyEventHandler((e) => {
      if (e.type !== 'keydown') return true
      const paste = (e.ctrlKey && e.shiftKey && e.code === 'KeyV') || (e.shiftKey && e.code === 'Insert')
      if (e.ctrlKey && e.shiftKey && e.code === 'KeyC') {
        if (term.hasSelection()) navigator.clipboard?.writeText(term.getSelection()).catch(() => {})
        e.preventDefault()
        return false
      }
      if (paste) {
        navigator.clipboard?.readText().then((t) => t && term.paste(t)).catch(() => {})
        e.preventDefault()
        return false
      }
      return true
    })
    const onWindowResize = () => { try { fit.fit() } catch { /* hidden */ } }
    const ro = new ResizeObserver(onWindowResize)
    ro.observe(host.current!)
    term.focus()
    return () => {
      stopped = true
      window.clearTimeout(retryTimer)
      window.clearInterval(pingTimer)
      ro.disconnect()
      ws?.close()
      term.dispose()
    }
  }, [envId, node, watchToken])

  const reconnect = () => { setStatus('connecting'); setClosedWhy(''); setNotice(''); window.location.reload() }
  return (
    <div className="term">
      <div className="term-bar">
        <span className={'dot dot-' + status} aria-hidden />
        <span className="term-status" aria-label={`${label} terminal ${status}`}>{label}: {status}{role === 'view' ? ' (watching)' : ''}</span>
        <span className="term-hint">Copy Ctrl+Shift+C · Paste Ctrl+Shift+V or Shift+Insert</span>
        {role === 'view' && <button className="ghost small" onClick={() => takeover.current()}>Take over</button>}
      </div>
      {notice && <div className="term-notice" role="status">{notice}</div>}
      {closedWhy && <div className="term-notice term-closed" role="alert">{closedWhy}. <button className="link" onClick={reconnect}>Open a new shell</button></div>}
      <div className="term-host" ref={host} data-testid={`terminal-${node}`} />
    </div>
  )
}
