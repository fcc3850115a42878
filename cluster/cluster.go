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
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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
	// Network is the cluster's own Docker network, made for it and removed
	// with it; "" puts the nodes on kind's shared "kind" network.
	Network string
	Memory  string // per-node memory limit, docker --memory syntax ("2g"); "" = none
	CPUs    string // per-node CPU quota, docker --cpus syntax ("1.5"); "" = none
	Pids    int    // per-node process limit; 0 = none
	// Log receives kind's whole log for this cluster; Progress its status
	// lines ("Starting control-plane", …) as they happen. Both optional.
	Log      io.Writer
	Progress func(status string)
}

// Cluster is a created cluster.
type Cluster struct {
	Name string
	// Kubeconfig reaches the API server from this host. From Create: the
	// platform's own credential (platformKubeconfig); from Get: kind's admin.
	Kubeconfig []byte
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
	engine   Engine
	provider *kind.Provider
	stateDir string // kubeconfig files kind writes during create
	// create serialises Create: kind picks the Docker network from a
	// process-wide environment variable.
	create sync.Mutex
	probes atomic.Uint64 // numbers probe containers
}

// New returns a Manager for the local default engine that keeps kind's
// scratch files under stateDir.
func New(log *slog.Logger, stateDir string) *Manager {
	m, _ := NewOn(log, stateDir, Engine{})
	return m
}

// NewOn returns a Manager for the given engine. kind finds its engine in
// the process environment only, so NewOn sets DOCKER_HOST (and the TLS
// variables) for the whole process: one engine per process.
func NewOn(log *slog.Logger, stateDir string, engine Engine) (*Manager, error) {
	if err := engine.Validate(); err != nil {
		return nil, err
	}
	for k, v := range map[string]string{"DOCKER_HOST": engine.Host, "DOCKER_CERT_PATH": engine.CertPath} {
		if v != "" {
			os.Setenv(k, v)
		}
	}
	if engine.CertPath != "" {
		os.Setenv("DOCKER_TLS_VERIFY", "1")
	}
	return &Manager{
		log:      log,
		engine:   engine,
		provider: kind.NewProvider(kind.ProviderWithDocker(), kind.ProviderWithLogger(kindLogger{log: log})),
		stateDir: stateDir,
	}, nil
}

// trainingCluster is kubeadm's configuration for a throwaway training
// cluster, as JSON patches of kind's: kind writes kubeadm's v1beta3 (a map
// of flags) or v1beta4 (a list of flags) by version, and the patch of the
// other version matches nothing.
//   - The API server reaches aggregated APIs (metrics-server) at their pod
//     IPs rather than their Service IP, which its host network may not
//     translate yet when it first connects; such a first connection goes
//     astray and is then kept.
//   - The controller manager and scheduler do not elect a leader: there is
//     one of each, and renewing their leases every 2 s was a fifth of an
//     idle cluster's API and etcd work (docs/benchmarks.md).
//   - kubeadm init applies the node image's static pod patches
//     (/etc/ckalab/kubeadm-patches: the API server's readiness probe).
var trainingCluster = []v1alpha4.PatchJSON6902{
	{Group: "kubeadm.k8s.io", Version: "v1beta3", Kind: "ClusterConfiguration", Patch: `[
		{"op": "add", "path": "/apiServer/extraArgs/enable-aggregator-routing", "value": "true"},
		{"op": "add", "path": "/controllerManager/extraArgs/leader-elect", "value": "false"},
		{"op": "add", "path": "/scheduler/extraArgs", "value": {"leader-elect": "false"}}]`},
	{Group: "kubeadm.k8s.io", Version: "v1beta4", Kind: "ClusterConfiguration", Patch: `[
		{"op": "add", "path": "/apiServer/extraArgs/-", "value": {"name": "enable-aggregator-routing", "value": "true"}},
		{"op": "add", "path": "/controllerManager/extraArgs/-", "value": {"name": "leader-elect", "value": "false"}},
		{"op": "add", "path": "/scheduler/extraArgs", "value": [{"name": "leader-elect", "value": "false"}]}]`},
	{Group: "kubeadm.k8s.io", Version: "v1beta3", Kind: "InitConfiguration",
		Patch: `[{"op": "add", "path": "/patches", "value": {"directory": "` + kubeadmPatches + `"}}]`},
	{Group: "kubeadm.k8s.io", Version: "v1beta4", Kind: "InitConfiguration",
		Patch: `[{"op": "add", "path": "/patches", "value": {"directory": "` + kubeadmPatches + `"}}]`},
}

