package store

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// LabProgress is a student's standing in one lab, over all attempts.
type LabProgress struct {
	UserID      uuid.UUID
	LabID       string
	BestScore   float64
	MaxScore    float64
	Checks      int  // presses of Check
	Passed      bool // some Check scored full marks
	LastCheckAt *time.Time
	HintsUsed   int
}

// Progress lists the lab standings of the given users.
func (s *Store) Progress(ctx context.Context, userIDs []uuid.UUID) ([]LabProgress, error) {
	rows, err := s.pool.Query(ctx, `WITH runs AS (
			SELECT user_id, lab_id, coalesce(max(score) FILTER (WHERE counted), 0)::float8 AS best,
				max(max_score)::float8 AS maxs, count(*) AS n, max(created_at) AS last,
				coalesce(bool_or(score = max_score) FILTER (WHERE counted), false) AS passed
			FROM check_runs WHERE user_id = ANY($1) GROUP BY user_id, lab_id),
		hints AS (
			SELECT user_id, lab_id, count(*) AS n FROM hint_reveals WHERE user_id = ANY($1) GROUP BY user_id, lab_id)
		SELECT coalesce(r.user_id, h.user_id), coalesce(r.lab_id, h.lab_id), coalesce(r.best, 0), coalesce(r.maxs, 0),
			coalesce(r.n, 0), coalesce(r.passed, false), r.last, coalesce(h.n, 0)
		FROM runs r FULL JOIN hints h ON h.user_id = r.user_id AND h.lab_id = r.lab_id
		ORDER BY 1, 2`, userIDs)
	if err != nil {
		return nil, mapErr(err, "progress")
	}
	defer rows.Close()
	var out []LabProgress
	for rows.Next() {
		var p LabProgress
		if err := rows.Scan(&p.UserID, &p.LabID, &p.BestScore, &p.MaxScore, &p.Checks, &p.Passed, &p.LastCheckAt, &p.HintsUsed); err != nil {
			return nil, mapErr(err, "progress")
		}
		out = append(out, p)
	}
	return out, mapErr(rows.Err(), "progress")
}

// Attempt is one environment of a student with its best Check.
type Attempt struct {
	Environment
	BestScore float64
	MaxScore  float64
	Checks    int
}

// Attempts lists a user's environments, newest first, live or ended.
func (s *Store) Attempts(ctx context.Context, userID uuid.UUID, limit int) ([]Attempt, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+envCols+`, r.best, r.maxs, r.n FROM environments
		CROSS JOIN LATERAL (SELECT coalesce(max(c.score) FILTER (WHERE c.counted), 0)::float8 AS best, coalesce(max(c.max_score), 0)::float8 AS maxs, count(c.id) AS n
			FROM check_runs c WHERE c.environment_id = environments.id) r
		WHERE user_id = $1 ORDER BY created_at DESC LIMIT $2`, userID, limit)
	if err != nil {
		return nil, mapErr(err, "attempts")
	}
	defer rows.Close()
	var out []Attempt
	for rows.Next() {
		var a Attempt
		e, err := scanEnv(rows, &a.BestScore, &a.MaxScore, &a.Checks)
		if err != nil {
			return nil, mapErr(err, "attempts")
		}
		a.Environment = e
		out = append(out, a)
	}
	return out, mapErr(rows.Err(), "attempts")
}

// LatestEnvironments returns each user's newest environment, by user.
func (s *Store) LatestEnvironments(ctx context.Context, userIDs []uuid.UUID) (map[uuid.UUID]Environment, error) {
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT ON (user_id) `+envCols+` FROM environments
		WHERE user_id = ANY($1) ORDER BY user_id, created_at DESC`, userIDs)
	if err != nil {
		return nil, mapErr(err, "latest environments")
	}
	envs, err := scanEnvs(rows)
	if err != nil {
		return nil, mapErr(err, "latest environments")
	}
	out := make(map[uuid.UUID]Environment, len(envs))
	for _, e := range envs {
		out[e.UserID.UUID] = e
	}
	return out, nil
}

// RevealHint records that a user saw the next hint of a lab task, unless
// all available hints are already revealed; it returns how many are.
func (s *Store) RevealHint(ctx context.Context, userID uuid.UUID, labID, taskID string, envID uuid.UUID, available int) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `WITH next AS (
			SELECT count(*)::int AS i FROM hint_reveals WHERE user_id = $1 AND lab_id = $2 AND task_id = $3),
		ins AS (
			INSERT INTO hint_reveals (user_id, lab_id, task_id, hint_index, environment_id)
			SELECT $1, $2, $3, i, $4 FROM next WHERE i < $5
			ON CONFLICT DO NOTHING RETURNING 1)
		SELECT i + (SELECT count(*)::int FROM ins) FROM next`, userID, labID, taskID, envID, available).Scan(&n)
	return n, mapErr(err, "reveal hint")
}

// HintsRevealed counts the hints a user revealed per task of a lab.
func (s *Store) HintsRevealed(ctx context.Context, userID uuid.UUID, labID string) (map[string]int, error) {
	rows, err := s.pool.Query(ctx, `SELECT task_id, count(*)::int FROM hint_reveals
		WHERE user_id = $1 AND lab_id = $2 GROUP BY task_id`, userID, labID)
	if err != nil {
		return nil, mapErr(err, "hints revealed")
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var t string
		var n int
		if err := rows.Scan(&t, &n); err != nil {
			return nil, mapErr(err, "hints revealed")
		}
		out[t] = n
	}
	return out, mapErr(rows.Err(), "hints revealed")
}
