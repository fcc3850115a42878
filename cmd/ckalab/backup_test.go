package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ckalab/ckalab/pgserver/pgtest"
)

// TestBackupRestoreCLI backs up an external database and restores it into
// a fresh state directory's embedded one, as after moving to a new machine.
func TestBackupRestoreCLI(t *testing.T) {
	t.Setenv("CKALAB_DATABASE_URL", pgtest.NewEmpty(t))
	t.Setenv("CKALAB_STATE_DIR", t.TempDir())
	if code, _, errs := runCLI(t, "a-long-password\n", "user", "add", "--email", "ana@example.com", "--role", "instructor"); code != 0 {
		t.Fatalf("user add: %d %s", code, errs)
	}
	dir := t.TempDir()
	code, out, errs := runCLI(t, "", "backup", "--out", dir)
	if code != 0 || !strings.HasPrefix(out, "wrote "+filepath.Join(dir, "ckalab-backup-")) || !strings.Contains(out, "1 accounts") {
		t.Fatalf("backup: %d %q %q", code, out, errs)
	}
	file := strings.Fields(out)[1]
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup file: %v %v", fi, err)
	}

	state, err := os.MkdirTemp("", "ckalab-state-")
	if err != nil {
		t.Fatal(err)
	}
	_ = os.Chmod(state, 0o755) // the embedded PostgreSQL may run as another account
	t.Cleanup(func() { os.RemoveAll(state) })
	t.Setenv("CKALAB_DATABASE_URL", "")
	t.Setenv("CKALAB_STATE_DIR", state)
	t.Setenv("CKALAB_LOG_LEVEL", "warn")
	if code, _, errs := runCLI(t, "", "backup", "--out", dir); code != 1 || !strings.Contains(errs, "no embedded database") {
		t.Fatalf("backup of a state directory without a database: %d %q", code, errs)
	}
	code, out, errs = runCLI(t, "", "restore", "--in", file)
	if code != 0 || !strings.Contains(out, "accounts 1,") {
		t.Fatalf("restore: %d %q %q", code, out, errs)
	}
	if code, _, errs := runCLI(t, "", "restore", "--in", file); code != 1 || !strings.Contains(errs, "--replace") {
		t.Fatalf("restore over accounts: %d %q", code, errs)
	}
	if code, _, errs := runCLI(t, "a-long-password\n", "user", "add", "--email", "ana@example.com"); code != 1 || !strings.Contains(errs, "already exists") {
		t.Fatalf("restored account: %d %q", code, errs)
	}
	// The embedded database backs up too, and the server is stopped after.
	if code, out, errs := runCLI(t, "", "backup", "--out", filepath.Join(dir, "again.dump")); code != 0 || !strings.Contains(out, "1 accounts") {
		t.Fatalf("backup of the embedded database: %d %q %q", code, out, errs)
	}
	if _, err := os.Stat(filepath.Join(state, "postgres", "run", ".s.PGSQL.5432")); err == nil {
		t.Fatal("embedded PostgreSQL still running after backup")
	}

	empty := filepath.Join(dir, "empty.dump")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := runCLI(t, "", "restore", "--in", empty, "--replace"); code != 1 || !strings.Contains(errs, "is empty") {
		t.Fatalf("empty backup: %d %q", code, errs)
	}
	if code, _, errs := runCLI(t, "", "restore"); code != 2 || !strings.Contains(errs, "--in FILE") {
		t.Fatalf("restore without --in: %d %q", code, errs)
	}
}
