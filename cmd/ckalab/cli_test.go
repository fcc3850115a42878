package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/ckalab/ckalab/pgserver/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func runCLI(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestVersionAndUsage(t *testing.T) {
	if code, out, _ := runCLI(t, "", "version"); code != 0 || !strings.HasPrefix(out, "ckalab ") {
		t.Fatalf("version: %d %q", code, out)
	}
	if code, _, errs := runCLI(t, "", "frobnicate"); code != 2 || !strings.Contains(errs, "unknown command") {
		t.Fatalf("unknown: %d %q", code, errs)
	}
	code, _, errs := runCLI(t, "", "serve", "--help")
	if code != 0 {
		t.Fatalf("serve --help: %d", code)
	}
	for _, want := range []string{"CKALAB_DATABASE_URL", "CKALAB_LISTEN", "CKALAB_POOL_SIZE"} {
		if !strings.Contains(errs, want) {
			t.Errorf("serve --help lacks %s", want)
		}
	}
}

func TestUserAddAndMigrate(t *testing.T) {
	url := pgtest.NewEmpty(t)
	t.Setenv("CKALAB_DATABASE_URL", url)
	t.Setenv("CKALAB_STATE_DIR", t.TempDir())
	code, out, errs := runCLI(t, "", "user", "add", "--email", "Teach@Example.com", "--role", "instructor")
	if code != 0 || !strings.Contains(out, "created instructor teach@example.com") || !strings.Contains(out, "password: ") {
		t.Fatalf("generated password: %d %q %q", code, out, errs)
	}
	code, out, _ = runCLI(t, "a-long-password\n", "user", "add", "--email", "s@example.com")
	if code != 0 || strings.Contains(out, "password:") {
		t.Fatalf("stdin password: %d %q", code, out)
	}
	if code, _, errs := runCLI(t, "a-long-password\n", "user", "add", "--email", "s@example.com"); code != 1 || !strings.Contains(errs, "already exists") {
		t.Fatalf("duplicate: %d %q", code, errs)
	}
	if code, _, errs := runCLI(t, "short\n", "user", "add", "--email", "x@example.com"); code != 2 || !strings.Contains(errs, "at least") {
		t.Fatalf("short password: %d %q", code, errs)
	}
	if code, _, errs := runCLI(t, "", "user", "add", "--email", "x@example.com", "--role", "god"); code != 2 || !strings.Contains(errs, "--role") {
		t.Fatalf("bad role: %d %q", code, errs)
	}
	code, out, _ = runCLI(t, "", "migrate", "status")
	if code != 0 || !strings.Contains(out, "applied  001_init") {
		t.Fatalf("status: %d %q", code, out)
	}
}

func TestUnreachableDatabaseNamesHost(t *testing.T) {
	t.Setenv("CKALAB_DATABASE_URL", "postgres://u:hunter2pw@127.0.0.1:1/db?connect_timeout=2")
	code, _, errs := runCLI(t, "", "migrate", "status")
	if code != 1 || !strings.Contains(errs, "127.0.0.1") || strings.Contains(errs, "hunter2pw") {
		t.Fatalf("%d %q", code, errs)
	}
}
