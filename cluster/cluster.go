// Package cluster creates, inspects and deletes the kind clusters students
// work on, from ckalab's own node images (see cluster-images/).
package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	kind "sigs.k8s.io/kind/pkg/cluster"
	"sigs.k8s.io/kind/pkg/cluster/nodes"
	kindexec "sigs.k8s.io/kind/pkg/exec"
)

// ErrNotFound is returned for a cluster or node that does not exist.
var ErrNotFound = errors.New("cluster: not found")

// Spec describes a cluster to create.
type Spec struct {
	Name    string // kind cluster name; node containers are <name>-control-plane, <name>-worker, …
	Image   string // node image, e.g. ckalab/node:v1.34.4
	Workers int    // worker nodes besides the control plane
	// WaitReady is how long Create waits for the control plane to be Ready.
	WaitReady time.Duration
}

// Cluster is a created cluster.
type Cluster struct {
	Name       string
	Kubeconfig []byte // admin kubeconfig reaching the API server from this host
	Nodes      []Node
}

// Node is one node container.
type Node struct {
	Name string
	Role string // control-plane or worker
	IP   string
}

// Manager drives kind through its Go library and the Docker engine.
type Manager struct {
	log      *slog.Logger
	provider *kind.Provider
	stateDir string // kubeconfig files kind writes during create
}

// New returns a Manager that keeps kind's scratch files under stateDir.
func New(log *slog.Logger, stateDir string) *Manager {
	return &Manager{
		log:      log,
		provider: kind.NewProvider(kind.ProviderWithDocker(), kind.ProviderWithLogger(kindLogger{log})),
		stateDir: stateDir,
	}
}

// Create makes the cluster, waits for its control plane, and shares SSH
// keys between its nodes. On failure nothing is left behind.
func (m *Manager) Create(ctx context.Context, spec Spec) (*Cluster, error) {
	cfg := &v1alpha4.Cluster{Nodes: []v1alpha4.Node{{Role: v1alpha4.ControlPlaneRole}}}
	for range spec.Workers {
		cfg.Nodes = append(cfg.Nodes, v1alpha4.Node{Role: v1alpha4.WorkerRole})
	}
	if err := os.MkdirAll(m.stateDir, 0o700); err != nil {
		return nil, fmt.Errorf("cluster state dir: %w", err)
	}
	kubeconfig := filepath.Join(m.stateDir, spec.Name+".kubeconfig")
	defer os.Remove(kubeconfig)
	start := time.Now()
	m.log.Info("creating cluster", "cluster", spec.Name, "image", spec.Image, "workers", spec.Workers)
	err := m.provider.Create(spec.Name,
		kind.CreateWithV1Alpha4Config(cfg),
		kind.CreateWithNodeImage(spec.Image),
		kind.CreateWithWaitForReady(spec.WaitReady),
		kind.CreateWithKubeconfigPath(kubeconfig),
		kind.CreateWithDisplayUsage(false),
		kind.CreateWithDisplaySalutation(false),
	)
	if err != nil {
		return nil, fmt.Errorf("creating cluster %s: %w", spec.Name, describe(err))
	}
	c, err := m.Get(ctx, spec.Name)
	if err == nil {
		err = m.shareSSHKeys(ctx, c)
	}
	if err != nil {
		if derr := m.Delete(ctx, spec.Name); derr != nil {
			m.log.Error("removing half-made cluster", "cluster", spec.Name, "err", derr)
		}
		return nil, err
	}
	m.log.Info("cluster ready", "cluster", spec.Name, "took", time.Since(start).Round(time.Millisecond))
	return c, nil
}

// Get describes an existing cluster.
func (m *Manager) Get(ctx context.Context, name string) (*Cluster, error) {
	list, err := m.provider.ListNodes(name)
	if err != nil {
		return nil, fmt.Errorf("listing nodes of %s: %w", name, err)
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("cluster %s: %w", name, ErrNotFound)
	}
	kc, err := m.provider.KubeConfig(name, false)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig of %s: %w", name, err)
	}
	c := &Cluster{Name: name, Kubeconfig: []byte(kc)}
	for _, n := range list {
		role, err := n.Role()
		if err != nil {
			return nil, fmt.Errorf("role of %s: %w", n, err)
		}
		ip, _, err := n.IP()
		if err != nil {
			return nil, fmt.Errorf("address of %s: %w", n, err)
		}
		c.Nodes = append(c.Nodes, Node{Name: n.String(), Role: role, IP: ip})
	}
	return c, nil
}

// Delete removes the cluster's containers and volumes. Deleting a cluster
// that does not exist is not an error.
func (m *Manager) Delete(ctx context.Context, name string) error {
	if err := m.provider.Delete(name, filepath.Join(m.stateDir, name+".kubeconfig")); err != nil {
		return fmt.Errorf("deleting cluster %s: %w", name, describe(err))
	}
	return nil
}

// List names the kind clusters on this Docker engine.
func (m *Manager) List(ctx context.Context) ([]string, error) {
	return m.provider.List()
}

// Exec runs a command in a node container as root and returns its combined
// output. The error includes that output.
func (m *Manager) Exec(ctx context.Context, node string, stdin io.Reader, command ...string) ([]byte, error) {
	n, err := m.node(node)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	cmd := n.CommandContext(ctx, command[0], command[1:]...).SetStdout(&out).SetStderr(&out)
	if stdin != nil {
		cmd.SetStdin(stdin)
	}
	if err := cmd.Run(); err != nil {
		return out.Bytes(), fmt.Errorf("%s on %s: %w: %s", strings.Join(command, " "), node, err, bytes.TrimSpace(out.Bytes()))
	}
	return out.Bytes(), nil
}

func (m *Manager) node(name string) (nodes.Node, error) {
	all, err := m.provider.ListNodes(clusterOf(name))
	if err != nil {
		return nil, err
	}
	for _, n := range all {
		if n.String() == name {
			return n, nil
		}
	}
	return nil, fmt.Errorf("node %s: %w", name, ErrNotFound)
}

// clusterOf strips kind's node suffix (-control-plane, -worker, -worker2, …).
func clusterOf(node string) string {
	for _, suffix := range []string{"-control-plane", "-worker"} {
		if i := strings.LastIndex(node, suffix); i > 0 {
			return node[:i]
		}
	}
	return node
}

// describe adds kind's command output to an error, which kind keeps apart.
func describe(err error) error {
	if re := kindexec.RunErrorForError(err); re != nil && len(re.Output) > 0 {
		return fmt.Errorf("%w: %s", err, tail(string(re.Output), 2000))
	}
	return err
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
