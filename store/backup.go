package store

import (
	"context"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"
)

// Totals counts what a database holds, for backup and restore reports.
type Totals struct {
	Users        int
	Cohorts      int
	Members      int
	Environments int
	CheckRuns    int // graded attempts: presses of Check
	CheckResults int
}

// Totals counts the rows of the main tables; the schema must be migrated.
func (s *Store) Totals(ctx context.Context) (Totals, error) {
	var t Totals
	err := s.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM cohorts),
		(SELECT count(*) FROM cohort_members), (SELECT count(*) FROM environments),
		(SELECT count(*) FROM check_runs), (SELECT count(*) FROM check_results)`).
		Scan(&t.Users, &t.Cohorts, &t.Members, &t.Environments, &t.CheckRuns, &t.CheckResults)
	return t, mapErr(err, "count rows")
}

// Accounts counts the users, or 0 when the schema has no users table yet.
func (s *Store) Accounts(ctx context.Context) (int, error) {
	var exists bool
	if err := s.pool.QueryRow(ctx, `SELECT to_regclass('users') IS NOT NULL`).Scan(&exists); err != nil || !exists {
		return 0, mapErr(err, "find users table")
	}
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM users`).Scan(&n)
	return n, mapErr(err, "count users")
}

// OtherSessions counts the connections to this database other than those
// whose application_name is ours (e.g. a running `ckalab serve`).
func (s *Store) OtherSessions(ctx context.Context, ours string) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid()
			AND backend_type = 'client backend' AND application_name <> $1`, ours).Scan(&n)
	return n, mapErr(err, "list sessions")
}

// ServerMajor is the major version of the PostgreSQL server (e.g. 15).
func (s *Store) ServerMajor(ctx context.Context) (int, error) {
	var v string
	if err := s.pool.QueryRow(ctx, `SHOW server_version_num`).Scan(&v); err != nil {
		return 0, mapErr(err, "server version")
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("server version %q: %w", v, err)
	}
	return n / 10000, nil
}

// Wipe drops every table, view, sequence, type and function of the
// current schema (not those of extensions), keeping the schema itself and
// its privileges. Everything ckalab stored is gone afterwards.
func (s *Store) Wipe(ctx context.Context) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `WITH ns AS (SELECT oid FROM pg_namespace WHERE nspname = current_schema()),
			ext AS (SELECT objid FROM pg_depend WHERE deptype = 'e')
			SELECT format('DROP %s IF EXISTS %s CASCADE', CASE c.relkind WHEN 'v' THEN 'VIEW'
					WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, c.oid::regclass)
				FROM pg_class c WHERE c.relnamespace IN (SELECT oid FROM ns)
				AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND c.oid NOT IN (SELECT objid FROM ext)
			UNION ALL
			SELECT format('DROP ROUTINE IF EXISTS %s CASCADE', p.oid::regprocedure)
				FROM pg_proc p WHERE p.pronamespace IN (SELECT oid FROM ns) AND p.prokind IN ('f', 'p')
				AND p.oid NOT IN (SELECT objid FROM ext)
			UNION ALL
			SELECT format('DROP TYPE IF EXISTS %s CASCADE', t.oid::regtype)
				FROM pg_type t WHERE t.typnamespace IN (SELECT oid FROM ns) AND t.oid NOT IN (SELECT objid FROM ext)
				AND (t.typtype IN ('e', 'd', 'r', 'm') OR (t.typtype = 'c' AND (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c'))`)
		if err != nil {
			return err
		}
		drops, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		// Tables come first, so the CASCADE of one may already have dropped
		// what a later statement names: IF EXISTS covers that.
		for _, q := range drops {
			if _, err := tx.Exec(ctx, q); err != nil {
				return fmt.Errorf("%s: %w", q, err)
			}
		}
		return nil
	})
	return mapErr(err, "wipe schema")
}
