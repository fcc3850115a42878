package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Engine is the Docker engine that runs students' clusters: the one place
// its address lives. Students are root in privileged node containers, so
// on a shared deployment the engine belongs on a disposable host of its
// own, never beside the server and its database (see docs/deploy.md).
type Engine struct {
	// Host is the engine's address as Docker writes it: unix:///path,
	// tcp://host:2376 (with CertPath) or ssh://user@host. Empty: the local
	// default engine (DOCKER_HOST, else /var/run/docker.sock).
	Host string
	// CertPath holds ca.pem, cert.pem and key.pem: the engine's CA and this
	// server's client certificate, for tcp:// engines (TLS verified).
	CertPath string
	// APIAddress is where clusters' API servers are published on the engine
	// host and where ckalab (grader, provisioning) reaches them. Empty:
	// 127.0.0.1, right for a local engine; for a remote one, an address of
	// the engine host that only the server can reach (a private network or
	// a tunnel: the API servers trust their certificates, not the network).
	APIAddress string
}

// Validate reports what is wrong with the engine's settings.
func (e Engine) Validate() error {
	switch {
	case e.Host == "":
	case strings.HasPrefix(e.Host, "unix://"), strings.HasPrefix(e.Host, "ssh://"):
	case strings.HasPrefix(e.Host, "tcp://"):
		if e.CertPath == "" {
			return fmt.Errorf("docker host %s: a tcp:// engine needs TLS client certificates (--docker-cert-path): an open engine port is root on its host for anyone who reaches it", e.Host)
		}
		for _, f := range []string{"ca.pem", "cert.pem", "key.pem"} {
			if _, err := os.Stat(filepath.Join(e.CertPath, f)); err != nil {
				return fmt.Errorf("docker cert path %s: %w", e.CertPath, err)
			}
		}
	default:
		return fmt.Errorf("docker host %q: want unix://, tcp:// or ssh://", e.Host)
	}
	return nil
}

// environ is the process environment with the engine's Docker variables.
func (e Engine) environ() []string {
	env := os.Environ()
	if e.Host != "" {
		env = append(env, "DOCKER_HOST="+e.Host)
	}
	if e.CertPath != "" {
		env = append(env, "DOCKER_TLS_VERIFY=1", "DOCKER_CERT_PATH="+e.CertPath)
	}
	return env
}

// docker is a docker CLI command against the engine.
func (m *Manager) docker(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Env = m.engine.environ()
	return cmd
}

// Ready checks that the engine answers and holds the node image, and says
// what to do when it does not.
func (m *Manager) Ready(ctx context.Context, image string) error {
	where := m.engine.Where()
	if out, err := m.docker(ctx, "info", "--format", "{{.ServerVersion}}").CombinedOutput(); err != nil {
		return fmt.Errorf("%s does not answer (%s): start it (or fix --docker-host), then restart ckalab", where, strings.TrimSpace(string(out)))
	}
	if err := m.docker(ctx, "image", "inspect", image).Run(); err != nil {
		return fmt.Errorf("node image %s is missing on %s: build it there with `make images`", image, where)
	}
	// Clusters are created with the image's kubeadm patches (trainingCluster).
	if out, err := m.docker(ctx, "run", "--rm", "--pull", "never", "--network", "none", "--entrypoint", "test",
		image, "-d", kubeadmPatches).CombinedOutput(); err != nil {
		return fmt.Errorf("node image %s on %s predates this ckalab (no %s%s): rebuild it with `make images`",
			image, where, kubeadmPatches, strings.TrimRight(": "+strings.TrimSpace(string(out)), ": "))
	}
	return nil
}

// DiskUsage measures, from the engine and never from inside a node (where
// the student is root), the disk each kind cluster holds: its nodes'
// writable layers and volumes (/var), in bytes.
func (m *Manager) DiskUsage(ctx context.Context) (map[string]int64, error) {
	out, err := m.docker(ctx, "system", "df", "-v", "--format", "{{json .Volumes}}").Output()
	if err != nil {
		return nil, fmt.Errorf("docker system df: %w", err)
	}
	var vols []struct{ Name, Size string }
	if err := json.Unmarshal(out, &vols); err != nil {
		return nil, fmt.Errorf("docker system df: %w", err)
	}
	volSize := map[string]int64{}
	for _, v := range vols {
		volSize[v.Name] = parseSize(v.Size)
	}
	// One listing (containers may come and go between two): cluster, the
	// writable layer ("222MB (virtual 1.88GB)"), and the mounts.
	out, err = m.docker(ctx, "ps", "-a", "--no-trunc", "--size", "--filter", "label=io.x-k8s.kind.cluster",
		"--format", `{{.Label "io.x-k8s.kind.cluster"}}|{{.Size}}|{{.Mounts}}`).Output()
	if err != nil {
		return nil, fmt.Errorf("listing kind containers: %w", err)
	}
	usage := map[string]int64{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.SplitN(line, "|", 3)
		if len(f) != 3 {
			continue
		}
		if size := strings.Fields(f[1]); len(size) > 0 {
			usage[f[0]] += parseSize(size[0])
		}
		for _, v := range strings.Split(f[2], ",") {
			usage[f[0]] += volSize[v]
		}
	}
	return usage, nil
}

// parseSize reads Docker's human sizes ("1.502GB", "986.5MB", "0B"); 1000-based.
func parseSize(s string) int64 {
	units := []struct {
		suffix string
		mult   float64
	}{{"TB", 1e12}, {"GB", 1e9}, {"MB", 1e6}, {"kB", 1e3}, {"B", 1}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.ParseFloat(num, 64)
			if err != nil {
				return 0
			}
			return int64(v * u.mult)
		}
	}
	return 0
}

// ErrNotMeasurable means the engine is remote: its free disk cannot be read
// from here.
var ErrNotMeasurable = errors.New("not measurable from the server")

// FreeDisk is the free space of the engine's data root, read on this host
// for a local engine; a remote engine answers ErrNotMeasurable.
func (m *Manager) FreeDisk(ctx context.Context) (int64, error) {
	if !m.engine.Local() {
		return 0, ErrNotMeasurable
	}
	out, err := m.docker(ctx, "info", "--format", "{{.DockerRootDir}}").Output()
	if err != nil {
		return 0, fmt.Errorf("docker info: %w", err)
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(strings.TrimSpace(string(out)), &st); err != nil {
		return 0, fmt.Errorf("free disk of %s: %w", strings.TrimSpace(string(out)), err)
	}
	return int64(st.Bavail) * st.Bsize, nil
}
