package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// EnvState is an environment's place in its life; the database refuses
// any transition not listed in migrations/001_init.up.sql.
type EnvState string

const (
	EnvRequested    EnvState = "requested"
	EnvProvisioning EnvState = "provisioning"
	EnvReady        EnvState = "ready"  // cluster up; if owned, its lab setup is pending
	EnvInUse        EnvState = "in_use" // owned, set up, running the clock
	EnvExpired      EnvState = "expired"
	EnvDeleting     EnvState = "deleting"
	EnvDeleted      EnvState = "deleted"
	EnvFailed       EnvState = "failed"
)

// LiveStates hold a cluster (or will): they count against capacity.
var liveStates = []string{"provisioning", "ready", "in_use", "expired", "deleting"}

// EnvNode is one node of an environment's cluster.
type EnvNode struct {
	Name string `json:"name"`
	Role string `json:"role"`
	IP   string `json:"ip"`
}

// Environment is one student's (or the warm pool's) cluster.
type Environment struct {
	ID          uuid.UUID
	UserID      uuid.NullUUID
	LabID       string
	CohortID    uuid.NullUUID
	State       EnvState
	Topology    string
	K8sVersion  string
	ClusterName string
	Kubeconfig  string
	Nodes       []EnvNode
	Pooled      bool
	Failure     string
	TimeLimit   time.Duration
	CreatedAt   time.Time
	UpdatedAt   time.Time
	ReadyAt     *time.Time
	StartedAt   *time.Time
	ExpiresAt   *time.Time
	EndedAt     *time.Time
	// GaveUpAt is when the student gave up to read the solution; later
	// Checks do not count.
	GaveUpAt *time.Time
	// LastActivityAt is the student's last keystroke or Check.
	LastActivityAt *time.Time
	// PausedAt is set while the cluster is paused (asleep).
	PausedAt *time.Time
}

// EnvRequest asks for an environment: owned by a user for a lab, or pooled.
type EnvRequest struct {
	UserID      uuid.NullUUID
	LabID       string
	CohortID    uuid.NullUUID
	Topology    string
	K8sVersion  string
	ClusterName string // set by the caller, unique
	Pooled      bool
	TimeLimit   time.Duration
}

// EnvEvent is one step of an environment's progress, for the web page.
type EnvEvent struct {
	ID      int64
	At      time.Time
	Phase   string
	Message string
}

const envCols = `id, user_id, coalesce(lab_id, ''), cohort_id, state, topology, k8s_version, cluster_name,
	coalesce(kubeconfig, ''), nodes, pooled, coalesce(failure, ''), extract(epoch from time_limit)::float8,
	created_at, updated_at, ready_at, started_at, expires_at, ended_at, last_activity_at, gave_up_at, paused_at`

// scanEnv scans envCols, then any extra columns into extra.
func scanEnv(row pgx.Row, extra ...any) (Environment, error) {
	var e Environment
	var nodes []byte
	var limit float64
	dest := append([]any{&e.ID, &e.UserID, &e.LabID, &e.CohortID, &e.State, &e.Topology, &e.K8sVersion, &e.ClusterName,
		&e.Kubeconfig, &nodes, &e.Pooled, &e.Failure, &limit,
		&e.CreatedAt, &e.UpdatedAt, &e.ReadyAt, &e.StartedAt, &e.ExpiresAt, &e.EndedAt, &e.LastActivityAt, &e.GaveUpAt, &e.PausedAt}, extra...)
	err := row.Scan(dest...)
	if err != nil {
		return e, err
	}
	e.TimeLimit = time.Duration(limit * float64(time.Second))
	if err := json.Unmarshal(nodes, &e.Nodes); err != nil {
		return e, fmt.Errorf("environment %s nodes: %w", e.ID, err)
	}
	return e, nil
}

