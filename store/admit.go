package store

import (
	"context"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// AdmitLimits bound AdmitEnvironment.
type AdmitLimits struct {
	PerUser  int // live environments one user holds at once
	MaxLive  int // clusters on this host at once, pool included
	MaxQueue int // owned requests that may wait for capacity
}

// Admission is AdmitEnvironment's decision.
type Admission struct {
	Env Environment
	// How: "existing" (the user's environment for this lab), "claimed" (a
	// warm cluster, lab setup pending), "queued", or "quota" / "capacity"
	// (refused; Env is then the user's first live environment, if any).
	How     string
	Mine    int // the user's live environments
	Live    int // live environments on the host (capacity decisions only)
	Waiting int // owned requests waiting (capacity decisions only)
}

// AdmitEnvironment decides a user's request for an environment in one
// transaction: the per-user cap and the capacity cap hold under concurrent
// requests (a lock per user, then the host's capacity lock).
func (s *Store) AdmitEnvironment(ctx context.Context, r EnvRequest, lim AdmitLimits) (Admission, error) {
	var a Admission
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// Two int4 keys: never the same lock as the one-bigint capacity lock.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(4243, hashtext($1::text))`, r.UserID.UUID); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT `+envCols+` FROM environments
			WHERE user_id = $1 AND state IN ('requested', 'provisioning', 'ready', 'in_use')
			ORDER BY created_at DESC`, r.UserID)
		if err != nil {
			return err
		}
		mine, err := scanEnvs(rows)
		if err != nil {
			return err
		}
		a.Mine = len(mine)
		for _, e := range mine {
			if e.LabID == r.LabID {
				a.Env, a.How = e, "existing"
				return nil
			}
		}
		if len(mine) >= lim.PerUser {
			if len(mine) > 0 {
				a.Env = mine[0]
			}
			a.How = "quota"
			return nil
		}
		claimed, err := one(tx.QueryRow(ctx, `UPDATE environments
			SET pooled = false, user_id = $1, lab_id = $2, cohort_id = $3, time_limit = make_interval(secs => $6)
			WHERE id = (SELECT id FROM environments
			            WHERE pooled AND state = 'ready' AND topology = $4 AND k8s_version = $5
			            ORDER BY paused_at IS NOT NULL, ready_at LIMIT 1 FOR UPDATE SKIP LOCKED)
			RETURNING `+envCols, r.UserID, nullable(r.LabID), r.CohortID, r.Topology, r.K8sVersion, r.TimeLimit.Seconds()), "claim pooled")
		if err != nil {
			return err
		}
		if claimed != nil {
			a.Env, a.How = *claimed, "claimed"
			_, err = tx.Exec(ctx, `INSERT INTO environment_events (environment_id, phase, message) VALUES ($1, 'claimed', $2)`,
				claimed.ID, "warm cluster "+claimed.ClusterName)
			return err
		}
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(4242)`); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT count(*) FILTER (WHERE state = ANY($1::environment_state[])),
			count(*) FILTER (WHERE state = 'requested' AND NOT pooled) FROM environments`, liveStates).Scan(&a.Live, &a.Waiting); err != nil {
			return err
		}
		if a.Live >= lim.MaxLive && a.Waiting >= lim.MaxQueue {
			a.How = "capacity"
			return nil
		}
		a.Env, err = scanEnv(tx.QueryRow(ctx, `INSERT INTO environments
			(id, user_id, lab_id, cohort_id, topology, k8s_version, cluster_name, pooled, time_limit)
			VALUES ($8, $1, $2, $3, $4, $5, $6, false, make_interval(secs => $7))
			RETURNING `+envCols,
			r.UserID, nullable(r.LabID), r.CohortID, r.Topology, r.K8sVersion, r.ClusterName, r.TimeLimit.Seconds(), uuid.New()))
		if err != nil {
			return err
		}
		a.How = "queued"
		_, err = tx.Exec(ctx, `INSERT INTO environment_events (environment_id, phase, message) VALUES ($1, 'queued', '')`, a.Env.ID)
		return err
	})
	return a, mapErr(err, "admit environment")
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
