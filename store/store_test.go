package store_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ckalab/ckalab/pgserver/pgtest"
	"github.com/ckalab/ckalab/store"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func open(t *testing.T, url string) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), slog.New(slog.NewTextHandler(io.Discard, nil)), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return st
}

func TestMigrationsUpDownUpKeepData(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := pgtest.NewEmpty(t)
	st := open(t, url)
	status, err := st.MigrateUp(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if status.Version != store.LatestMigration() || status.Dirty {
		t.Fatalf("after up: %v", status)
	}
	if _, err := st.CreateUser(ctx, "a@example.com", "A", store.RoleStudent, "h"); err != nil {
		t.Fatal(err)
	}
	// Down then up: the schema comes back whole (the data of a dropped table goes).
	if status, err = st.MigrateDown(ctx, 0); err != nil || status.Version != 0 {
		t.Fatalf("down: %v %v", status, err)
	}
	if _, err := st.UserByEmail(ctx, "a@example.com"); err == nil {
		t.Fatal("users table survived a full down migration")
	}
	if status, err = st.MigrateUp(ctx); err != nil || status.Version != store.LatestMigration() {
		t.Fatalf("up again: %v %v", status, err)
	}
	if _, err := st.CreateUser(ctx, "a@example.com", "A", store.RoleStudent, "h"); err != nil {
		t.Fatal(err)
	}
	// A second up is a no-op that keeps data.
	if _, err := st.MigrateUp(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := st.UserByEmail(ctx, "A@Example.com"); err != nil {
		t.Fatalf("data lost by a repeated up: %v", err)
	}
}

func TestDirtyOrNewerSchemaRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := pgtest.New(t)
	st := open(t, url)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)

	if _, err := conn.Exec(ctx, `UPDATE schema_migrations SET dirty = true`); err != nil {
		t.Fatal(err)
	}
	_, err = st.MigrateUp(ctx)
	if !errors.Is(err, store.ErrSchema) || !strings.Contains(strings.ToLower(err.Error()), "dirty") || !strings.Contains(err.Error(), "migrate force") {
		t.Fatalf("dirty schema: got %v", err)
	}
	if _, err := conn.Exec(ctx, `UPDATE schema_migrations SET dirty = false, version = 9999`); err != nil {
		t.Fatal(err)
	}
	_, err = st.MigrateUp(ctx)
	if !errors.Is(err, store.ErrSchema) || !strings.Contains(err.Error(), "newer ckalab") {
		t.Fatalf("newer schema: got %v", err)
	}
}

func TestUsersAndSessions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := open(t, pgtest.New(t))
	u, err := st.CreateUser(ctx, " Ana@Example.COM ", "Ana", store.RoleStudent, "hash")
	if err != nil {
		t.Fatal(err)
	}
	if u.Email != "ana@example.com" {
		t.Fatalf("email not normalised: %q", u.Email)
	}
	if _, err := st.CreateUser(ctx, "ana@example.com", "Other", store.RoleStudent, "hash"); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate email: got %v, want ErrConflict", err)
	}
	if _, err := st.CreateUser(ctx, "not-an-email", "X", store.RoleStudent, "hash"); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("bad email: got %v, want ErrInvalid", err)
	}

	live, expired := []byte("live-token-hash"), []byte("old-token-hash")
	if err := st.CreateSession(ctx, live, u.ID, "csrf", time.Now().Add(time.Hour), "ua"); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateSession(ctx, expired, u.ID, "csrf", time.Now().Add(time.Second), "ua"); err != nil {
		t.Fatal(err)
	}
	sess, su, err := st.SessionUser(ctx, live)
	if err != nil || su.ID != u.ID || sess.CSRFToken != "csrf" {
		t.Fatalf("session lookup: %v %v", su, err)
	}
	time.Sleep(1100 * time.Millisecond)
	if _, _, err := st.SessionUser(ctx, expired); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("expired session: got %v", err)
	}
	if n, err := st.DeleteExpiredSessions(ctx); err != nil || n != 1 {
		t.Fatalf("delete expired: %d %v", n, err)
	}
	if err := st.SetPassword(ctx, u.ID, "new"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.SessionUser(ctx, live); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("password change must end sessions: %v", err)
	}
}

