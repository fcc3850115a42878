package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// CheckRun is one press of Check: a graded attempt.
type CheckRun struct {
	ID            uuid.UUID
	EnvironmentID uuid.UUID
	UserID        uuid.UUID
	LabID         string
	CreatedAt     time.Time
	Duration      time.Duration
	Score         float64
	MaxScore      float64
	// Counted is false for a Check after the student read the lab's
	// solution (in any environment) or after the time was up: kept, shown,
	// never part of a grade.
	Counted bool
	Results []CheckResult
}

// CheckResult is one check of a run.
type CheckResult struct {
	TaskID   string          `json:"taskId"`
	CheckID  string          `json:"checkId"`
	Passed   bool            `json:"passed"`
	Weight   float64         `json:"weight"`
	Message  string          `json:"message"`
	Evidence json.RawMessage `json:"evidence,omitempty"`
}

// SaveCheckRun stores a run and its results.
func (s *Store) SaveCheckRun(ctx context.Context, r CheckRun) (CheckRun, error) {
	r.ID = uuid.New()
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO check_runs (id, environment_id, user_id, lab_id, duration_ms, score, max_score, counted)
			VALUES ($1, $2, $3, $4, $5, round($6::numeric, 2), round($7::numeric, 2),
				NOT EXISTS (SELECT 1 FROM solution_views WHERE user_id = $3 AND lab_id = $4)
				AND NOT EXISTS (SELECT 1 FROM environments WHERE id = $2 AND (gave_up_at IS NOT NULL OR expires_at < now())))
			RETURNING created_at, counted`,
			r.ID, r.EnvironmentID, r.UserID, r.LabID, r.Duration.Milliseconds(), r.Score, r.MaxScore).Scan(&r.CreatedAt, &r.Counted)
		if err != nil {
			return err
		}
		for _, c := range r.Results {
			ev := c.Evidence
			if len(ev) == 0 {
				ev = json.RawMessage("{}")
			}
			if _, err := tx.Exec(ctx, `INSERT INTO check_results (run_id, task_id, check_id, passed, weight, message, evidence)
				VALUES ($1, $2, $3, $4, round($5::numeric, 2), $6, $7)`, r.ID, c.TaskID, c.CheckID, c.Passed, c.Weight, c.Message, ev); err != nil {
				return err
			}
		}
		return nil
	})
	return r, mapErr(err, "save check run")
}

// CheckRuns lists an environment's runs, newest first, with results.
func (s *Store) CheckRuns(ctx context.Context, envID uuid.UUID) ([]CheckRun, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, environment_id, user_id, lab_id, created_at, duration_ms, score::float8, max_score::float8, counted
		FROM check_runs WHERE environment_id = $1 ORDER BY created_at DESC LIMIT 50`, envID)
	if err != nil {
		return nil, mapErr(err, "check runs")
	}
	var runs []CheckRun
	for rows.Next() {
		var r CheckRun
		var ms int64
		if err := rows.Scan(&r.ID, &r.EnvironmentID, &r.UserID, &r.LabID, &r.CreatedAt, &ms, &r.Score, &r.MaxScore, &r.Counted); err != nil {
			rows.Close()
			return nil, err
		}
		r.Duration = time.Duration(ms) * time.Millisecond
		runs = append(runs, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range runs {
		res, err := s.pool.Query(ctx, `SELECT task_id, check_id, passed, weight::float8, message, evidence FROM check_results
			WHERE run_id = $1 ORDER BY task_id, check_id`, runs[i].ID)
		if err != nil {
			return nil, mapErr(err, "check results")
		}
		for res.Next() {
			var c CheckResult
			if err := res.Scan(&c.TaskID, &c.CheckID, &c.Passed, &c.Weight, &c.Message, &c.Evidence); err != nil {
				res.Close()
				return nil, err
			}
			runs[i].Results = append(runs[i].Results, c)
		}
		res.Close()
	}
	return runs, nil
}
