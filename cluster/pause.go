package cluster

import (
	"bytes"
	"context"
	"fmt"
	"strings"
)

// Pause freezes every node container of the cluster (the cgroup freezer,
// `docker pause`): its processes keep their memory and stop using CPU.
// Pausing a paused cluster is not an error.
func (m *Manager) Pause(ctx context.Context, name string) error {
	return m.freeze(ctx, name, "pause", "is already paused")
}

// Unpause thaws a paused cluster's nodes. It does not wait for the
// cluster to be healthy again: its clocks jumped, so leases look expired
// until the kubelets renew them. Unpausing a running cluster is not an error.
func (m *Manager) Unpause(ctx context.Context, name string) error {
	return m.freeze(ctx, name, "unpause", "is not paused")
}

func (m *Manager) freeze(ctx context.Context, name, verb, already string) error {
	list, err := m.provider.ListNodes(name)
	if err != nil {
		return fmt.Errorf("listing nodes of %s: %w", name, err)
	}
	if len(list) == 0 {
		return fmt.Errorf("cluster %s: %w", name, ErrNotFound)
	}
	// One node at a time: each answer tells whether that node was already
	// so. A pause that fails part way is undone: never half a cluster frozen.
	for i, n := range list {
		out, err := m.docker(ctx, verb, n.String()).CombinedOutput()
		if err != nil && !strings.Contains(string(out), already) {
			if verb == "pause" {
				for _, done := range list[:i] {
					_ = m.docker(context.WithoutCancel(ctx), "unpause", done.String()).Run()
				}
			}
			return fmt.Errorf("%s %s: %w: %s", verb, n, err, bytes.TrimSpace(out))
		}
	}
	return nil
}
