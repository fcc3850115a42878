package cluster

import (
	"context"
	"io"
)

// Backend owns every call to the container engine that runs students'
// clusters: creating, listing and deleting them, and running commands and
// shells in their nodes. Manager is the Docker (kind) backend.
//
// Contract: every method that reaches into a node takes the cluster the
// node must belong to, and refuses (ErrNotFound) a node that is not one of
// that cluster's containers, whatever its name: node names can come from
// students (a pod's spec.nodeName). Delete of a missing cluster succeeds.
type Backend interface {
	Create(ctx context.Context, spec Spec) (*Cluster, error)
	Get(ctx context.Context, name string) (*Cluster, error)
	Delete(ctx context.Context, name string) error
	// Pause freezes a cluster's nodes (no CPU, memory kept); Unpause thaws
	// them. Both are idempotent.
	Pause(ctx context.Context, name string) error
	Unpause(ctx context.Context, name string) error
	// Summaries lists every kind cluster on the engine, this server's or not.
	Summaries(ctx context.Context) (map[string]*Summary, error)
	Exec(ctx context.Context, cluster, node string, stdin io.Reader, command ...string) ([]byte, error)
	Shell(ctx context.Context, cluster, node, id string, cols, rows uint16) (*Shell, error)
	// Probe runs a command beside a node, in its PID and network
	// namespaces, with the node image's pristine binaries.
	Probe(ctx context.Context, cluster, node string, command ...string) ([]byte, error)
	// ReadFile copies a file out of a node without running anything in it.
	ReadFile(ctx context.Context, cluster, node, path string, limit int64) ([]byte, error)
	// Ready says whether the engine answers and holds image, and what to
	// do when it does not.
	Ready(ctx context.Context, image string) error
	// DiskUsage is the disk each cluster holds, measured by the engine.
	DiskUsage(ctx context.Context) (map[string]int64, error)
	// FreeDisk is the engine's free disk, or ErrNotMeasurable.
	FreeDisk(ctx context.Context) (int64, error)
}

var _ Backend = (*Manager)(nil)

// FilesIn binds ReadFile to one cluster, as In does Exec.
func (m *Manager) FilesIn(cluster string) func(ctx context.Context, node, path string, limit int64) ([]byte, error) {
	return func(ctx context.Context, node, path string, limit int64) ([]byte, error) {
		return m.ReadFile(ctx, cluster, node, path, limit)
	}
}

// In binds Exec to one cluster: what lab setups and the grader get, so no
// node name they are handed can lead outside that cluster.
func (m *Manager) In(cluster string) func(ctx context.Context, node string, stdin io.Reader, command ...string) ([]byte, error) {
	return func(ctx context.Context, node string, stdin io.Reader, command ...string) ([]byte, error) {
		return m.Exec(ctx, cluster, node, stdin, command...)
	}
}
