package provision_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ckalab/ckalab/cluster"
	clusterimages "github.com/ckalab/ckalab/cluster-images"
	"github.com/ckalab/ckalab/pgserver/pgtest"
	"github.com/ckalab/ckalab/provision"
	"github.com/ckalab/ckalab/store"
)

// BenchmarkWarmClaim measures a student's Start on a warm cluster until
// the environment is in use: the claim in PostgreSQL, the setup worker
// waking, a one-call lab setup (kubectl create namespace) on a real
// 2-node cluster, and the start. Reports p50 and p95.
//
//	go test -run '^$' -bench WarmClaim -benchtime 20x ./provision
func BenchmarkWarmClaim(b *testing.B) {
	if testing.Short() {
		b.Skip("needs Docker and the node images")
	}
	ctx := context.Background()
	version := clusterimages.KubernetesVersion()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cm := cluster.New(log, b.TempDir())
	name := fmt.Sprintf("ckbench%d", time.Now().UnixNano()%10000)
	c, err := cm.Create(ctx, cluster.Spec{Name: name, Image: "ckalab/node:v" + version, Workers: 1, WaitReady: 3 * time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cm.Delete(context.Background(), name) })
	st, err := store.Open(ctx, log, pgtest.New(b))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	nodes := make([]store.EnvNode, len(c.Nodes))
	for i, n := range c.Nodes {
		nodes[i] = store.EnvNode{Name: n.Name, Role: n.Role, IP: n.IP}
	}
	nodesJSON, _ := json.Marshal(nodes)
	setup := func(ctx context.Context, env store.Environment) error {
		_, err := cm.Exec(ctx, env.ClusterName, env.Nodes[0].Name, nil, "kubectl", "--kubeconfig=/etc/kubernetes/admin.conf", "create", "namespace", "lab-"+env.ID.String()[:8])
		return err
	}
	p := provision.New(provision.Config{Prefix: "ckbench-none-", NodeImage: "ckalab/node", StateDir: b.TempDir(),
		MaxLive: 1000, MaxPerUser: 1, CreateTimeout: time.Minute, OrphanGrace: time.Hour, Poll: time.Second}, log, st, cm, setup)
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	go func() { _ = p.Run(runCtx) }()
	<-p.Reconciled()

	var took []time.Duration
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		// Each claim gets its own warm row; all of them point at the one real cluster.
		_, err := st.Pool().Exec(ctx, `INSERT INTO environments (id, state, topology, k8s_version, cluster_name, kubeconfig, nodes, pooled, ready_at)
			VALUES ($1, 'ready', '1cp-1w', $2, $3, 'kubeconfig', $4, true, now())`, uuid.New(), version, fmt.Sprintf("%s-%d", name, i), nodesJSON)
		if err != nil {
			b.Fatal(err)
		}
		u, err := st.CreateUser(ctx, fmt.Sprintf("s%d@example.com", i), "s", store.RoleStudent, "hash")
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		e, err := p.Start(ctx, provision.StartRequest{UserID: u.ID, LabID: "bench", Topology: provision.Topology{Workers: 1}, Version: version, TimeLimit: time.Hour})
		if err != nil || e.State != store.EnvReady {
			b.Fatalf("claim %d: %+v %v", i, e, err)
		}
		for {
			got, err := st.Environment(ctx, e.ID)
			if err != nil {
				b.Fatal(err)
			}
			if got.State == store.EnvInUse {
				break
			}
			if got.State == store.EnvFailed {
				b.Fatalf("claim %d failed: %s", i, got.Failure)
			}
			time.Sleep(2 * time.Millisecond)
		}
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Milliseconds()), "p50-ms")
	b.ReportMetric(float64(took[(len(took)*95+99)/100-1].Milliseconds()), "p95-ms")
}

