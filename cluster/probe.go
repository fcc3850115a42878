package cluster

import (
	"bytes"
	"context"
	"fmt"
	"strings"
)

// containerdSocket is the node's containerd, seen from a container that
// shares the node's PID namespace (through its PID 1's root).
const containerdSocket = "unix:///proc/1/root/run/containerd/containerd.sock"

// Probe runs a command for the grader beside a node, not in it: in a
// throwaway container of the node's image (the engine's pristine copy,
// not the node's filesystem, which a student who is root there may have
// changed) that shares the node's PID and network namespaces. crictl
// there talks to the node's containerd, and nsenter enters a pod's
// network namespace by PID, with binaries the student cannot replace.
func (m *Manager) Probe(ctx context.Context, cluster, node string, command ...string) ([]byte, error) {
	n, err := m.node(cluster, node)
	if err != nil {
		return nil, err
	}
	if len(command) == 0 {
		return nil, fmt.Errorf("probe on %s: no command", node)
	}
	out, err := m.docker(ctx, "inspect", "--format", "{{.Image}}", n.String()).Output()
	if err != nil {
		return nil, fmt.Errorf("image of node %s: %w", node, err)
	}
	image := strings.TrimSpace(string(out))
	args := []string{"run", "--rm", "--privileged", "--label", "io.ckalab.probe=" + cluster,
		"--pid=container:" + n.String(), "--network=container:" + n.String(),
		"-e", "CONTAINER_RUNTIME_ENDPOINT=" + containerdSocket, "-e", "IMAGE_SERVICE_ENDPOINT=" + containerdSocket,
		"--entrypoint", command[0], image}
	var buf bytes.Buffer
	cmd := m.docker(ctx, append(args, command[1:]...)...)
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Run(); err != nil {
		return buf.Bytes(), fmt.Errorf("probe on %s: %w: %s", node, err, bytes.TrimSpace(buf.Bytes()))
	}
	return buf.Bytes(), nil
}

// ProbesIn binds Probe to one cluster, as In does Exec.
func (m *Manager) ProbesIn(cluster string) func(ctx context.Context, node string, command ...string) ([]byte, error) {
	return func(ctx context.Context, node string, command ...string) ([]byte, error) {
		return m.Probe(ctx, cluster, node, command...)
	}
}