func scanEnvs(rows pgx.Rows) ([]Environment, error) {
	defer rows.Close()
	var out []Environment
	for rows.Next() {
		e, err := scanEnv(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// one returns the environment a query selected, or nil when it selected none.
func one(row pgx.Row, what string) (*Environment, error) {
	e, err := scanEnv(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, mapErr(err, what)
	}
	return &e, nil
}

// RequestEnvironment queues a new environment in state requested.
func (s *Store) RequestEnvironment(ctx context.Context, r EnvRequest) (Environment, error) {
	var lab *string
	if r.LabID != "" {
		lab = &r.LabID
	}
	e, err := scanEnv(s.pool.QueryRow(ctx, `INSERT INTO environments
		(id, user_id, lab_id, cohort_id, topology, k8s_version, cluster_name, pooled, time_limit)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, make_interval(secs => $9))
		RETURNING `+envCols,
		uuid.New(), r.UserID, lab, r.CohortID, r.Topology, r.K8sVersion, r.ClusterName, r.Pooled, r.TimeLimit.Seconds()))
	if err != nil {
		return e, mapErr(err, "request environment")
	}
	return e, s.AddEnvEvent(ctx, e.ID, "queued", "")
}

// Environment returns one environment.
func (s *Store) Environment(ctx context.Context, id uuid.UUID) (Environment, error) {
	e, err := scanEnv(s.pool.QueryRow(ctx, `SELECT `+envCols+` FROM environments WHERE id = $1`, id))
	return e, mapErr(err, "environment")
}

// EnvironmentsOf lists a user's environments that are not over, newest first.
func (s *Store) EnvironmentsOf(ctx context.Context, userID uuid.UUID) ([]Environment, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+envCols+` FROM environments
		WHERE user_id = $1 AND state IN ('requested', 'provisioning', 'ready', 'in_use')
		ORDER BY created_at DESC`, userID)
	if err != nil {
		return nil, mapErr(err, "environments of user")
	}
	return scanEnvs(rows)
}

// EnvironmentsIn lists environments in the given states, oldest first.
func (s *Store) EnvironmentsIn(ctx context.Context, states ...EnvState) ([]Environment, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+envCols+` FROM environments
		WHERE state = ANY($1::environment_state[]) ORDER BY created_at`, stateNames(states))
	if err != nil {
		return nil, mapErr(err, "environments by state")
	}
	return scanEnvs(rows)
}

// CountActive counts environments holding a cluster that is not paused.
func (s *Store) CountActive(ctx context.Context) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM environments WHERE state = ANY($1::environment_state[]) AND paused_at IS NULL`, liveStates).Scan(&n)
	return n, mapErr(err, "count active")
}

// CountLive counts environments holding a cluster on this host.
func (s *Store) CountLive(ctx context.Context) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM environments WHERE state = ANY($1::environment_state[])`, liveStates).Scan(&n)
	return n, mapErr(err, "count live environments")
}

