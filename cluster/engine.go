package cluster

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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
	where := "the local Docker engine"
	if m.engine.Host != "" {
		where = "the Docker engine at " + m.engine.Host
	}
	if out, err := m.docker(ctx, "info", "--format", "{{.ServerVersion}}").CombinedOutput(); err != nil {
		return fmt.Errorf("%s does not answer (%s): start it (or fix --docker-host), then restart ckalab", where, strings.TrimSpace(string(out)))
	}
	if err := m.docker(ctx, "image", "inspect", image).Run(); err != nil {
		return fmt.Errorf("node image %s is missing on %s: build it there with `make images`", image, where)
	}
	return nil
}
