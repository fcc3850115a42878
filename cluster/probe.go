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
	// Named, so that a probe the student stops (it runs in the node's PID
	// namespace) is removed when its caller gives up; capped like a node.
	name := fmt.Sprintf("ckalab-probe-%s-%d", cluster, m.probes.Add(1))
	args := []string{"run", "--rm", "--privileged", "--name", name, "--label", "io.ckalab.probe=" + cluster,
		"--memory", "256m", "--pids-limit", "64",
		"--pid=container:" + n.String(), "--network=container:" + n.String(),
		"-e", "CONTAINER_RUNTIME_ENDPOINT=" + containerdSocket, "-e", "IMAGE_SERVICE_ENDPOINT=" + containerdSocket,
		"--entrypoint", command[0], image}
	buf := &limitedBuffer{max: maxProbeOutput + 1}
	cmd := m.docker(ctx, append(args, command[1:]...)...)
	cmd.Stdout, cmd.Stderr = buf, buf
	err = cmd.Run()
	if ctx.Err() != nil {
		// The client was killed; the container may live on without it.
		_ = m.docker(context.Background(), "rm", "-f", name).Run()
	}
	if buf.Len() > maxProbeOutput {
		return nil, fmt.Errorf("probe on %s: over %d bytes of output", node, maxProbeOutput)
	}
	if err != nil {
		return buf.Bytes(), fmt.Errorf("probe on %s: %w: %s", node, err, bytes.TrimSpace(buf.Bytes()))
	}
	return buf.Bytes(), nil
}

// maxProbeOutput bounds what a probe may print (a student's server can
// answer an http probe with an endless body).
const maxProbeOutput = 4 << 20

// limitedBuffer keeps the first max bytes written to it and counts the rest.
type limitedBuffer struct {
	bytes.Buffer
	max     int
	dropped int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Buffer.Len(); room < len(p) {
		b.dropped += len(p) - max(room, 0)
		if room > 0 {
			b.Buffer.Write(p[:room])
		}
		return len(p), nil
	}
	return b.Buffer.Write(p)
}

// ProbesIn binds Probe to one cluster, as In does Exec.
func (m *Manager) ProbesIn(cluster string) func(ctx context.Context, node string, command ...string) ([]byte, error) {
	return func(ctx context.Context, node string, command ...string) ([]byte, error) {
		return m.Probe(ctx, cluster, node, command...)
	}
}