// BenchmarkDensity fills a host with CKALAB_DENSITY (default 16) idle
// 2-node warm clusters, CKALAB_DENSITY_HOT (default 4) of them running and
// the rest paused, with ckalab serve's node limits, then measures: the
// host's load and free memory when all are idle, kubectl latency on the
// running ones, claims of running and of frozen clusters (Start → in use,
// one-call lab setup), a sleeping student's wake, and a cold create beside
// them all.
//
//	go test -run '^$' -bench Density -benchtime 1x -timeout 90m -v ./provision
func BenchmarkDensity(b *testing.B) {
	if testing.Short() {
		b.Skip("needs Docker and the node images")
	}
	n, hot := envInt("CKALAB_DENSITY", 16), envInt("CKALAB_DENSITY_HOT", 4)
	ctx := context.Background()
	version := clusterimages.KubernetesVersion()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cm := cluster.New(log, b.TempDir())
	prefix := fmt.Sprintf("ckdens%d-", time.Now().UnixNano()%10000)
	// The host's limits besides CPU (docs/benchmarks.md): disk for every
	// node's /var volume and root's inotify instances, shared by all nodes.
	if free, err := cm.FreeDisk(ctx); err == nil && free < int64(n+4)*2<<30 {
		b.Fatalf("%.0f GiB free on the engine's disk; %d clusters and the claims beside them need about %d", float64(free)/(1<<30), n, (n+4)*2)
	}
	if raw, err := os.ReadFile("/proc/sys/fs/inotify/max_user_instances"); err == nil {
		if have, _ := strconv.Atoi(strings.TrimSpace(string(raw))); have < 64+(n+4)*2*24 {
			b.Fatalf("fs.inotify.max_user_instances=%d is too few for %d clusters: sysctl -w fs.inotify.max_user_instances=8192", have, n)
		}
	}
	b.Cleanup(func() {
		all, _ := cm.Summaries(context.Background())
		for name := range all {
			if strings.HasPrefix(name, prefix) {
				_ = cm.Unpause(context.Background(), name)
				_ = cm.Delete(context.Background(), name)
			}
		}
	})
	st, err := store.Open(ctx, log, pgtest.New(b))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	setup := func(ctx context.Context, env store.Environment) error {
		_, err := cm.Exec(ctx, env.ClusterName, env.Nodes[0].Name, nil, "kubectl", "--kubeconfig=/etc/kubernetes/admin.conf", "create", "namespace", "lab-bench")
		return err
	}
	cfg := provision.Config{Prefix: prefix, NodeImage: "ckalab/node", StateDir: b.TempDir(),
		Pools:   []provision.Pool{{Topology: provision.Topology{Workers: 1}, Version: version, Size: n, Hot: hot}},
		MaxLive: n + 2, MaxPerUser: 1, MaxQueue: 20, Memory: "2g", CPUs: "1", Pids: 4096,
		CreateTimeout: 6 * time.Minute, OrphanGrace: time.Hour, Poll: time.Second, FreezePool: true}
	var p *provision.Provisioner
	stop := func() {}
	run := func() {
		stop()
		p = provision.New(cfg, log, st, cm, setup)
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { _ = p.Run(runCtx); close(done) }()
		stop = func() { cancel(); <-done }
	}
	run()
	defer func() { stop() }()

	start := time.Now()
	for b.Loop() {
		for last := -1; ; time.Sleep(5 * time.Second) {
			ready, err := st.EnvironmentsIn(ctx, store.EnvReady)
			if err != nil {
				b.Fatal(err)
			}
			paused := 0
			for _, e := range ready {
				if e.PausedAt != nil {
					paused++
				}
			}
			if len(ready) != last {
				b.Logf("DENSITY %s: %d warm clusters, %d paused; %s", time.Since(start).Round(time.Second), len(ready), paused, hostLoad())
				last = len(ready)
			}
			if len(ready) == n && paused == n-hot {
				break
			}
			if time.Since(start) > 60*time.Minute {
				b.Fatalf("pool not full after an hour: %d ready", len(ready))
			}
		}
		time.Sleep(2 * time.Minute)
		b.Logf("DENSITY all idle, 2 min on: %s; CPU busy over 60 s: %.0f%% of all cores", hostLoad(), hostBusy(time.Minute))
		ready, _ := st.EnvironmentsIn(ctx, store.EnvReady)
		var lat []time.Duration
		for _, e := range ready {
			if e.PausedAt != nil {
				continue
			}
			for range 10 {
				t0 := time.Now()
				if _, err := cm.Exec(ctx, e.ClusterName, e.Nodes[0].Name, nil, "kubectl", "--kubeconfig=/etc/kubernetes/admin.conf", "get", "nodes"); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t0))
			}
		}
		b.Logf("DENSITY kubectl get nodes on the running clusters: %s", percentiles(lat))
		claim := func(i int, topo provision.Topology) time.Duration {
			u, err := st.CreateUser(ctx, fmt.Sprintf("d%d@example.com", i), "s", store.RoleStudent, "hash")
			if err != nil {
				b.Fatal(err)
			}
			t0 := time.Now()
			e, err := p.Start(ctx, provision.StartRequest{UserID: u.ID, LabID: "bench", Topology: topo, Version: version, TimeLimit: time.Hour})
			if err != nil {
				b.Fatal(err)
			}
			for {
				got, err := st.Environment(ctx, e.ID)
				if err != nil || got.State == store.EnvFailed {
					b.Fatalf("claim %d: %v %s", i, err, got.Failure)
				}
				if got.State == store.EnvInUse {
					return time.Since(t0)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
		// Claims 15 s apart: each takes a running cluster while a frozen one thaws in its place.
		var hotClaims, frozenClaims []time.Duration
		for i := range hot {
			hotClaims = append(hotClaims, claim(i, provision.Topology{Workers: 1}))
			time.Sleep(15 * time.Second)
		}
		b.Logf("DENSITY claims 15 s apart (a running warm cluster each): %s", percentiles(hotClaims))
		// From here no refills: a provisioner without pools, the queued ones dropped.
		cfg.Pools, cfg.MaxLive = nil, n+10
		run()
		if _, err := st.Pool().Exec(ctx, `UPDATE environments SET state = 'deleted' WHERE pooled AND state = 'requested'`); err != nil {
			b.Fatal(err)
		}
		for {
			busy, _ := st.EnvironmentsIn(ctx, store.EnvProvisioning)
			if len(busy) == 0 {
				break
			}
			time.Sleep(2 * time.Second)
		}
		// A rush: claims back to back take the running clusters, then thaw frozen ones.
		for i := range hot + 2 {
			frozenClaims = append(frozenClaims, claim(100+i, provision.Topology{Workers: 1}))
		}
		b.Logf("DENSITY %d claims back to back (running clusters first, then frozen ones): %v", hot+2, frozenClaims)
		// A student who left an hour ago... here two minutes: asleep, then woken by their page.
		inUse, _ := st.EnvironmentsIn(ctx, store.EnvInUse)
		if err := p.Sleep(ctx, inUse[0].ID); err != nil {
			b.Fatal(err)
		}
		time.Sleep(2 * time.Minute)
		took, err := p.Wake(ctx, inUse[0].ID)
		b.Logf("DENSITY a student's cluster asleep for 2 min wakes in %s (%v)", took.Round(10*time.Millisecond), err)
		// A cold create beside them all (a topology the pool does not keep).
		b.Logf("DENSITY cold create (1 node) beside %d clusters: %s; %s", n, claim(200, provision.Topology{}).Round(100*time.Millisecond), hostLoad())
	}
}

func envInt(key string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(key)); err == nil {
		return v
	}
	return def
}

