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
  id: string; userId?: string; labId: string; state: string; topology: string; kubernetesVersion: string
  nodes: EnvNode[]; failure?: string; queuePosition?: number; createdAt: string; startedAt?: string; expiresAt?: string
}
export type EnvEvent = { id: number; at: string; phase: string; message?: string }
export type EnvList = { environments: Environment[]; available: boolean; unavailableReason: string; kubernetesVersion: string }

export type LabSummary = { id: string; title: string; domain: string; domainName: string; difficulty: string; minutes: number; topology: string }
export type LabTask = { id: string; title: string; markdown: string; weight: number; hints: string[]; checks: { id: string; description: string }[] }
export type Lab = LabSummary & { description?: string; tasks: LabTask[] }
export type CheckResult = { taskId: string; checkId: string; passed: boolean; weight: number; message: string; evidence?: unknown }
export type CheckRun = { id: string; at: string; tookMs: number; score: number; maxScore: number; results: CheckResult[] }
