package doctor

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// keepDockerHost restores DOCKER_HOST after the test: cluster.NewOn sets
// it for the whole process.
func keepDockerHost(t *testing.T) {
	t.Helper()
	t.Setenv("DOCKER_HOST", os.Getenv("DOCKER_HOST"))
}

// TestIntegrationDoctorThisHost runs every real check on this machine,
// which has a local engine and the node image (make images). Only the
// WARNs documented for the build machines are allowed: cgroup v1 and a
// kernel.pid_max below max-environments × 2 × node-pids.
func TestIntegrationDoctorThisHost(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs Docker and the node images (make images)")
	}
	keepDockerHost(t)
	cfg := testConfig(t)
	start := time.Now()
	r := Run(context.Background(), cfg, quiet, Options{})
	var out bytes.Buffer
	r.Write(&out)
	t.Logf("%s in %s", out.String(), time.Since(start).Round(time.Millisecond))
	allowedWarn := map[string]bool{Cgroup: true, PidMax: true}
	for _, f := range r {
		switch {
		case f.Status == Fail, f.Status == Warn && !allowedWarn[f.Check], f.Status == Skip:
			t.Errorf("%s %s: %s", f.Status, f.Check, f.Message())
		}
	}
	if len(r) != len(order) {
		t.Errorf("%d findings, want %d", len(r), len(order))
	}
	// The privileged container is gone.
	if b, _ := exec.Command("docker", "ps", "-aq", "--filter", "name=ckalab-doctor-").Output(); len(bytes.TrimSpace(b)) > 0 {
		t.Errorf("doctor containers left: %s", b)
	}
}

// TestIntegrationDoctorEngineDown points the doctor at an engine that
// does not answer: a FAIL with the documented message, the engine's other
// checks skipped, within seconds.
func TestIntegrationDoctorEngineDown(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs Docker and the node images (make images)")
	}
	keepDockerHost(t)
	cfg := testConfig(t)
	cfg.DockerHost = "unix:///nonexistent.sock"
	start := time.Now()
	r := Run(context.Background(), cfg, quiet, Options{})
	if took := time.Since(start); took > 15*time.Second {
		t.Errorf("took %s", took)
	}
	f, _ := r.Find(Docker)
	want := "the Docker engine at unix:///nonexistent.sock does not answer: docker info: Cannot connect to the Docker daemon at unix:///nonexistent.sock"
	if f.Status != Fail || !strings.HasPrefix(f.Summary, want) || f.Fix != "start that engine, or fix --docker-host (CKALAB_DOCKER_HOST) and --docker-cert-path, then restart ckalab" {
		t.Errorf("docker finding: %+v", f)
	}
	if g, _ := r.EnvsDown(); g != f {
		t.Errorf("EnvsDown = %+v", g)
	}
	for _, c := range []string{NodeImage, Privileged, Disk} {
		if g, _ := r.Find(c); g.Status != Skip {
			t.Errorf("%s: %+v", c, g)
		}
	}
	if g, _ := r.Find(Database); g.Status != OK {
		t.Errorf("database: %+v", g)
	}
}

// TestIntegrationDoctorImageMissing asks for a node image no one built.
func TestIntegrationDoctorImageMissing(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs Docker and the node images (make images)")
	}
	keepDockerHost(t)
	cfg := testConfig(t)
	cfg.NodeImage = "ckalab/does-not-exist"
	r := Run(context.Background(), cfg, quiet, Options{})
	f, _ := r.Find(NodeImage)
	if f.Status != Fail || f.Summary != "node image ckalab/does-not-exist:v"+cfg.K8sVersion+" is missing on the local Docker engine" ||
		f.Fix != "build it: `make images` (about 45 minutes cold), then restart ckalab; or check --node-image" {
		t.Errorf("node image finding: %+v", f)
	}
	if g, _ := r.Find(Privileged); g.Status != Skip {
		t.Errorf("privileged without an image: %+v", g)
	}
	if g, _ := r.Find(Docker); g.Status != OK {
		t.Errorf("docker: %+v", g)
	}
}
