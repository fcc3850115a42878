import { createContext, useContext, useEffect, useState, type ReactNode, type MouseEvent } from 'react'

// A tiny history router: the server answers every non-API path with index.html.

const RouterCtx = createContext<{ path: string; navigate: (to: string) => void }>({ path: '/', navigate: () => {} })

export function Router({ children }: { children: ReactNode }) {
  const [path, setPath] = useState(window.location.pathname)
  useEffect(() => {
    const onPop = () => setPath(window.location.pathname)
    window.addEventListener('popstate', onPop)
    return () => window.removeEventListener('popstate', onPop)
  }, [])
  const navigate = (to: string) => {
    if (to !== window.location.pathname) window.history.pushState(null, '', to)
    setPath(to)
    window.scrollTo(0, 0)
  }
  return <RouterCtx.Provider value={{ path, navigate }}>{children}</RouterCtx.Provider>
}

export function useRouter() { return useContext(RouterCtx) }

export function Link({ to, children, className }: { to: string; children: ReactNode; className?: string }) {
  const { navigate, path } = useRouter()
  const onClick = (e: MouseEvent) => {
    if (e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return
    e.preventDefault()
    navigate(to)
  }
  const active = path === to || (to !== '/' && path.startsWith(to + '/'))
  return <a href={to} onClick={onClick} className={className} aria-current={active ? 'page' : undefined}>{children}</a>
}

// match returns the params of pattern (e.g. /cohorts/:id) against path, or null.
export function match(pattern: string, path: string): Record<string, string> | null {
  const p = pattern.split('/').filter(Boolean)
  const s = path.split('/').filter(Boolean)
  if (p.length !== s.length) return null
  const out: Record<string, string> = {}
  for (let i = 0; i < p.length; i++) {
    if (p[i].startsWith(':')) out[p[i].slice(1)] = decodeURIComponent(s[i])
    else if (p[i] !== s[i]) return null
  }
  return out
}
