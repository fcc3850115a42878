// Package store owns ckalab's state in PostgreSQL: the schema's migrations
// and every query. It returns its own types and a few sentinel errors; it
// must not import the HTTP layer.
package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

var (
	// ErrNotFound means the row does not exist or the caller may not see it.
	ErrNotFound = errors.New("not found")
	// ErrConflict means a uniqueness rule refused the write.
	ErrConflict = errors.New("already exists")
	// ErrInvalid means a rule of the schema refused the write.
	ErrInvalid = errors.New("invalid")
	// ErrLimit means a configured ceiling refused the change.
	ErrLimit = errors.New("limit reached")
)

// Store is the PostgreSQL-backed state.
type Store struct {
	pool *pgxpool.Pool
	log  *slog.Logger
}

// Open connects to url and checks the server answers.
func Open(ctx context.Context, log *slog.Logger, dbURL string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		return nil, fmt.Errorf("parse database URL: %w", redactErr(err, dbURL))
	}
	cfg.MaxConns = 32
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to database on %s: %w", Host(dbURL), redactErr(err, dbURL))
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to database on %s: %w", Host(dbURL), redactErr(err, dbURL))
	}
	return &Store{pool: pool, log: log}, nil
}

// Close releases the pool.
func (s *Store) Close() { s.pool.Close() }

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

// Pool exposes the pool to packages that queue work in the same database.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Host names the database server of a URL without its credentials.
func Host(dbURL string) string {
	cfg, err := pgconn.ParseConfig(dbURL)
	if err != nil {
		if u, uerr := url.Parse(dbURL); uerr == nil && u.Host != "" {
			return u.Hostname()
		}
		return "(unparsable URL)"
	}
	return fmt.Sprintf("%s:%d", cfg.Host, cfg.Port)
}

// redactErr keeps a password in the URL out of error text.
func redactErr(err error, dbURL string) error {
	u, perr := url.Parse(dbURL)
	if perr != nil || u.User == nil {
		return err
	}
	if pw, ok := u.User.Password(); ok && pw != "" {
		return errors.New(strings.ReplaceAll(err.Error(), pw, "xxxxx"))
	}
	return err
}

// mapErr turns PostgreSQL errors into the package's sentinels.
func mapErr(err error, what string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "23505":
			return fmt.Errorf("%s: %w", what, ErrConflict)
		case "23514", "23502", "22P02", "23503":
			return fmt.Errorf("%s: %w: %s", what, ErrInvalid, pgErr.Message)
		}
	}
	return fmt.Errorf("%s: %w", what, err)
}