// QueuePosition is how many requests are ahead of a requested environment
// (owned requests go before pool refills), 0 once it is no longer queued.
func (s *Store) QueuePosition(ctx context.Context, id uuid.UUID) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM environments o, environments e
		WHERE e.id = $1 AND e.state = 'requested' AND o.state = 'requested' AND o.id <> e.id
		  AND (o.pooled, o.created_at) < (e.pooled, e.created_at)`, id).Scan(&n)
	return n, mapErr(err, "queue position")
}

// NextRequested moves the oldest requested environment (owned before
// pooled) to provisioning, if fewer than maxLive environments hold a
// cluster and fewer than maxActive hold one that is not paused (0: no
// such limit). nil means nothing to do now.
func (s *Store) NextRequested(ctx context.Context, maxLive, maxActive int) (*Environment, error) {
	var got *Environment
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// One capacity decision at a time, across every worker.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(4242)`); err != nil {
			return err
		}
		var live, active int
		if err := tx.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE paused_at IS NULL) FROM environments
			WHERE state = ANY($1::environment_state[])`, liveStates).Scan(&live, &active); err != nil {
			return err
		}
		if live >= maxLive || (maxActive > 0 && active >= maxActive) {
			return nil
		}
		var err error
		got, err = one(tx.QueryRow(ctx, `UPDATE environments SET state = 'provisioning'
			WHERE id = (SELECT id FROM environments WHERE state = 'requested'
			            ORDER BY pooled, created_at LIMIT 1 FOR UPDATE SKIP LOCKED)
			RETURNING `+envCols), "next requested")
		return err
	})
	return got, mapErr(err, "next requested")
}

// EnvironmentReady records a created cluster: state ready.
func (s *Store) EnvironmentReady(ctx context.Context, id uuid.UUID, kubeconfig string, nodes []EnvNode) error {
	b, err := json.Marshal(nodes)
	if err != nil {
		return err
	}
	tag, err := s.pool.Exec(ctx, `UPDATE environments SET state = 'ready', kubeconfig = $2, nodes = $3, ready_at = now()
		WHERE id = $1 AND state = 'provisioning'`, id, kubeconfig, b)
	if err != nil {
		return mapErr(err, "environment ready")
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("environment %s is no longer provisioning: %w", id, ErrConflict)
	}
	return nil
}

// ClaimPooled gives the oldest ready pooled cluster of a topology and
// version to a user for a lab; its lab setup is then pending (state ready,
// owned). nil when the pool is empty.
func (s *Store) ClaimPooled(ctx context.Context, r EnvRequest) (*Environment, error) {
	return one(s.pool.QueryRow(ctx, `UPDATE environments
		SET pooled = false, user_id = $1, lab_id = $2, cohort_id = $3, time_limit = make_interval(secs => $6)
		WHERE id = (SELECT id FROM environments
		            WHERE pooled AND state = 'ready' AND topology = $4 AND k8s_version = $5
		            ORDER BY paused_at IS NOT NULL, ready_at LIMIT 1 FOR UPDATE SKIP LOCKED)
		RETURNING `+envCols, r.UserID, r.LabID, r.CohortID, r.Topology, r.K8sVersion, r.TimeLimit.Seconds()), "claim pooled")
}

// NextSetup returns an owned ready environment whose lab setup is pending
// and whose cluster runs (a claimed frozen one is thawed first).
func (s *Store) NextSetup(ctx context.Context) (*Environment, error) {
	return one(s.pool.QueryRow(ctx, `SELECT `+envCols+` FROM environments
		WHERE state = 'ready' AND NOT pooled AND user_id IS NOT NULL AND paused_at IS NULL
		ORDER BY updated_at LIMIT 1`), "next setup")
}

// Requeue puts an environment whose creation a restart cut short back in
// the queue, where it was, unless it has been cut short max times already
// (then ErrConflict). It returns the attempt it starts (2, 3, …).
func (s *Store) Requeue(ctx context.Context, id uuid.UUID, max int) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `UPDATE environments SET state = 'requested', restarts = restarts + 1, kubeconfig = NULL, nodes = '[]'
		WHERE id = $1 AND state = 'provisioning' AND restarts < $2 RETURNING restarts + 1`, id, max).Scan(&n)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("environment %s: not requeued: %w", id, ErrConflict)
	}
	return n, mapErr(err, "requeue")
}

// ClaimedPaused lists owned ready environments whose cluster is frozen:
// warm clusters claimed while paused, to thaw before their lab setup.
func (s *Store) ClaimedPaused(ctx context.Context) ([]Environment, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+envCols+` FROM environments
		WHERE state = 'ready' AND NOT pooled AND user_id IS NOT NULL AND paused_at IS NOT NULL ORDER BY updated_at`)
	if err != nil {
		return nil, mapErr(err, "claimed paused")
	}
	return scanEnvs(rows)
}

// StartEnvironment moves an owned ready environment to in_use and starts
// its clock.
func (s *Store) StartEnvironment(ctx context.Context, id uuid.UUID) (Environment, error) {
	e, err := scanEnv(s.pool.QueryRow(ctx, `UPDATE environments
		SET state = 'in_use', started_at = now(), expires_at = now() + time_limit, last_activity_at = now()
		WHERE id = $1 AND state = 'ready' AND user_id IS NOT NULL RETURNING `+envCols, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return e, fmt.Errorf("environment %s cannot start: %w", id, ErrConflict)
	}
	return e, mapErr(err, "start environment")
}

// ExtendEnvironment pushes an in-use environment's expiry back, as long as
// its whole time (the lab's, extensions included) stays within max (0: no
// ceiling).
func (s *Store) ExtendEnvironment(ctx context.Context, id uuid.UUID, by, max time.Duration) (Environment, error) {
	e, err := scanEnv(s.pool.QueryRow(ctx, `UPDATE environments
		SET expires_at = expires_at + make_interval(secs => $2), time_limit = time_limit + make_interval(secs => $2)
		WHERE id = $1 AND state = 'in_use' AND expires_at > now()
		  AND ($3 = 0 OR time_limit + make_interval(secs => $2) <= make_interval(secs => $3))
		RETURNING `+envCols, id, by.Seconds(), max.Seconds()))
	if !errors.Is(err, pgx.ErrNoRows) {
		return e, mapErr(err, "extend environment")
	}
	if e, err = s.Environment(ctx, id); err != nil {
		return e, err
	}
	if e.State != EnvInUse {
		return e, fmt.Errorf("environment %s is not in use: %w", id, ErrConflict)
	}
	if e.ExpiresAt != nil && !e.ExpiresAt.After(time.Now()) {
		return e, fmt.Errorf("%w: this environment's time is up; it cannot be extended", ErrLimit)
	}
	return e, fmt.Errorf("%w: this environment already has %s of its %s ceiling; it cannot be extended further",
		ErrLimit, e.TimeLimit.Round(time.Minute), max)
}

// GiveUp records that the student gave up the attempt (once; the first
// time stays).
func (s *Store) GiveUp(ctx context.Context, id uuid.UUID) (Environment, error) {
	e, err := scanEnv(s.pool.QueryRow(ctx, `UPDATE environments SET gave_up_at = coalesce(gave_up_at, now())
		WHERE id = $1 AND user_id IS NOT NULL RETURNING `+envCols, id))
	return e, mapErr(err, "give up")
}

// SolutionSeen records that a student was shown a lab's solution: none of
// their later Checks in that lab count.
func (s *Store) SolutionSeen(ctx context.Context, userID uuid.UUID, labID string) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO solution_views (user_id, lab_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, userID, labID)
	return mapErr(err, "solution seen")
}

// Over reports whether an attempt is over for its solution: given up, or
// out of time. Stopping it early is not: the student could start again.
func (e Environment) Over(now time.Time) bool {
	return e.GaveUpAt != nil || (e.ExpiresAt != nil && now.After(*e.ExpiresAt))
}

// TouchEnvironment records student activity in an in-use environment.
func (s *Store) TouchEnvironment(ctx context.Context, id uuid.UUID) error {
	_, err := s.pool.Exec(ctx, `UPDATE environments SET last_activity_at = now() WHERE id = $1 AND state = 'in_use'`, id)
	return mapErr(err, "touch environment")
}

// SeeEnvironment records that the student's page or a terminal of an
// in-use environment is open: it keeps the environment awake.
func (s *Store) SeeEnvironment(ctx context.Context, id uuid.UUID) error {
	_, err := s.pool.Exec(ctx, `UPDATE environments SET last_seen_at = now() WHERE id = $1 AND state = 'in_use'`, id)
	return mapErr(err, "see environment")
}

// MarkPaused records that an environment's cluster is about to be paused,
// only if it still may be: a warm cluster nobody has claimed (pooled), or
// an in-use environment untouched for idle (idle 0: any in-use one). The
// row is marked before the cluster is frozen, so that a Check or terminal
// reading it meanwhile wakes it. ErrConflict when it may not.
func (s *Store) MarkPaused(ctx context.Context, id uuid.UUID, pooled bool, idle time.Duration) error {
	q := `UPDATE environments SET paused_at = now() WHERE id = $1 AND paused_at IS NULL AND `
	if pooled {
		q += `pooled AND state = 'ready' AND $2::float8 >= 0`
	} else {
		q += `NOT pooled AND state = 'in_use'
			AND ` + lastUsed + ` <= now() - make_interval(secs => $2)`
	}
	tag, err := s.pool.Exec(ctx, q, id, idle.Seconds())
	if err != nil {
		return mapErr(err, "mark paused")
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("environment %s may not be paused now: %w", id, ErrConflict)
	}
	return nil
}

// ClearPaused records that an environment's cluster runs again; it counts
// as seen then, so it is not put back to sleep at once.
func (s *Store) ClearPaused(ctx context.Context, id uuid.UUID) error {
	_, err := s.pool.Exec(ctx, `UPDATE environments SET paused_at = NULL, last_seen_at = now() WHERE id = $1 AND paused_at IS NOT NULL`, id)
	return mapErr(err, "clear paused")
}

// lastUsed is when an environment was last used: started, touched (a
// keystroke, a Check) or seen (its page or a terminal open).
const lastUsed = `greatest(started_at, last_activity_at, last_seen_at)`

// Sleepy lists in-use environments awake but untouched (no activity, page
// or terminal) since before idle ago.
func (s *Store) Sleepy(ctx context.Context, idle time.Duration) ([]Environment, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+envCols+` FROM environments
		WHERE state = 'in_use' AND paused_at IS NULL
		  AND `+lastUsed+` < now() - make_interval(secs => $1)
		ORDER BY `+lastUsed, idle.Seconds())
	if err != nil {
		return nil, mapErr(err, "sleepy environments")
	}
	return scanEnvs(rows)
}

// ExpireDue moves in-use environments past their expiry to expired.
func (s *Store) ExpireDue(ctx context.Context) ([]Environment, error) {
	rows, err := s.pool.Query(ctx, `UPDATE environments SET state = 'expired', ended_at = now()
		WHERE state = 'in_use' AND expires_at <= now() RETURNING `+envCols)
	if err != nil {
		return nil, mapErr(err, "expire due")
	}
	return scanEnvs(rows)
}

// SetEnvState moves an environment to state to, if it is in one of from.
// ErrConflict when it is not.
func (s *Store) SetEnvState(ctx context.Context, id uuid.UUID, to EnvState, from ...EnvState) error {
	tag, err := s.pool.Exec(ctx, `UPDATE environments SET state = $2::environment_state,
		ended_at = CASE WHEN $2::environment_state IN ('deleting', 'deleted', 'expired') THEN coalesce(ended_at, now()) ELSE ended_at END
		WHERE id = $1 AND state = ANY($3::environment_state[])`, id, string(to), stateNames(from))
	if err != nil {
		return mapErr(err, "set environment state")
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("environment %s is not %v: %w", id, from, ErrConflict)
	}
	return nil
}

// FailEnvironment records why an environment failed. Its cluster, if any,
// is removed by the provisioner's sweep.
func (s *Store) FailEnvironment(ctx context.Context, id uuid.UUID, reason string) error {
	_, err := s.pool.Exec(ctx, `UPDATE environments SET state = 'failed', failure = $2, ended_at = coalesce(ended_at, now())
		WHERE id = $1 AND state NOT IN ('failed', 'deleted')`, id, reason)
	return mapErr(err, "fail environment")
}

// EnvironmentByCluster finds the environment of a kind cluster; ErrNotFound
// when none has that cluster name.
func (s *Store) EnvironmentByCluster(ctx context.Context, name string) (Environment, error) {
	e, err := scanEnv(s.pool.QueryRow(ctx, `SELECT `+envCols+` FROM environments WHERE cluster_name = $1`, name))
	return e, mapErr(err, "environment by cluster")
}

// PoolCounts counts pooled environments that are or will be ready, by
// topology and version ("topology/version").
func (s *Store) PoolCounts(ctx context.Context) (map[string]int, error) {
	rows, err := s.pool.Query(ctx, `SELECT topology || '/' || k8s_version, count(*) FROM environments
		WHERE pooled AND state IN ('requested', 'provisioning', 'ready') GROUP BY 1`)
	if err != nil {
		return nil, mapErr(err, "pool counts")
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var k string
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			return nil, err
		}
		out[k] = n
	}
	return out, rows.Err()
}

// AddEnvEvent records a step of an environment's progress.
func (s *Store) AddEnvEvent(ctx context.Context, id uuid.UUID, phase, message string) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO environment_events (environment_id, phase, message) VALUES ($1, $2, $3)`, id, phase, message)
	return mapErr(err, "environment event")
}

// EnvEvents returns an environment's events after the given event id.
func (s *Store) EnvEvents(ctx context.Context, id uuid.UUID, after int64) ([]EnvEvent, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, at, phase, message FROM environment_events
		WHERE environment_id = $1 AND id > $2 ORDER BY id`, id, after)
	if err != nil {
		return nil, mapErr(err, "environment events")
	}
	defer rows.Close()
	var out []EnvEvent
	for rows.Next() {
		var e EnvEvent
		if err := rows.Scan(&e.ID, &e.At, &e.Phase, &e.Message); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

func stateNames(states []EnvState) []string {
	out := make([]string, len(states))
	for i, st := range states {
		out[i] = string(st)
	}
	return out
}
