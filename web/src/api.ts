// Thin client for ckalab's JSON API. Every error arrives in one shape:
// {"error":{"code","message","details"}}.

export type User = { id: string; email: string; name: string; role: 'student' | 'instructor' | 'admin'; createdAt: string }
export type Cohort = {
  id: string; name: string; createdAt: string; myRole?: 'student' | 'instructor'
  students: number; instructors: number; showSolutions: boolean
}
export type Member = { user: User; role: string; joinedAt: string }
export type Invite = { id: string; email: string | null; createdAt: string; expiresAt: string; usedAt: string | null; link?: string }

export class ApiError extends Error {
  constructor(public status: number, public code: string, message: string, public details?: unknown) {
    super(message)
  }
}

let csrfToken = ''
export function setCsrf(t: string) { csrfToken = t }

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {}
  if (body !== undefined) headers['Content-Type'] = 'application/json'
  if (method !== 'GET' && csrfToken) headers['X-CSRF-Token'] = csrfToken
  let res: Response
  try {
    res = await fetch('/api/v1' + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' })
  } catch {
    throw new ApiError(0, 'network', 'Cannot reach the ckalab server. Check your connection and try again.')
  }
  if (res.status === 204) return undefined as T
  const text = await res.text()
  let data: any = undefined
  try { data = text ? JSON.parse(text) : undefined } catch { /* not JSON */ }
  if (!res.ok) {
    const e = data?.error
    throw new ApiError(res.status, e?.code ?? 'http_' + res.status, e?.message ?? `Request failed (${res.status})`, e?.details)
  }
  return data as T
}

export type Me = { user: User; csrfToken: string; cohorts: Cohort[] }

export async function loadMe(): Promise<Me | null> {
  const me = await api<Me | { user: null }>('GET', '/session')
  if (!me.user) return null
  setCsrf((me as Me).csrfToken)
  return me as Me
}

export type EnvNode = { name: string; role: string; ip: string }
export type Environment = {
  id: string; userId?: string; labId: string; labTitle?: string; state: string; topology: string; kubernetesVersion: string
  nodes: EnvNode[]; failure?: string; queuePosition?: number; createdAt: string; startedAt?: string; expiresAt?: string; lastActivityAt?: string
  graceSeconds?: number // the grace inside the time limit: the lab's time ends this long before expiresAt
  pausedAt?: string // set while the cluster sleeps (no activity for a while); POST …/wake wakes it
}
export type EnvEvent = { id: number; at: string; phase: string; message?: string }
export type EnvList = { environments: Environment[]; available: boolean; unavailableReason: string; kubernetesVersion: string; perUser: number }

export type Progress = { bestScore: number; maxScore: number; checks: number; passed: boolean; lastCheckAt?: string; hintsUsed: number }
export type LabSummary = { id: string; title: string; domain: string; domainName: string; difficulty: string; minutes: number; topology: string; progress?: Progress }
export type LabTask = { id: string; title: string; markdown: string; weight: number; hints: number; checks: { id: string; description: string }[] }
export type Lab = LabSummary & { description?: string; tasks: LabTask[] }
export type CheckResult = { taskId: string; checkId: string; passed: boolean; weight: number; message: string; waitingFor?: string[]; evidence?: unknown }
export type CheckRun = { id: string; at: string; tookMs: number; score: number; maxScore: number; counted: boolean; results: CheckResult[] }
export type Attempt = Environment & { endedAt?: string; bestScore: number; maxScore: number; checks: number }

export type BoardEnv = { id: string; labId: string; state: string; failure?: string; startedAt?: string; expiresAt?: string; lastActivityAt?: string }
export type BoardRow = { user: User; environment: BoardEnv | null; progress: Record<string, Progress>; lastActivityAt?: string }
export type Board = { labs: { id: string; title: string }[]; students: BoardRow[] }

export type NodeInfo = { name: string; kubelet: string; ready: boolean; schedulable: boolean; taints?: string[] }
export type Health = { reachable: boolean; problem?: string; serverVersion?: string; nodes: NodeInfo[]; tookMs: number }

// labName shows a lab id as people read it.
export const labName = (id: string) => id === 'playground' ? 'Playground' : id

// envTitle is the title of an environment's lab (its id when the server no longer offers it).
export const envTitle = (e: { labId: string; labTitle?: string }) => e.labTitle || labName(e.labId)

// live says an environment holds (or is about to hold) a cluster.
export const live = (state: string) => ['requested', 'provisioning', 'ready', 'in_use'].includes(state)

// ago says how long ago t was, in words.
export function ago(t?: string): string {
  if (!t) return '—'
  const s = Math.max(0, Math.round((Date.now() - new Date(t).getTime()) / 1000))
  if (s < 60) return `${s} s ago`
  if (s < 3600) return `${Math.floor(s / 60)} min ago`
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`
  return new Date(t).toLocaleDateString()
}

export const stateLabel = (s: string) => ({ requested: 'queued', provisioning: 'starting', ready: 'setting up', in_use: 'running', expired: 'expired', deleting: 'ending', deleted: 'ended', failed: 'failed' } as Record<string, string>)[s] ?? s