// hostLoad is the load average and free memory.
func hostLoad() string {
	load, _ := os.ReadFile("/proc/loadavg")
	mem, _ := os.ReadFile("/proc/meminfo")
	avail := ""
	for _, l := range strings.Split(string(mem), "\n") {
		if strings.HasPrefix(l, "MemAvailable:") {
			kb, _ := strconv.Atoi(strings.Fields(l)[1])
			avail = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
		}
	}
	return fmt.Sprintf("load %s, MemAvailable %s", strings.Join(strings.Fields(string(load))[:3], " "), avail)
}

// hostBusy is the share of all cores busy (not idle, not iowait) over d.
func hostBusy(d time.Duration) float64 {
	read := func() (busy, all uint64) {
		raw, _ := os.ReadFile("/proc/stat")
		line, _, _ := strings.Cut(string(raw), "\n")
		for i, f := range strings.Fields(line)[1:] {
			v, _ := strconv.ParseUint(f, 10, 64)
			all += v
			if i != 3 && i != 4 {
				busy += v
			}
		}
		return
	}
	b0, a0 := read()
	time.Sleep(d)
	b1, a1 := read()
	return 100 * float64(b1-b0) / float64(a1-a0)
}

// percentiles writes p50, p95 and the worst of durations.
func percentiles(d []time.Duration) string {
	if len(d) == 0 {
		return "none"
	}
	slices.Sort(d)
	return fmt.Sprintf("p50 %s, p95 %s, worst %s (%d)", d[len(d)/2].Round(time.Millisecond), d[(len(d)*95+99)/100-1].Round(time.Millisecond), d[len(d)-1].Round(time.Millisecond), len(d))
}
