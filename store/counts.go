package store

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// EnvCount is how many environments share a state, pooling, topology and
// version, and the age of the oldest of them.
type EnvCount struct {
	State    EnvState
	Pooled   bool
	Topology string
	Version  string
	Count    int
	// Oldest is the age of the oldest one's row (for a request: its wait so
	// far), by the database's clock.
	Oldest time.Duration
}

// CountEnvironments groups the environments that are not over (neither
// deleted nor failed), for the operator's metrics.
func (s *Store) CountEnvironments(ctx context.Context) ([]EnvCount, error) {
	rows, err := s.pool.Query(ctx, `SELECT state, pooled, topology, k8s_version, count(*),
		extract(epoch from now() - min(created_at))::float8
		FROM environments WHERE state NOT IN ('deleted', 'failed') GROUP BY 1, 2, 3, 4`)
	if err != nil {
		return nil, mapErr(err, "count environments")
	}
	defer rows.Close()
	var out []EnvCount
	for rows.Next() {
		var c EnvCount
		var oldest float64
		if err := rows.Scan(&c.State, &c.Pooled, &c.Topology, &c.Version, &c.Count, &oldest); err != nil {
			return nil, mapErr(err, "count environments")
		}
		c.Oldest = time.Duration(max(oldest, 0) * float64(time.Second))
		out = append(out, c)
	}
	return out, mapErr(rows.Err(), "count environments")
}

// ClaimWait is how long a started environment's student waited for it:
// from their request (the claim of a warm cluster, or the queued request
// of a cold one) to the start. fromPool reports a warm claim.
func (s *Store) ClaimWait(ctx context.Context, id uuid.UUID) (wait time.Duration, fromPool bool, err error) {
	var secs float64
	err = s.pool.QueryRow(ctx, `SELECT extract(epoch from e.started_at - coalesce(c.at, e.created_at))::float8, c.at IS NOT NULL
		FROM environments e
		LEFT JOIN LATERAL (SELECT max(at) AS at FROM environment_events WHERE environment_id = e.id AND phase = 'claimed') c ON true
		WHERE e.id = $1 AND e.started_at IS NOT NULL`, id).Scan(&secs, &fromPool)
	if err != nil {
		return 0, false, mapErr(err, "claim wait")
	}
	return time.Duration(max(secs, 0) * float64(time.Second)), fromPool, nil
}

// TypicalColdStart is the median wait, request to start, of the last 20
// environments of a topology that started from a cold create (no warm
// claim): what a new cold request can expect. n is how many it is the
// median of (0: no data yet).
func (s *Store) TypicalColdStart(ctx context.Context, topology string) (median time.Duration, n int, err error) {
	var secs float64
	err = s.pool.QueryRow(ctx, `SELECT coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY w), 0)::float8, count(*)::int FROM (
		SELECT extract(epoch from e.started_at - e.created_at) AS w FROM environments e
		WHERE e.topology = $1 AND e.started_at IS NOT NULL
		  AND NOT EXISTS (SELECT 1 FROM environment_events v WHERE v.environment_id = e.id AND v.phase = 'claimed')
		ORDER BY e.started_at DESC LIMIT 20) t`, topology).Scan(&secs, &n)
	if err != nil {
		return 0, 0, mapErr(err, "typical cold start")
	}
	return time.Duration(max(secs, 0) * float64(time.Second)), n, nil
}
