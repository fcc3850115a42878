// Package pgtest gives tests a real PostgreSQL: one private server per test
// binary (see Main) and a fresh, migrated database per test (see New).
package pgtest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/ckalab/ckalab/pgserver"
	"github.com/ckalab/ckalab/store"
)

var (
	mu      sync.Mutex
	srv     *pgserver.Server
	counter atomic.Int64
)

const template = "ckalab_template"

// Main runs a package's tests with a PostgreSQL server around them.
// Use it from TestMain: func TestMain(m *testing.M) { pgtest.Main(m) }.
func Main(m *testing.M) {
	dir, err := os.MkdirTemp("", "ckalab-pgtest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "pgtest:", err)
		os.Exit(1)
	}
	_ = os.Chmod(dir, 0o755)
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := pgserver.Start(ctx, log, dir, pgserver.Options{Fast: true, Database: template})
	if err != nil {
		fmt.Fprintln(os.Stderr, "pgtest: start PostgreSQL:", err)
		os.Exit(1)
	}
	st, err := store.Open(ctx, log, s.URL())
	if err == nil {
		_, err = st.MigrateUp(ctx)
		st.Close()
	}
	if err != nil {
		_ = s.Stop(ctx)
		fmt.Fprintln(os.Stderr, "pgtest: migrate template:", err)
		os.Exit(1)
	}
	mu.Lock()
	srv = s
	mu.Unlock()
	code := m.Run()
	_ = s.Stop(ctx)
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// New returns the URL of a new database migrated to the latest schema,
// dropped when the test ends.
func New(t testing.TB) string {
	t.Helper()
	return create(t, template)
}

// NewEmpty returns the URL of a new database with no schema.
func NewEmpty(t testing.TB) string {
	t.Helper()
	return create(t, "template0")
}

func create(t testing.TB, from string) string {
	mu.Lock()
	s := srv
	mu.Unlock()
	if s == nil {
		t.Fatal("pgtest: no server; call pgtest.Main from TestMain")
	}
	ctx := context.Background()
	name := fmt.Sprintf("t_%d_%d", os.Getpid(), counter.Add(1))
	conn, err := pgx.Connect(ctx, s.URLFor("postgres"))
	if err != nil {
		t.Fatalf("pgtest: connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s", name, from)); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(ctx, s.URLFor("postgres"))
		if err == nil {
			_, _ = c.Exec(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", name))
			c.Close(ctx)
		}
	})
	return s.URLFor(name)
}
