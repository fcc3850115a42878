package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	clusterimages "github.com/ckalab/ckalab/cluster-images"
	"github.com/ckalab/ckalab/config"
	"github.com/ckalab/ckalab/pgserver/pgtest"
)

// doctorEnv gives the doctor a fresh state directory and the embedded
// database, and restores DOCKER_HOST, which cluster.NewOn sets for the
// whole process.
func doctorEnv(t *testing.T) {
	t.Helper()
	t.Setenv("DOCKER_HOST", os.Getenv("DOCKER_HOST"))
	dir := t.TempDir()
	if err := os.Chmod(filepath.Dir(dir), 0o755); err != nil { // PostgreSQL may run as another account
		t.Fatal(err)
	}
	t.Setenv("CKALAB_STATE_DIR", dir)
	for _, k := range []string{"CKALAB_DATABASE_URL", "CKALAB_DOCKER_HOST", "CKALAB_KUBERNETES_VERSION"} {
		t.Setenv(k, "") // restored after the test
		os.Unsetenv(k)
	}
}

// TestIntegrationDoctorCLI runs `ckalab doctor` on this machine: it passes
// (documented WARNs aside) and fails, with the documented messages, on an
// engine that does not answer and on a node image no one built.
func TestIntegrationDoctorCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs Docker and the node images (make images)")
	}
	version := clusterimages.KubernetesVersion()
	image := "ckalab/node"
	if v := os.Getenv("CKALAB_NODE_IMAGE"); v != "" {
		image = v
	}
	tests := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{name: "this host", args: nil, code: 0, want: []string{
			"ok    docker      the local Docker engine answers",
			"ok    node image  " + image + ":v" + version + " present",
			"ok    privileged  a privileged container of the node image runs",
			" 0 FAIL, 0 skipped",
		}},
		{name: "engine down", args: []string{"--docker-host", "unix:///nonexistent.sock"}, code: 1, want: []string{
			"FAIL  docker      the Docker engine at unix:///nonexistent.sock does not answer: docker info: Cannot connect to the Docker daemon",
			"                  → start that engine, or fix --docker-host (CKALAB_DOCKER_HOST) and --docker-cert-path, then restart ckalab\n",
			"skip  node image  needs the Docker engine",
			"fix every FAIL before serving students",
		}},
		{name: "image missing", args: []string{"--node-image", "ckalab/does-not-exist"}, code: 1, want: []string{
			"FAIL  node image  node image ckalab/does-not-exist:v" + version + " is missing on the local Docker engine\n",
			"                  → build it: `make images` (about 45 minutes cold), then restart ckalab; or check --node-image\n",
			"skip  privileged  needs the node image",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doctorEnv(t)
			code, out, errs := runCLI(t, "", append([]string{"doctor"}, tt.args...)...)
			if code != tt.code {
				t.Errorf("exit %d, want %d\n%s%s", code, tt.code, out, errs)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
	t.Run("arguments", func(t *testing.T) {
		if code, _, errs := runCLI(t, "", "doctor", "extra"); code != 2 || !strings.Contains(errs, "no arguments") {
			t.Errorf("%d %q", code, errs)
		}
	})
}

// TestIntegrationDoctorServe checks serve's start: a database the doctor
// fails stops it with the doctor's message; a missing node image leaves
// environments off with the doctor's message as the reason.
func TestIntegrationDoctorServe(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs Docker and the node images (make images)")
	}
	doctorEnv(t)
	code, _, errs := runCLI(t, "", "serve", "--listen", "127.0.0.1:0",
		"--database-url", "postgres://u:secretpw@127.0.0.1:1/db?connect_timeout=2")
	if code != 1 || !strings.Contains(errs, "ckalab: database: connect to database on 127.0.0.1:1") ||
		!strings.Contains(errs, "→ check --database-url (CKALAB_DATABASE_URL)") || strings.Contains(errs, "secretpw") {
		t.Errorf("serve on an unreachable database: %d\n%s", code, errs)
	}

	cfg, err := config.Defaults()
	if err != nil {
		t.Fatal(err)
	}
	cfg.NodeImage = "ckalab/does-not-exist"
	down, err := checkHost(context.Background(), &cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil || !strings.HasPrefix(down, "node image ckalab/does-not-exist:v") || !strings.Contains(down, "→ build it: `make images`") {
		t.Errorf("checkHost = %q, %v", down, err)
	}
}

// TestIntegrationDoctorDatabase checks an external database: migrated,
// and with its migrations still to apply.
func TestIntegrationDoctorDatabase(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs Docker and the node images (make images)")
	}
	doctorEnv(t)
	_, out, _ := runCLI(t, "", "doctor", "--database-url", pgtest.New(t))
	if !strings.Contains(out, "ok    database    PostgreSQL on ") || !strings.Contains(out, "(up to date)") {
		t.Errorf("migrated database:\n%s", out)
	}
	_, out, _ = runCLI(t, "", "doctor", "--database-url", pgtest.NewEmpty(t))
	if !strings.Contains(out, "WARN  database    PostgreSQL on ") || !strings.Contains(out, "→ run `ckalab migrate up` (ckalab serve applies pending migrations at start)") {
		t.Errorf("empty database:\n%s", out)
	}
}