// kubeadmPatches is where node images keep kubeadm's static pod patches.
const kubeadmPatches = "/etc/ckalab/kubeadm-patches"

// Create makes the cluster, waits for its control plane, shares SSH keys
// between its nodes and starts its registry. On failure nothing is left
// behind.
func (m *Manager) Create(ctx context.Context, spec Spec) (*Cluster, error) {
	cfg := &v1alpha4.Cluster{Nodes: []v1alpha4.Node{{Role: v1alpha4.ControlPlaneRole}},
		KubeadmConfigPatchesJSON6902: trainingCluster,
		Networking:                   v1alpha4.Networking{APIServerAddress: m.engine.APIAddress}}
	for range spec.Workers {
		cfg.Nodes = append(cfg.Nodes, v1alpha4.Node{Role: v1alpha4.WorkerRole})
	}
	if err := os.MkdirAll(m.stateDir, 0o700); err != nil {
		return nil, fmt.Errorf("cluster state dir: %w", err)
	}
	kubeconfig := filepath.Join(m.stateDir, spec.Name+".kubeconfig")
	defer os.Remove(kubeconfig)
	start := time.Now()
	m.log.Info("creating cluster", "cluster", spec.Name, "image", spec.Image, "workers", spec.Workers, "network", spec.Network)
	provider := kind.NewProvider(kind.ProviderWithDocker(),
		kind.ProviderWithLogger(kindLogger{log: m.log.With("cluster", spec.Name), out: spec.Log, progress: spec.Progress}))
	m.create.Lock()
	if spec.Network != "" {
		os.Setenv("KIND_EXPERIMENTAL_DOCKER_NETWORK", spec.Network)
	}
	err := provider.Create(spec.Name,
		kind.CreateWithV1Alpha4Config(cfg),
		kind.CreateWithNodeImage(spec.Image),
		kind.CreateWithWaitForReady(spec.WaitReady),
		kind.CreateWithKubeconfigPath(kubeconfig),
		kind.CreateWithDisplayUsage(false),
		kind.CreateWithDisplaySalutation(false),
	)
	os.Unsetenv("KIND_EXPERIMENTAL_DOCKER_NETWORK")
	m.create.Unlock()
	var c *Cluster
	if err != nil {
		err = fmt.Errorf("creating cluster %s: %w", spec.Name, describe(err))
	} else {
		c, err = m.Get(ctx, spec.Name)
	}
	if err == nil {
		c.Kubeconfig, err = m.platformKubeconfig(ctx, c, c.Kubeconfig)
	}
	if err == nil {
		err = m.limit(ctx, c, spec)
	}
	if err == nil {
		err = m.shareSSHKeys(ctx, c)
	}
	if err == nil {
		err = m.startRegistry(ctx, c)
	}
	if err == nil {
		err = m.waitNodesReady(ctx, c, spec)
	}
	if err != nil {
		if derr := m.delete(ctx, spec.Name, spec.Network); derr != nil {
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

// Delete removes the cluster's containers and volumes, and its own Docker
// network if it has one. Deleting a cluster that does not exist is not an error.
func (m *Manager) Delete(ctx context.Context, name string) error {
	return m.delete(ctx, name, NetworkOf(name))
}

func (m *Manager) delete(ctx context.Context, name, network string) error {
	if err := m.provider.Delete(name, filepath.Join(m.stateDir, name+".kubeconfig")); err != nil {
		return fmt.Errorf("deleting cluster %s: %w", name, describe(err))
	}
	if network == "" {
		return nil
	}
	out, err := m.docker(ctx, "network", "rm", network).CombinedOutput()
	if err != nil && !strings.Contains(string(out), "not found") && !strings.Contains(string(out), "No such network") {
		return fmt.Errorf("removing network %s: %w: %s", network, err, bytes.TrimSpace(out))
	}
	return nil
}

// NetworkOf names the Docker network of a cluster created with its own.
func NetworkOf(cluster string) string { return cluster + "-net" }

// limit caps each node container's memory, CPU and processes (after kind's
// create, so kubeadm's start is not slowed).
func (m *Manager) limit(ctx context.Context, c *Cluster, spec Spec) error {
	args := []string{"update"}
	if spec.Memory != "" {
		args = append(args, "--memory", spec.Memory, "--memory-swap", spec.Memory)
	}
	if spec.Pids > 0 {
		args = append(args, "--pids-limit", strconv.Itoa(spec.Pids))
	}
	if spec.CPUs != "" {
		args = append(args, "--cpus", spec.CPUs)
	}
	if len(args) == 1 {
		return nil
	}
	for _, n := range c.Nodes {
		args = append(args, n.Name)
	}
	if out, err := m.docker(ctx, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("limiting nodes of %s: %w: %s", c.Name, err, bytes.TrimSpace(out))
	}
	return nil
}

// List names the kind clusters on this Docker engine.
func (m *Manager) List(ctx context.Context) ([]string, error) {
	return m.provider.List()
}

// Exec runs a command in one of cluster's node containers as root and
// returns its combined output. The error includes that output. A node that
// is not one of cluster's containers is refused with ErrNotFound.
func (m *Manager) Exec(ctx context.Context, cluster, node string, stdin io.Reader, command ...string) ([]byte, error) {
	n, err := m.node(cluster, node)
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

// node finds a node container of cluster by name. kind lists a cluster's
// containers by their io.x-k8s.kind.cluster label, which the engine sets at
// creation: a container of another cluster is never found, whatever its name.
func (m *Manager) node(cluster, name string) (nodes.Node, error) {
	if cluster == "" || name == "" {
		return nil, fmt.Errorf("node %q of cluster %q: %w", name, cluster, ErrNotFound)
	}
	all, err := m.provider.ListNodes(cluster)
	if err != nil {
		return nil, fmt.Errorf("listing nodes of %s: %w", cluster, err)
	}
	for _, n := range all {
		if n.String() == name {
			return n, nil
		}
	}
	return nil, fmt.Errorf("node %s in cluster %s: %w", name, cluster, ErrNotFound)
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

// Summary is what Docker says about one kind cluster's node containers.
type Summary struct {
	Name    string
	Created time.Time // the oldest node's creation
	Nodes   int
	Running int // running or paused
	Paused  int
}

// Summaries lists every kind cluster on this Docker engine, with node
// creation times and running counts, from the containers' labels.
func (m *Manager) Summaries(ctx context.Context) (map[string]*Summary, error) {
	out, err := m.docker(ctx, "ps", "-a", "--filter", "label=io.x-k8s.kind.cluster",
		"--format", `{{.Label "io.x-k8s.kind.cluster"}}	{{.CreatedAt}}	{{.State}}`).Output()
	if err != nil {
		return nil, fmt.Errorf("listing kind containers: %w", err)
	}
	all := map[string]*Summary{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		parts := strings.Split(line, "\t")
		if len(parts) != 3 {
			continue
		}
		created, err := time.Parse("2006-01-02 15:04:05 -0700 MST", parts[1])
		if err != nil {
			return nil, fmt.Errorf("container created %q: %w", parts[1], err)
		}
		s := all[parts[0]]
		if s == nil {
			s = &Summary{Name: parts[0], Created: created}
			all[parts[0]] = s
		}
		if created.Before(s.Created) {
			s.Created = created
		}
		s.Nodes++
		switch parts[2] {
		case "paused":
			s.Paused++
			s.Running++
		case "running":
			s.Running++
		}
	}
	return all, nil
}

// waitNodesReady waits for every node, not only the control plane kind
// waits for, to be Ready: a student's first `kubectl get nodes` should
// show a working cluster.
func (m *Manager) waitNodesReady(ctx context.Context, c *Cluster, spec Spec) error {
	if spec.Progress != nil {
		spec.Progress("Waiting for all nodes to be Ready")
	}
	timeout := spec.WaitReady
	if timeout <= 0 {
		timeout = 3 * time.Minute
	}
	for _, n := range c.Nodes {
		if n.Role != "control-plane" {
			continue
		}
		_, err := m.Exec(ctx, c.Name, n.Name, nil, "kubectl", "--kubeconfig=/etc/kubernetes/admin.conf",
			"wait", "--for=condition=Ready", "node", "--all", "--timeout="+timeout.String())
		if err != nil {
			return fmt.Errorf("nodes of %s not Ready: %w", c.Name, err)
		}
		return nil
	}
	return fmt.Errorf("cluster %s has no control-plane node", c.Name)
}