func TestCohortsAndInvites(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := open(t, pgtest.New(t))
	teacher, _ := st.CreateUser(ctx, "t@example.com", "T", store.RoleInstructor, "h")
	other, _ := st.CreateUser(ctx, "o@example.com", "O", store.RoleInstructor, "h")
	c, err := st.CreateCohort(ctx, "Autumn", teacher.ID)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := st.CohortRoleOf(ctx, c.ID, teacher.ID); err != nil || r != store.CohortInstructor {
		t.Fatalf("creator role: %v %v", r, err)
	}
	email := "Stu@example.com"
	inv, err := st.CreateInvite(ctx, c.ID, store.CohortStudent, &email, []byte("tok1"), teacher.ID, time.Now().Add(time.Hour))
	if err != nil || *inv.Email != "stu@example.com" {
		t.Fatalf("invite: %v %v", inv, err)
	}
	// Bound to its email.
	_, _, err = st.AcceptInvite(ctx, []byte("tok1"), nil, &store.NewAccount{Email: "x@example.com", PasswordHash: "h"})
	if !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("wrong email accepted: %v", err)
	}
	stu, cid, err := st.AcceptInvite(ctx, []byte("tok1"), nil, &store.NewAccount{Email: "stu@example.com", Name: "S", PasswordHash: "h"})
	if err != nil || cid != c.ID || stu.Role != store.RoleStudent {
		t.Fatalf("accept: %v %v", stu, err)
	}
	// Single use.
	if _, _, err := st.AcceptInvite(ctx, []byte("tok1"), &other, nil); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("reused invite: %v", err)
	}
	ok, _ := st.TeachesStudent(ctx, teacher.ID, stu.ID)
	notOK, _ := st.TeachesStudent(ctx, other.ID, stu.ID)
	if !ok || notOK {
		t.Fatalf("TeachesStudent: teacher %v other %v", ok, notOK)
	}
	// A link invite is reusable and expires.
	if _, err := st.CreateInvite(ctx, c.ID, store.CohortStudent, nil, []byte("link"), teacher.ID, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	for _, e := range []string{"l1@example.com", "l2@example.com"} {
		if _, _, err := st.AcceptInvite(ctx, []byte("link"), nil, &store.NewAccount{Email: e, PasswordHash: "h"}); err != nil {
			t.Fatalf("link invite for %s: %v", e, err)
		}
	}
	ms, err := st.Members(ctx, c.ID)
	if err != nil || len(ms) != 4 {
		t.Fatalf("members: %d %v", len(ms), err)
	}
	got, err := st.Cohort(ctx, c.ID)
	if err != nil || got.Students != 3 || got.Instructors != 1 {
		t.Fatalf("cohort counts: %+v %v", got, err)
	}
	if _, err := st.Cohort(ctx, uuid.New()); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing cohort: %v", err)
	}
}

func TestEnvironmentStateMachineEnforcedBySchema(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := pgtest.New(t)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	id := uuid.New()
	if _, err := conn.Exec(ctx, `INSERT INTO environments (id, topology, k8s_version, cluster_name) VALUES ($1, '1cp', 'v1.34.4', 'c1')`, id); err != nil {
		t.Fatal(err)
	}
	exec := func(sql string) error { _, err := conn.Exec(ctx, sql, id); return err }
	if err := exec(`UPDATE environments SET state = 'in_use' WHERE id = $1`); err == nil {
		t.Fatal("requested -> in_use was allowed")
	}
	if err := exec(`UPDATE environments SET state = 'failed' WHERE id = $1`); err == nil {
		t.Fatal("failed without a reason was allowed")
	}
	if err := exec(`UPDATE environments SET state = 'provisioning' WHERE id = $1`); err != nil {
		t.Fatal(err)
	}
	if err := exec(`UPDATE environments SET state = 'ready' WHERE id = $1`); err == nil {
		t.Fatal("ready without a kubeconfig was allowed")
	}
	if err := exec(`UPDATE environments SET state = 'ready', kubeconfig = '/k' WHERE id = $1`); err != nil {
		t.Fatal(err)
	}
	if err := exec(`UPDATE environments SET state = 'deleted' WHERE id = $1`); err == nil {
		t.Fatal("ready -> deleted skipped deleting")
	}
}

func TestAudit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := open(t, pgtest.New(t))
	if err := st.Audit(ctx, nil, "login.failed", "x@example.com", map[string]any{"n": 1}, "127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	evs, err := st.AuditEvents(ctx, 10)
	if err != nil || len(evs) != 1 || evs[0].Action != "login.failed" {
		t.Fatalf("audit: %v %v", evs, err)
	}
}

func TestOpenNamesHostNotPassword(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := store.Open(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)), "postgres://ckalab:s3cretpw@127.0.0.1:1/ckalab?connect_timeout=2")
	if err == nil {
		t.Fatal("connected to a closed port")
	}
	if !strings.Contains(err.Error(), "127.0.0.1") || strings.Contains(err.Error(), "s3cretpw") {
		t.Fatalf("error must name the host and hide the password: %v", err)
	}
}
