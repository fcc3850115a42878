package backup_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ckalab/ckalab/auth"
	"github.com/ckalab/ckalab/backup"
	"github.com/ckalab/ckalab/pgserver"
	"github.com/ckalab/ckalab/pgserver/pgtest"
	"github.com/ckalab/ckalab/store"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func open(t *testing.T, url string) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), quiet, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return st
}

// freshServer starts a new embedded PostgreSQL in its own state directory,
// as on a new machine.
func freshServer(t *testing.T) *pgserver.Server {
	t.Helper()
	dir, err := os.MkdirTemp("", "ckalab-restore-")
	if err != nil {
		t.Fatal(err)
	}
	_ = os.Chmod(dir, 0o755) // PostgreSQL may run as another account
	t.Cleanup(func() { os.RemoveAll(dir) })
	s, err := pgserver.Start(context.Background(), quiet, dir, pgserver.Options{Fast: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop(context.Background()) })
	return s
}

type class struct {
	teacher, student store.User
	cohort           store.Cohort
	env              store.Environment
}

// seed fills a database through the store as the server would: accounts,
// a cohort with a student, an environment and a graded Check.
func seed(t *testing.T, st *store.Store) class {
	t.Helper()
	ctx := context.Background()
	hash, err := auth.HashPassword(ctx, "student-password")
	if err != nil {
		t.Fatal(err)
	}
	var c class
	if c.teacher, err = st.CreateUser(ctx, "teach@example.com", "Teach", store.RoleInstructor, hash); err != nil {
		t.Fatal(err)
	}
	if c.student, err = st.CreateUser(ctx, "ana@example.com", "Ana", store.RoleStudent, hash); err != nil {
		t.Fatal(err)
	}
	if c.cohort, err = st.CreateCohort(ctx, "Autumn", c.teacher.ID); err != nil {
		t.Fatal(err)
	}
	if err := st.AddMember(ctx, c.cohort.ID, c.student.ID, store.CohortStudent); err != nil {
		t.Fatal(err)
	}
	c.env, err = st.RequestEnvironment(ctx, store.EnvRequest{UserID: uuid.NullUUID{UUID: c.student.ID, Valid: true}, LabID: "rbac",
		CohortID: uuid.NullUUID{UUID: c.cohort.ID, Valid: true}, Topology: "1cp", K8sVersion: "v1.34.4",
		ClusterName: "ckalab-" + uuid.NewString()[:8], TimeLimit: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	_, err = st.SaveCheckRun(ctx, store.CheckRun{EnvironmentID: c.env.ID, UserID: c.student.ID, LabID: "rbac",
		Duration: time.Second, Score: 2.5, MaxScore: 4, Results: []store.CheckResult{
			{TaskID: "t1", CheckID: "role", Passed: true, Weight: 2.5, Message: "ok"},
			{TaskID: "t1", CheckID: "binding", Passed: false, Weight: 1.5, Message: "no binding"},
		}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestBackupRestoreIntoFreshServer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := pgtest.New(t)
	c := seed(t, open(t, src))

	path := filepath.Join(t.TempDir(), backup.DefaultName(time.Now()))
	rep, err := backup.Dump(ctx, quiet, src, path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 || rep.Size != fi.Size() || rep.Schema != store.LatestMigration() {
		t.Fatalf("backup: mode %v, report %+v", fi.Mode(), rep)
	}
	if rep.Totals.Users != 2 || rep.Totals.CheckRuns != 1 {
		t.Fatalf("backup totals: %+v", rep.Totals)
	}
	if _, err := backup.Dump(ctx, quiet, src, path); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("overwrite: %v", err)
	}

	fresh := freshServer(t)
	rep, err = backup.Restore(ctx, quiet, fresh.URL(), path, false)
	if err != nil {
		t.Fatal(err)
	}
	want := store.Totals{Users: 2, Cohorts: 1, Members: 2, Environments: 1, CheckRuns: 1, CheckResults: 2}
	if rep.Totals != want || rep.Migrated != store.LatestMigration() {
		t.Fatalf("restore report %+v, want totals %+v", rep, want)
	}

	st := open(t, fresh.URL())
	u, err := st.UserByEmail(ctx, "ana@example.com")
	if err != nil || u.ID != c.student.ID {
		t.Fatalf("student: %+v %v", u, err)
	}
	if err := auth.VerifyPassword(ctx, u.PasswordHash, "student-password"); err != nil {
		t.Fatalf("password after restore: %v", err)
	}
	members, err := st.Members(ctx, c.cohort.ID)
	if err != nil || len(members) != 2 {
		t.Fatalf("members: %+v %v", members, err)
	}
	if r, err := st.CohortRoleOf(ctx, c.cohort.ID, c.student.ID); err != nil || r != store.CohortStudent {
		t.Fatalf("student's membership: %q %v", r, err)
	}
	runs, err := st.CheckRuns(ctx, c.env.ID)
	if err != nil || len(runs) != 1 || runs[0].Score != 2.5 || runs[0].MaxScore != 4 || len(runs[0].Results) != 2 {
		t.Fatalf("check runs: %+v %v", runs, err)
	}
	progress, err := st.Progress(ctx, []uuid.UUID{c.student.ID})
	if err != nil || len(progress) != 1 || progress[0].BestScore != 2.5 {
		t.Fatalf("grades: %+v %v", progress, err)
	}

	// A database with accounts is only replaced when asked.
	if _, err := backup.Restore(ctx, quiet, fresh.URL(), path, false); !errors.Is(err, backup.ErrNotEmpty) || !strings.Contains(err.Error(), "2 account") {
		t.Fatalf("restore over accounts: %v", err)
	}
	if _, err := st.CreateUser(ctx, "late@example.com", "", store.RoleStudent, "h"); err != nil {
		t.Fatal(err)
	}
	st.Close() // its connections would count as another client
	if rep, err = backup.Restore(ctx, quiet, fresh.URL(), path, true); err != nil || rep.Totals != want {
		t.Fatalf("replace: %+v %v", rep, err)
	}
	st = open(t, fresh.URL())
	if _, err := st.UserByEmail(ctx, "late@example.com"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("replace kept an account the backup lacks: %v", err)
	}

	// A second generation: a backup of the restored database restores too.
	again := filepath.Join(t.TempDir(), "again.dump")
	if _, err := backup.Dump(ctx, quiet, fresh.URL(), again); err != nil {
		t.Fatal(err)
	}
	if rep, err := backup.Restore(ctx, quiet, pgtest.NewEmpty(t), again, false); err != nil || rep.Totals != want {
		t.Fatalf("second generation: %+v %v", rep, err)
	}
}

func TestRestoreRefusesWhileInUse(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := pgtest.New(t)
	seed(t, open(t, src))
	path := filepath.Join(t.TempDir(), "b.dump")
	if _, err := backup.Dump(ctx, quiet, src, path); err != nil {
		t.Fatal(err)
	}
	dst := pgtest.New(t)
	open(t, dst) // like a running `ckalab serve`
	if _, err := backup.Restore(ctx, quiet, dst, path, false); !errors.Is(err, backup.ErrInUse) || !strings.Contains(err.Error(), "serve") {
		t.Fatalf("restore under a client: %v", err)
	}
}

func TestRestoreOlderBackupMigratesUp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := pgtest.NewEmpty(t)
	st := open(t, src)
	if _, err := st.MigrateUp(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateUser(ctx, "old@example.com", "", store.RoleAdmin, "h"); err != nil {
		t.Fatal(err)
	}
	old, err := st.MigrateDown(ctx, int(store.LatestMigration()-3))
	if err != nil || old.Version != 3 {
		t.Fatalf("down to 3: %v %v", old, err)
	}
	path := filepath.Join(t.TempDir(), "old.dump")
	if rep, err := backup.Dump(ctx, quiet, src, path); err != nil || rep.Schema != 3 {
		t.Fatalf("dump old schema: %+v %v", rep, err)
	}
	rep, err := backup.Restore(ctx, quiet, pgtest.NewEmpty(t), path, false)
	if err != nil || rep.Schema != 3 || rep.Migrated != store.LatestMigration() || rep.Totals.Users != 1 {
		t.Fatalf("restore old backup: %+v %v", rep, err)
	}
}

func TestRestoreRefusesBadBackups(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()

	// From a newer ckalab: a schema version this binary does not know.
	src := pgtest.New(t)
	conn, err := pgx.Connect(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	_, err = conn.Exec(ctx, `UPDATE schema_migrations SET version = 9999`)
	conn.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	newer := filepath.Join(dir, "newer.dump")
	if _, err := backup.Dump(ctx, quiet, src, newer); err != nil {
		t.Fatal(err)
	}

	empty := filepath.Join(dir, "empty.dump")
	text := filepath.Join(dir, "text.dump")
	truncated := filepath.Join(dir, "truncated.dump")
	good := filepath.Join(dir, "good.dump")
	full := pgtest.New(t)
	seed(t, open(t, full))
	if _, err := backup.Dump(ctx, quiet, full, good); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{empty: nil, text: []byte("SELECT 1;\n"), truncated: b[:len(b)/2]} {
		if err := os.WriteFile(name, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}

	for _, tc := range []struct {
		file string
		want error
		text string
	}{
		{newer, backup.ErrNewerSchema, "schema version 9999"},
		{empty, backup.ErrNotBackup, "is empty"},
		{text, backup.ErrNotBackup, "not a pg_dump custom-format archive"},
		{truncated, backup.ErrNotBackup, "cannot be read"},
	} {
		dst := pgtest.New(t)
		_, err := backup.Restore(ctx, quiet, dst, tc.file, false)
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.text) {
			t.Errorf("%s: got %v, want %v with %q", filepath.Base(tc.file), err, tc.want, tc.text)
		}
		// Nothing was touched: the target keeps its schema.
		if status, err := open(t, dst).Status(ctx); err != nil || status.Version != store.LatestMigration() {
			t.Errorf("%s: target changed: %v %v", filepath.Base(tc.file), status, err)
		}
	}
}
