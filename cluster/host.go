package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// Where names the engine for messages: "the local Docker engine" or "the
// Docker engine at ssh://…".
func (e Engine) Where() string {
	if e.Host == "" {
		return "the local Docker engine"
	}
	return "the Docker engine at " + e.Host
}

// Local reports whether the engine runs on this host, so that its disk
// and kernel settings can be read here.
func (e Engine) Local() bool {
	return e.Host == "" || strings.HasPrefix(e.Host, "unix://")
}

// HostInfo is what the engine reports about the host it runs on.
type HostInfo struct {
	ServerVersion string
	CgroupVersion string // "1" or "2"
	CgroupDriver  string // cgroupfs or systemd
	CPUs          int
	Memory        int64 // bytes
	DataRoot      string
	Clock         time.Time // the engine host's clock as it answered
	Rootless      bool
}

// Info asks the engine about its host. The error carries the docker
// client's own message ("Cannot connect to the Docker daemon at …").
func (m *Manager) Info(ctx context.Context) (HostInfo, error) {
	var stderr bytes.Buffer
	cmd := m.docker(ctx, "info", "--format", "{{json .}}")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" && !errors.Is(err, exec.ErrNotFound) {
			return HostInfo{}, fmt.Errorf("docker info: %s", msg)
		}
		return HostInfo{}, fmt.Errorf("docker info: %w", err)
	}
	var raw struct {
		ServerVersion, CgroupVersion, CgroupDriver, DockerRootDir, SystemTime string
		NCPU                                                                  int
		MemTotal                                                              int64
		SecurityOptions                                                       []string
	}
	if err := json.Unmarshal(out, &raw); err != nil {
		return HostInfo{}, fmt.Errorf("docker info: %w", err)
	}
	if raw.ServerVersion == "" {
		return HostInfo{}, fmt.Errorf("docker info: no answer from the engine: %s", strings.TrimSpace(stderr.String()))
	}
	info := HostInfo{ServerVersion: raw.ServerVersion, CgroupVersion: raw.CgroupVersion, CgroupDriver: raw.CgroupDriver,
		CPUs: raw.NCPU, Memory: raw.MemTotal, DataRoot: raw.DockerRootDir}
	info.Clock, _ = time.Parse(time.RFC3339Nano, raw.SystemTime)
	for _, o := range raw.SecurityOptions {
		if strings.Contains(o, "name=rootless") {
			info.Rootless = true
		}
	}
	return info, nil
}

// ImageCreated is when the engine's copy of image was built; ErrNotFound
// when the engine does not hold it.
func (m *Manager) ImageCreated(ctx context.Context, image string) (time.Time, error) {
	var stderr bytes.Buffer
	cmd := m.docker(ctx, "image", "inspect", "--format", "{{.Created}}", image)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if strings.Contains(strings.ToLower(msg), "no such image") {
			return time.Time{}, fmt.Errorf("image %s: %w", image, ErrNotFound)
		}
		return time.Time{}, fmt.Errorf("inspect image %s: %w: %s", image, err, msg)
	}
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(string(out)))
	if err != nil {
		return time.Time{}, fmt.Errorf("creation time of image %s: %w", image, err)
	}
	return t, nil
}

// RunPrivileged runs command in a throwaway privileged container of image,
// as kind runs its nodes, and removes the container afterwards, also when
// ctx ends first. name must be unique on the engine.
func (m *Manager) RunPrivileged(ctx context.Context, name, image string, command ...string) ([]byte, error) {
	if len(command) == 0 {
		return nil, fmt.Errorf("run %s: no command", name)
	}
	args := []string{"run", "--rm", "--privileged", "--name", name, "--pull", "never", "--network", "none",
		"--memory", "64m", "--pids-limit", "16", "--entrypoint", command[0], image}
	var stdout, stderr bytes.Buffer
	cmd := m.docker(ctx, append(args, command[1:]...)...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		// The client was killed; the container may live on without it.
		rctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_ = m.docker(rctx, "rm", "-f", name).Run()
		cancel()
	}
	if err != nil {
		return stdout.Bytes(), fmt.Errorf("run %s: %w: %s", name, err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}
