package provision_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ckalab/ckalab/auth"
	"github.com/ckalab/ckalab/cluster"
	clusterimages "github.com/ckalab/ckalab/cluster-images"
	"github.com/ckalab/ckalab/config"
	"github.com/ckalab/ckalab/grader"
	"github.com/ckalab/ckalab/labs"
	"github.com/ckalab/ckalab/pgserver/pgtest"
	"github.com/ckalab/ckalab/provision"
	"github.com/ckalab/ckalab/server"
	"github.com/ckalab/ckalab/store"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestParseTopology(t *testing.T) {
	for in, want := range map[string]int{"1cp": 0, "1cp-0w": 0, "1cp-1w": 1, "1cp-4w": 4} {
		got, err := provision.ParseTopology(in)
		if err != nil || got.Workers != want {
			t.Errorf("%s: %+v %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "2cp", "1cp-5w", "1cp-w", "1cp-1", "1cp--1w"} {
		if _, err := provision.ParseTopology(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if s := (provision.Topology{Workers: 2}).String(); s != "1cp-2w" {
		t.Errorf("String %q", s)
	}
}

type env struct {
	t     *testing.T
	ctx   context.Context
	st    *store.Store
	cm    *cluster.Manager
	cfg   provision.Config
	log   *slog.Logger
	mu    sync.Mutex
	setup map[uuid.UUID]bool
}

func (e *env) provisioner() *provision.Provisioner {
	return provision.New(e.cfg, e.log, e.st, e.cm, func(ctx context.Context, env store.Environment) error {
		// Lab setup against the real cluster, as a lab's setup step would.
		if _, err := e.cm.Exec(ctx, env.ClusterName, env.Nodes[0].Name, nil, "kubectl", "--kubeconfig=/etc/kubernetes/admin.conf",
			"create", "namespace", "lab-"+env.LabID); err != nil {
			return err
		}
		e.mu.Lock()
		e.setup[env.ID] = true
		e.mu.Unlock()
		return nil
	})
}

// run starts a provisioner; the returned stop waits until it has stopped.
func (e *env) run() (stop func()) {
	ctx, cancel := context.WithCancel(e.ctx)
	p := e.provisioner()
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			e.t.Fatal(err)
		}
	}
}

// wait polls the store until check finds what it wants.
func (e *env) wait(what string, timeout time.Duration, check func() (bool, error)) {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, err := check()
		if err != nil {
			e.t.Fatalf("%s: %v", what, err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%s: not after %s", what, timeout)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (e *env) pooledReady() []store.Environment {
	e.t.Helper()
	ready, err := e.st.EnvironmentsIn(e.ctx, store.EnvReady)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []store.Environment
	for _, r := range ready {
		if r.Pooled {
			out = append(out, r)
		}
	}
	return out
}

func (e *env) waitState(id uuid.UUID, want store.EnvState, timeout time.Duration) store.Environment {
	e.t.Helper()
	var got store.Environment
	e.wait(fmt.Sprintf("environment %s %s", id, want), timeout, func() (bool, error) {
		var err error
		got, err = e.st.Environment(e.ctx, id)
		if err == nil && got.State == store.EnvFailed && want != store.EnvFailed {
			return false, fmt.Errorf("failed: %s", got.Failure)
		}
		return got.State == want, err
	})
	return got
}

func (e *env) user(name string) uuid.UUID {
	u, err := e.st.CreateUser(e.ctx, name+"@example.com", name, store.RoleStudent, "hash")
	if err != nil {
		e.t.Fatal(err)
	}
	return u.ID
}

func inspect(t *testing.T, container, format string) string {
	t.Helper()
	out, err := exec.Command("docker", "inspect", "-f", format, container).Output()
	if err != nil {
		t.Fatalf("docker inspect %s: %v", container, err)
	}
	return strings.TrimSpace(string(out))
}

// TestIntegrationProvisioning drives the provisioner on real clusters:
// warm pool, claim, refill, isolation, limits, quotas, capacity, reaping
// and recovery after a restart.
func TestIntegrationProvisioning(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs Docker and the node images (make images)")
	}
	version := clusterimages.KubernetesVersion()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	prefix := fmt.Sprintf("ckpt%d-", time.Now().UnixNano()%10000)
	e := &env{
		t: t, ctx: ctx, st: open(t), setup: map[uuid.UUID]bool{},
		log: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo})),
		cfg: provision.Config{
			Prefix: prefix, NodeImage: "ckalab/node", StateDir: t.TempDir(),
			Pools:   []provision.Pool{{Topology: provision.Topology{}, Version: version, Size: 1, Hot: 0}},
			MaxLive: 2, MaxPerUser: 1, MaxQueue: 1, Memory: "1536m", CPUs: "1.5", Pids: 2048,
			CreateTimeout: 5 * time.Minute, OrphanGrace: 0, Poll: 300 * time.Millisecond,
			FreezePool: true, // every warm cluster waits paused: each claim below thaws one
		},
	}
	e.cm = cluster.New(e.log, t.TempDir())
	t.Cleanup(func() {
		all, _ := e.cm.Summaries(context.Background())
		for name := range all {
			if strings.HasPrefix(name, prefix) {
				_ = e.cm.Delete(context.Background(), name)
			}
		}
	})
	// Operator metrics: every provisioner here (and the server below) shares one registry.
	reg := prometheus.NewRegistry()
	e.cfg.Metrics = provision.NewMetrics(reg, e.log, e.st, e.cfg.Pools)
	metric := func(want float64, name string, labels ...string) {
		t.Helper()
		if got := sample(t, reg, name, labels...); got != want {
			t.Fatalf("metric %s%v = %v, want %v", name, labels, got, want)
		}
	}
	// Series recorded just after a state change the test waits for.
	eventually := func(want float64, name string, labels ...string) {
		t.Helper()
		e.wait(fmt.Sprintf("metric %s%v = %v", name, labels, want), 10*time.Second, func() (bool, error) {
			return sample(t, reg, name, labels...) == want, nil
		})
	}
	stop := e.run()

	// A warm cluster appears; a claim gets it and the lab setup runs on it.
	start := time.Now()
	e.wait("metrics: the warm cluster is being created", time.Minute, func() (bool, error) {
		return sample(t, reg, "ckalab_environments", "state", "provisioning") == 1, nil
	})
	metric(0, "ckalab_pool_ready", "topology", "1cp")
	metric(1, "ckalab_pool_target", "topology", "1cp")
	metric(0, "ckalab_cluster_create_duration_seconds", "topology", "1cp")
	e.wait("first warm cluster", 4*time.Minute, func() (bool, error) { return len(e.pooledReady()) == 1, nil })
	t.Logf("BENCH cold create, 1 node, through the provisioner: %s", time.Since(start).Round(100*time.Millisecond))
	metric(1, "ckalab_pool_ready", "topology", "1cp")
	metric(1, "ckalab_environments", "state", "ready")
	metric(0, "ckalab_environments", "state", "provisioning")
	metric(1, "ckalab_cluster_create_duration_seconds", "topology", "1cp")
	metric(1, "ckalab_queue_wait_seconds", "request", "pool")
	frozen := func(what string, id uuid.UUID) {
		t.Helper()
		e.wait(what+" frozen", time.Minute, func() (bool, error) {
			got, err := e.st.Environment(ctx, id)
			all, _ := e.cm.Summaries(ctx)
			c := all[got.ClusterName]
			return got.PausedAt != nil && c != nil && c.Paused == c.Nodes, err
		})
	}
	frozen("the warm cluster", e.pooledReady()[0].ID)
	ana, bo, cy, di := e.user("ana"), e.user("bo"), e.user("cy"), e.user("di")
	req := func(u uuid.UUID, lab string) provision.StartRequest {
		return provision.StartRequest{UserID: u, LabID: lab, Version: version, TimeLimit: time.Hour}
	}
	claimAt := time.Now()
	a, err := e.provisioner().Start(ctx, req(ana, "pods"))
	if err != nil || a.State != store.EnvReady || a.UserID.UUID != ana {
		t.Fatalf("claim: %+v %v", a, err)
	}
	a = e.waitState(a.ID, store.EnvInUse, time.Minute)
	t.Logf("BENCH frozen warm claim to in_use (thaw, settle, lab setup: one kubectl call): %s", time.Since(claimAt).Round(time.Millisecond))
	if a.PausedAt != nil || !hasPhases(t, e, a.ID, "claimed", "waking", "awake", "lab setup", "ready") {
		t.Fatalf("claim of a frozen warm cluster: paused %v", a.PausedAt)
	}
	if !e.setup[a.ID] || a.ExpiresAt == nil {
		t.Fatalf("lab setup did not run or no expiry: %+v", a)
	}
	eventually(1, "ckalab_claim_duration_seconds", "source", "pool")
	metric(0, "ckalab_claim_duration_seconds", "source", "cold")
	metric(1, "ckalab_environments", "state", "in_use")
	checkThroughServer(t, ctx, e, reg, a)
	if again, err := e.provisioner().Start(ctx, req(ana, "pods")); err != nil || again.ID != a.ID {
		t.Fatalf("second Start on the same lab: %+v %v, want the same environment", again, err)
	}
	if _, err := e.provisioner().Start(ctx, req(ana, "rbac")); !errors.Is(err, provision.ErrQuota) {
		t.Fatalf("second lab over the per-user quota: %v", err)
	}

	// The pool refills in the background, and its new cluster is frozen.
	// A restart keeps it so; once thawed (the pool no longer freezing) it
	// serves the tests below and, two minutes on, must have settled.
	e.wait("pool refilled", 4*time.Minute, func() (bool, error) { return len(e.pooledReady()) == 1, nil })
	b := e.pooledReady()[0]
	frozen("the refill", b.ID)
	stop()
	e.cfg.FreezePool = false
	stop = e.run()
	time.Sleep(2 * time.Second)
	thawedAt := time.Now()
	if took, err := e.provisioner().Wake(ctx, b.ID); err != nil || took == 0 {
		t.Fatalf("waking the warm cluster after a restart: %s %v", took, err)
	} else {
		t.Logf("BENCH thaw of a warm 1-node cluster to settled (API, node Ready, no taints, DNS): %s", took.Round(10*time.Millisecond))
	}

	t.Run("limits and isolation", func(t *testing.T) {
		aNode, bNode := a.Nodes[0], b.Nodes[0]
		if got := inspect(t, aNode.Name, "{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}} {{.HostConfig.NanoCpus}}"); got != fmt.Sprint(1536<<20, " 2048 1500000000") {
			t.Fatalf("limits of %s: %s", aNode.Name, got)
		}
		nets := inspect(t, aNode.Name, "{{json .NetworkSettings.Networks}}")
		var m map[string]json.RawMessage
		if err := json.Unmarshal([]byte(nets), &m); err != nil || len(m) != 1 || m[cluster.NetworkOf(a.ClusterName)] == nil {
			t.Fatalf("networks of %s: %s", aNode.Name, nets)
		}
		if got := inspect(t, aNode.Name, "{{range .HostConfig.PortBindings}}{{range .}}{{.HostIP}} {{end}}{{end}}"); strings.TrimSpace(got) != "127.0.0.1" {
			t.Fatalf("API server published on %q, want loopback only", got)
		}
		// The API server, and the registry each cluster pulls from (and
		// pushes to): reachable inside the cluster only.
		for _, port := range []string{"6443", fmt.Sprint(cluster.RegistryPort)} {
			probe := func(env store.Environment, node, ip string) error {
				_, err := e.cm.Exec(ctx, env.ClusterName, node, nil, "timeout", "3", "bash", "-c", `</dev/tcp/$0/$1`, ip, port)
				return err
			}
			if err := probe(a, aNode.Name, aNode.IP); err != nil {
				t.Fatalf("control check: a node cannot reach its own port %s: %v", port, err)
			}
			if err := probe(a, aNode.Name, bNode.IP); err == nil {
				t.Fatalf("%s reached another cluster's node %s:%s", aNode.Name, bNode.IP, port)
			}
			if err := probe(b, bNode.Name, aNode.IP); err == nil {
				t.Fatalf("%s reached another cluster's node %s:%s", bNode.Name, aNode.IP, port)
			}
		}
		if _, err := e.cm.Exec(ctx, a.ClusterName, aNode.Name, nil, "sh", "-c", "test ! -e /var/run/docker.sock && test ! -e /run/docker.sock"); err != nil {
			t.Fatalf("docker socket inside a node: %v", err)
		}
	})

	// Node names reach the server from students (a pod's spec.nodeName):
	// neither the backend nor a Check may run anything in another cluster.
	t.Run("commands stay in their cluster", func(t *testing.T) {
		aNode, bNode := a.Nodes[0], b.Nodes[0]
		if _, err := e.cm.Exec(ctx, a.ClusterName, bNode.Name, nil, "true"); !errors.Is(err, cluster.ErrNotFound) {
			t.Fatalf("exec on %s through cluster %s: %v, want ErrNotFound", bNode.Name, a.ClusterName, err)
		}
		if _, err := e.cm.Exec(ctx, a.ClusterName, aNode.Name, nil, "true"); err != nil {
			t.Fatalf("control check: exec on the cluster's own node: %v", err)
		}
		hop := fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: hop, namespace: default}
spec:
  nodeName: %s
  containers: [{name: c, image: busybox:1.35, command: [sleep, "3600"]}]
`, bNode.Name)
		if _, err := e.cm.Exec(ctx, a.ClusterName, aNode.Name, strings.NewReader(hop),
			"kubectl", "--kubeconfig=/etc/kubernetes/admin.conf", "apply", "-f", "-"); err != nil {
			t.Fatal(err)
		}
		lab := &labs.Lab{ID: "hop", Tasks: []labs.Task{{ID: "reach", Weight: 1, Checks: []labs.Check{{ID: "probe",
			Spec: &labs.ConnectivityCheck{FromNamespace: "default", FromPod: "hop", Host: "10.96.0.1", Port: 443, Expect: "allowed"}}}}}}
		var ran []string
		target := grader.Target{Kubeconfig: []byte(a.Kubeconfig), Nodes: map[string]string{"control-plane": aNode.Name},
			Exec: func(ctx context.Context, node string, stdin io.Reader, command ...string) ([]byte, error) {
				ran = append(ran, node)
				return e.cm.In(a.ClusterName)(ctx, node, stdin, command...)
			}}
		rep := grader.New(e.log).Grade(ctx, lab, target)
		if len(rep.Results) != 1 || rep.Results[0].Passed || !strings.Contains(rep.Results[0].Message, "not running on a node of this cluster") {
			t.Fatalf("Check with a pod on another cluster's node: %+v", rep.Results)
		}
		if len(ran) != 0 {
			t.Fatalf("the Check ran commands on %v", ran)
		}
	})

	// A hostile student, from a terminal on their node (the shell a terminal
	// websocket runs), tries to get out of their cluster or to starve others.
	t.Run("hostile student", func(t *testing.T) {
		aNode, bNode := a.Nodes[0], b.Nodes[0]
		sh, err := e.cm.Shell(ctx, a.ClusterName, aNode.Name, "hostile", 200, 50)
		if err != nil {
			t.Fatal(err)
		}
		defer sh.Close()
		var mu sync.Mutex
		var screen strings.Builder
		go func() {
			buf := make([]byte, 32<<10)
			for {
				n, err := sh.Read(buf)
				mu.Lock()
				screen.Write(buf[:n])
				mu.Unlock()
				if err != nil {
					return
				}
			}
		}()
		n := 0
		student := func(cmd string, timeout time.Duration) string {
			t.Helper()
			n++
			mark := fmt.Sprintf("__done%d__", n)
			mu.Lock()
			from := screen.Len()
			mu.Unlock()
			if _, err := sh.Write([]byte(cmd + "; echo " + mark + "\r")); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(timeout)
			for {
				mu.Lock()
				out := screen.String()[from:]
				mu.Unlock()
				// The marker echoed back as typed is followed by a newline; printed, by one too.
				if i := strings.LastIndex(out, "\n"+mark); i >= 0 {
					return out[:i]
				}
				if time.Now().After(deadline) {
					t.Fatalf("%q: no end after %s; screen: %q", cmd, timeout, out)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}

		// The server and its database: ckalab listens on loopback, PostgreSQL
		// on a Unix socket; neither is in reach of a node.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		port := fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
		gw := strings.TrimSpace(inspect(t, aNode.Name, "{{range .NetworkSettings.Networks}}{{.Gateway}}{{end}}"))
		for _, host := range []string{"127.0.0.1", gw} {
			out := student(fmt.Sprintf("timeout 3 bash -c '</dev/tcp/%s/%s' && echo open=$((40+2)) || echo closed=$((40+2))", host, port), 20*time.Second)
			if !strings.Contains(out, "closed=42") {
				t.Fatalf("the server's port %s:%s from a node: %q", host, port, out)
			}
		}
		if out := student("ls -d /tmp/ckalab-pgtest-* /var/run/postgresql 2>/dev/null | wc -l | sed s/^/found=/", 10*time.Second); !strings.Contains(out, "found=0") {
			t.Fatalf("PostgreSQL's socket visible in a node: %q", out)
		}
		// Another cluster's API server and node: unreachable.
		for _, p := range []string{"6443", "22", "10250"} {
			out := student(fmt.Sprintf("timeout 3 bash -c '</dev/tcp/%s/%s' && echo open=$((40+2)) || echo closed=$((40+2))", bNode.IP, p), 20*time.Second)
			if !strings.Contains(out, "closed=42") {
				t.Fatalf("another cluster's node %s:%s: %q", bNode.IP, p, out)
			}
		}
		// A fork bomb stops at the node's process cap (2048 here).
		out := student(`perl -e '$0 = "ckbomb"; for $i (1..2500) { $p = fork; if (!defined $p) { print "fork failed at $i: $!\n"; last } if (!$p) { sleep 60; exit } }'; pkill -f ckbomb`, 2*time.Minute)
		failed := regexp.MustCompile(`fork failed at \d+`).FindString(out)
		if failed == "" {
			t.Fatalf("2500 processes forked past the cap of 2048: %q", out)
		}
		t.Logf("fork bomb: %s", failed)
		// Burning every core (four busy loops against a 1.5-CPU quota) leaves
		// another student's kubectl answering within two seconds.
		student("for i in 1 2 3 4; do timeout 40 sh -c 'while :; do :; done' & done", 10*time.Second)
		time.Sleep(5 * time.Second)
		var worst time.Duration
		for range 5 {
			t0 := time.Now()
			if _, err := e.cm.Exec(ctx, b.ClusterName, bNode.Name, nil, "kubectl", "--kubeconfig=/etc/kubernetes/admin.conf", "get", "nodes"); err != nil {
				t.Fatal(err)
			}
			worst = max(worst, time.Since(t0))
			time.Sleep(time.Second)
		}
		student("pkill -f 'while :'; wait", 20*time.Second)
		t.Logf("BENCH another cluster's kubectl get nodes while a node burns its CPU quota: worst of 5 %s", worst.Round(time.Millisecond))
		// 2 s: with two cores and the rest of the suite's clusters beside
		// it, 1.15 s was measured once (CI-like run, 2026-12-07).
		if worst > 2*time.Second {
			t.Fatalf("another student's kubectl took %s while a node burned CPU", worst)
		}
	})

	// Capacity: two clusters is the limit here. Bo takes the warm one; Cy
	// waits in the queue; Di is refused.
	bEnv, err := e.provisioner().Start(ctx, req(bo, "pods"))
	if err != nil || bEnv.ID != b.ID {
		t.Fatalf("bo's claim: %+v %v", bEnv, err)
	}
	e.waitState(b.ID, store.EnvInUse, time.Minute)
	c, err := e.provisioner().Start(ctx, req(cy, "pods"))
	if err != nil || c.State != store.EnvRequested {
		t.Fatalf("cy should be queued: %+v %v", c, err)
	}
	if pos, err := e.st.QueuePosition(ctx, c.ID); err != nil || pos != 0 {
		t.Fatalf("cy's queue position %d %v, want 0 (ahead of the pool refill)", pos, err)
	}
	if _, err := e.provisioner().Start(ctx, req(di, "pods")); !errors.Is(err, provision.ErrCapacity) {
		t.Fatalf("di on a full host with a full queue: %v, want ErrCapacity", err)
	}
	metric(1, "ckalab_queue_length")
	if w := sample(t, reg, "ckalab_queue_oldest_wait_seconds"); w < 0 || w > 60 {
		t.Fatalf("metric ckalab_queue_oldest_wait_seconds = %v", w)
	}
	time.Sleep(2 * time.Second)
	if got, _ := e.st.Environment(ctx, c.ID); got.State != store.EnvRequested {
		t.Fatalf("cy's request left the queue on a full host: %s", got.State)
	}

	// The reaper deletes Ana's environment once it expires; Cy gets the slot.
	if _, err := e.st.ExtendEnvironment(ctx, a.ID, -2*time.Hour, 0); err != nil {
		t.Fatal(err)
	}
	e.waitState(a.ID, store.EnvDeleted, 2*time.Minute)
	if all, _ := e.cm.Summaries(ctx); all[a.ClusterName] != nil {
		t.Fatalf("expired cluster %s still exists", a.ClusterName)
	}
	if err := exec.Command("docker", "network", "inspect", cluster.NetworkOf(a.ClusterName)).Run(); err == nil {
		t.Fatalf("network of %s not removed", a.ClusterName)
	}
	c = e.waitState(c.ID, store.EnvInUse, 4*time.Minute)
	metric(0, "ckalab_queue_length")
	metric(1, "ckalab_queue_wait_seconds", "request", "student")
	eventually(1, "ckalab_claim_duration_seconds", "source", "cold")
	if n := sample(t, reg, "ckalab_cluster_create_duration_seconds", "topology", "1cp"); n < 3 {
		t.Fatalf("clusters created: %v, want at least 3 (pool, refill, cold)", n)
	}
	if !hasPhases(t, e, c.ID, "queued", "provisioning", "creating nodes", "kubeadm init", "network", "cluster ready", "lab setup", "ready") {
		t.Fatal("events of a cold start")
	}

	// Two minutes after its thaw, Bo's cluster (the thawed warm one) has stayed settled: its node
	// Ready without the node controller's taints, no pod evicted or failed.
	time.Sleep(time.Until(thawedAt.Add(2 * time.Minute)))
	if out, err := e.cm.Exec(ctx, b.ClusterName, b.Nodes[0].Name, nil, "sh", "-c", `export KUBECONFIG=/etc/kubernetes/admin.conf
kubectl get nodes -o json | jq -r '.items[] | "\(.metadata.name) ready=\(.status.conditions[] | select(.type=="Ready") | .status) taints=\([.spec.taints[]?.key] | join(","))"'
kubectl get pods -A -o json | jq -r '.items[] | select(.status.phase != "Running" and .status.phase != "Succeeded") | "pod \(.metadata.namespace)/\(.metadata.name) \(.status.phase) \(.status.reason // "")"'`); err != nil ||
		!strings.Contains(string(out), "ready=True") || strings.Contains(string(out), "node.kubernetes.io/") || strings.Contains(string(out), "pod ") {
		t.Fatalf("two minutes after the thaw: %v\n%s", err, out)
	}

	// Restart: stop the provisioner; behind its back remove Bo's cluster and
	// leave an orphan; a new provisioner fails Bo's environment, deletes the
	// orphan and keeps Cy's environment usable.
	stop()
	if err := e.cm.Delete(ctx, b.ClusterName); err != nil {
		t.Fatal(err)
	}
	orphan := prefix + "orphan"
	if out, err := exec.Command("docker", "create", "--label", "io.x-k8s.kind.cluster="+orphan, "--label", "io.x-k8s.kind.role=control-plane",
		"--name", orphan+"-control-plane", "ckalab/node:v"+version).CombinedOutput(); err != nil {
		t.Fatalf("orphan: %v %s", err, out)
	}
	e.cfg.Pools = nil // nothing to create while the test winds down
	stop = e.run()
	defer stop()
	bGone := e.waitState(b.ID, store.EnvFailed, time.Minute)
	if !strings.Contains(bGone.Failure, "disappeared") {
		t.Fatalf("bo's failure reason: %q", bGone.Failure)
	}
	eventually(1, "ckalab_environments_failed_total", "reason", "cluster_lost")
	e.wait("orphan swept", time.Minute, func() (bool, error) {
		all, err := e.cm.Summaries(ctx)
		return all[orphan] == nil, err
	})
	if got, _ := e.st.Environment(ctx, c.ID); got.State != store.EnvInUse {
		t.Fatalf("cy's environment after restart: %s %s", got.State, got.Failure)
	}
	if _, err := e.cm.Exec(ctx, c.ClusterName, c.Nodes[0].Name, nil, "kubectl", "--kubeconfig=/etc/kubernetes/admin.conf", "get", "namespace", "lab-pods"); err != nil {
		t.Fatalf("cy's cluster after restart: %v", err)
	}
	// Disk: Cy fills /var. Below the engine's free-disk floor (here: any
	// host is below it) the running environment holding the most is
	// stopped with the reason, and its cluster deleted at once.
	if _, err := e.cm.Exec(ctx, c.ClusterName, c.Nodes[0].Name, nil, "sh", "-c", "head -c 300M /dev/zero > /var/tmp/fill"); err != nil {
		t.Fatal(err)
	}
	full := e.cfg
	full.MinFreeDisk = 1 << 60
	if err := provision.New(full, e.log, e.st, e.cm, nil).CheckDisk(ctx); err != nil {
		t.Fatal(err)
	}
	cGone, _ := e.st.Environment(ctx, c.ID)
	if cGone.State != store.EnvFailed || !strings.Contains(cGone.Failure, "out of disk") {
		t.Fatalf("cy's environment after filling the disk: %s %q", cGone.State, cGone.Failure)
	}
	metric(1, "ckalab_environments_failed_total", "reason", "disk")
	boundedLabels(t, reg)
	if all, err := e.cm.Summaries(ctx); err != nil || all[c.ClusterName] != nil {
		t.Fatalf("cy's cluster still there after the disk stop: %v", err)
	}
}

// hasPhases says whether an environment's events hold these phases in
// this order, and logs them when not.
func hasPhases(t *testing.T, e *env, id uuid.UUID, want ...string) bool {
	t.Helper()
	events, _ := e.st.EnvEvents(e.ctx, id, 0)
	var phases []string
	for _, ev := range events {
		phases = append(phases, ev.Phase)
	}
	i := 0
	for _, p := range phases {
		if i < len(want) && p == want[i] {
			i++
		}
	}
	if i < len(want) {
		t.Logf("events %v lack %v in order", phases, want[i:])
	}
	return i == len(want)
}

// checkThroughServer presses Check on the student's environment a through
// the HTTP server and the real grader, then reads /metrics as Prometheus
// would: the Check's outcome and time beside the provisioner's series.
func checkThroughServer(t *testing.T, ctx context.Context, e *env, reg *prometheus.Registry, a store.Environment) {
	t.Helper()
	lab := &labs.Lab{ID: a.LabID, Tasks: []labs.Task{{ID: "ns", Weight: 1, Checks: []labs.Check{{ID: "exists",
		Spec: &labs.ResourceCheck{APIVersion: "v1", Kind: "Namespace", Name: "lab-" + a.LabID}}}}}}
	g := grader.New(e.log)
	p := e.provisioner()
	srv := server.New(config.Config{SessionTTL: time.Hour, LoginRateLimit: 5, ShutdownGrace: time.Second}, e.log, server.Deps{
		Store: e.st, Metrics: reg, Labs: []*labs.Lab{lab}, Envs: p,
		Grade: func(ctx context.Context, l *labs.Lab, env store.Environment) grader.Report {
			return g.Grade(ctx, l, grader.Target{Kubeconfig: []byte(env.Kubeconfig), Nodes: map[string]string{"control-plane": env.Nodes[0].Name},
				Exec: e.cm.In(env.ClusterName)})
		},
	})
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	hash, err := auth.HashPassword(ctx, "password-of-the-student")
	if err != nil {
		t.Fatal(err)
	}
	u, err := e.st.UserByID(ctx, a.UserID.UUID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.Pool().Exec(ctx, `UPDATE users SET password_hash = $2 WHERE id = $1`, u.ID, hash); err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 3 * time.Minute}
	post := func(path, csrf string, body string) map[string]any {
		t.Helper()
		r, _ := http.NewRequestWithContext(ctx, "POST", ts.URL+path, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("X-CSRF-Token", csrf)
		resp, err := hc.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST %s: %d %v", path, resp.StatusCode, out)
		}
		return out
	}
	login := post("/api/v1/auth/login", "", fmt.Sprintf(`{"email": %q, "password": "password-of-the-student"}`, u.Email))
	csrf, _ := login["csrfToken"].(string)
	run, _ := post("/api/v1/environments/"+a.ID.String()+"/check", csrf, `{}`)["run"].(map[string]any)
	if run["score"] != 1.0 {
		t.Fatalf("Check on the real cluster: %v", run)
	}
	// Asleep (nobody used it), the environment is woken by the next Check.
	if err := p.Sleep(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if all, _ := e.cm.Summaries(ctx); all[a.ClusterName].Paused != all[a.ClusterName].Nodes {
		t.Fatalf("asleep, but Docker has %+v", all[a.ClusterName])
	}
	t0 := time.Now()
	run, _ = post("/api/v1/environments/"+a.ID.String()+"/check", csrf, `{}`)["run"].(map[string]any)
	if run["score"] != 1.0 || !hasPhases(t, e, a.ID, "asleep", "waking", "awake") {
		t.Fatalf("Check on a sleeping cluster: %v", run)
	}
	t.Logf("BENCH Check on a sleeping 1-node cluster (wake included): %s", time.Since(t0).Round(10*time.Millisecond))
	if all, _ := e.cm.Summaries(ctx); all[a.ClusterName].Paused != 0 {
		t.Fatalf("awake, but Docker has %+v", all[a.ClusterName])
	}
	if got := sample(t, reg, "ckalab_checks_total", "outcome", "passed"); got != 2 {
		t.Fatalf("metric ckalab_checks_total{outcome=passed} = %v", got)
	}
	if got := sample(t, reg, "ckalab_grade_duration_seconds"); got != 2 {
		t.Fatalf("metric ckalab_grade_duration_seconds count = %v", got)
	}
	resp, err := http.Get(ts.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var shown []string
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "ckalab_") && !strings.HasPrefix(line, "ckalab_http_") && !strings.Contains(line, "_bucket{") {
			shown = append(shown, line)
		}
	}
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `ckalab_pool_ready{topology="1cp"}`) {
		t.Fatalf("/metrics: %d %.500s", resp.StatusCode, b)
	}
	t.Logf("/metrics after a warm claim and a Check:\n%s", strings.Join(shown, "\n"))
}

func open(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), slog.New(slog.NewTextHandler(io.Discard, nil)), pgtest.New(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return st
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
