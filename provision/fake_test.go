package provision_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ckalab/ckalab/cluster"
	"github.com/ckalab/ckalab/provision"
	"github.com/ckalab/ckalab/store"
)

// fakeBackend keeps clusters in memory; creating one named in failNames fails.
type fakeBackend struct {
	mu        sync.Mutex
	clusters  map[string]*cluster.Summary
	deleted   []string
	failNames map[string]bool
	failAll   bool
	// execDelay slows Exec (the wake check); execs, maxExecs count Execs
	// running at once.
	execDelay       time.Duration
	execs, maxExecs int
}

func (f *fakeBackend) Create(_ context.Context, spec cluster.Spec) (*cluster.Cluster, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failAll {
		return nil, errors.New("kubeadm init: timed out waiting for the control plane")
	}
	f.clusters[spec.Name] = &cluster.Summary{Name: spec.Name, Created: time.Now(), Nodes: 1 + spec.Workers, Running: 1 + spec.Workers}
	c := &cluster.Cluster{Name: spec.Name, Kubeconfig: []byte("kubeconfig-of-" + spec.Name),
		Nodes: []cluster.Node{{Name: spec.Name + "-control-plane", Role: "control-plane", IP: "10.0.0.2"}}}
	for range spec.Workers {
		c.Nodes = append(c.Nodes, cluster.Node{Name: spec.Name + "-worker", Role: "worker", IP: "10.0.0.3"})
	}
	return c, nil
}

func (f *fakeBackend) Get(context.Context, string) (*cluster.Cluster, error) {
	return nil, cluster.ErrNotFound
}

func (f *fakeBackend) Delete(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.clusters, name)
	f.deleted = append(f.deleted, name)
	return nil
}

func (f *fakeBackend) Pause(_ context.Context, name string) error   { return f.freeze(name, true) }
func (f *fakeBackend) Unpause(_ context.Context, name string) error { return f.freeze(name, false) }

func (f *fakeBackend) freeze(name string, paused bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.clusters[name]
	if c == nil {
		return cluster.ErrNotFound
	}
	c.Paused = 0
	if paused {
		c.Paused = c.Nodes
	}
	return nil
}

func (f *fakeBackend) paused(name string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.clusters[name] != nil && f.clusters[name].Paused > 0
}

func (f *fakeBackend) Summaries(context.Context) (map[string]*cluster.Summary, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]*cluster.Summary{}
	for k, v := range f.clusters {
		c := *v
		out[k] = &c
	}
	return out, nil
}

// Exec answers as a settled cluster does (the wake check), unless paused.
func (f *fakeBackend) Exec(_ context.Context, name, _ string, _ io.Reader, _ ...string) ([]byte, error) {
	if f.paused(name) {
		return nil, errors.New("container is paused")
	}
	f.mu.Lock()
	f.execs++
	f.maxExecs = max(f.maxExecs, f.execs)
	delay := f.execDelay
	f.mu.Unlock()
	time.Sleep(delay)
	f.mu.Lock()
	f.execs--
	f.mu.Unlock()
	return []byte("settled"), nil
}

func (f *fakeBackend) Probe(context.Context, string, string, ...string) ([]byte, error) {
	return nil, errors.New("no probes in the fake")
}

func (f *fakeBackend) ReadFile(context.Context, string, string, string, int64) ([]byte, error) {
	return nil, errors.New("no files in the fake")
}

func (f *fakeBackend) Shell(context.Context, string, string, string, uint16, uint16) (*cluster.Shell, error) {
	return nil, errors.New("no shells in the fake")
}

func (f *fakeBackend) Ready(context.Context, string) error { return nil }

func (f *fakeBackend) DiskUsage(context.Context) (map[string]int64, error) {
	return map[string]int64{}, nil
}

func (f *fakeBackend) FreeDisk(context.Context) (int64, error) { return 1 << 40, nil }

func (f *fakeBackend) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.clusters)
}

// The lifecycle without Docker: a queued request is created, set up and
// started; Stop deletes its cluster; a failed create leaves a reason and
// no cluster; capacity holds requests back.
func TestProvisionerLifecycleWithAFakeBackend(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	fb := &fakeBackend{clusters: map[string]*cluster.Summary{}}
	e := &env{t: t, ctx: ctx, st: open(t), setup: map[uuid.UUID]bool{}, log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		cfg: provision.Config{Prefix: "fake-", NodeImage: "ckalab/node", StateDir: t.TempDir(), MaxLive: 1, MaxPerUser: 1, MaxQueue: 5,
			CreateTimeout: time.Minute, OrphanGrace: time.Hour, Poll: 50 * time.Millisecond}}
	var setups sync.Map
	p := provision.New(e.cfg, e.log, e.st, fb, func(_ context.Context, env store.Environment) error {
		setups.Store(env.ID, true)
		return nil
	})
	runFake(t, ctx, p)

	ana, bo := e.user("ana"), e.user("bo")
	req := func(u uuid.UUID) provision.StartRequest {
		return provision.StartRequest{UserID: u, LabID: "pods", Topology: provision.Topology{Workers: 1}, Version: "1.34.4", TimeLimit: time.Hour}
	}
	a, err := p.Start(ctx, req(ana))
	if err != nil || a.State != store.EnvRequested {
		t.Fatalf("start: %+v %v", a, err)
	}
	b, err := p.Start(ctx, req(bo))
	if err != nil || b.State != store.EnvRequested {
		t.Fatalf("second start: %+v %v", b, err)
	}
	a = e.waitState(a.ID, store.EnvInUse, 10*time.Second)
	if _, ok := setups.Load(a.ID); !ok || len(a.Nodes) != 2 || a.Kubeconfig != "kubeconfig-of-"+a.ClusterName {
		t.Fatalf("in use without setup or nodes: %+v", a)
	}
	// One slot: bo waits while ana holds it.
	time.Sleep(300 * time.Millisecond)
	if got, _ := e.st.Environment(ctx, b.ID); got.State != store.EnvRequested || fb.count() != 1 {
		t.Fatalf("bo past capacity: %s, %d clusters", got.State, fb.count())
	}
	if err := p.Stop(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	e.waitState(a.ID, store.EnvDeleted, 10*time.Second)
	b = e.waitState(b.ID, store.EnvInUse, 10*time.Second)

	// A create that fails leaves its reason and no cluster.
	if err := p.Stop(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	e.waitState(b.ID, store.EnvDeleted, 10*time.Second)
	fb.mu.Lock()
	fb.failAll = true
	fb.mu.Unlock()
	cy := e.user("cy")
	c, err := p.Start(ctx, req(cy))
	if err != nil {
		t.Fatal(err)
	}
	c = e.waitState(c.ID, store.EnvFailed, 10*time.Second)
	if c.Failure == "" || fb.count() != 0 {
		t.Fatalf("failed create: reason %q, %d clusters left", c.Failure, fb.count())
	}
}

// Pausing without Docker: the warm pool keeps Hot clusters running and
// freezes the rest; a claim takes a running one and a frozen one is
// thawed in its place; a student's environment nobody uses sleeps, and
// Wake brings it back, once, however many callers wait.
func TestSleepAndWakeWithAFakeBackend(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	fb := &fakeBackend{clusters: map[string]*cluster.Summary{}}
	e := &env{t: t, ctx: ctx, st: open(t), setup: map[uuid.UUID]bool{}, log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		cfg: provision.Config{Prefix: "fake-", NodeImage: "ckalab/node", StateDir: t.TempDir(), MaxLive: 4, MaxPerUser: 1, MaxQueue: 5,
			Pools:         []provision.Pool{{Topology: provision.Topology{Workers: 1}, Version: "1.34.4", Size: 3, Hot: 1}},
			CreateTimeout: time.Minute, OrphanGrace: time.Hour, Poll: 50 * time.Millisecond,
			FreezePool: true, SleepAfter: 2 * time.Second, WakeSettle: 10 * time.Millisecond}}
	p := provision.New(e.cfg, e.log, e.st, fb, nil)
	runFake(t, ctx, p)

	// Docker and the database agree once nothing is being paused or woken.
	hotAndFrozen := func() (hot, frozen []store.Environment, agree bool) {
		agree = true
		for _, r := range e.pooledReady() {
			agree = agree && (r.PausedAt != nil) == fb.paused(r.ClusterName)
			if r.PausedAt == nil {
				hot = append(hot, r)
			} else {
				frozen = append(frozen, r)
			}
		}
		return hot, frozen, agree
	}
	settled := func(what string) []store.Environment {
		var hot []store.Environment
		e.wait(what, 10*time.Second, func() (bool, error) {
			h, f, agree := hotAndFrozen()
			hot = h
			return len(h) == 1 && len(f) == 2 && agree, nil
		})
		return hot
	}
	hot := settled("pool of 3: 1 running, 2 frozen")
	a, err := p.Start(ctx, provision.StartRequest{UserID: e.user("ana"), LabID: "pods", Topology: provision.Topology{Workers: 1}, Version: "1.34.4", TimeLimit: time.Hour})
	if err != nil || a.ID != hot[0].ID {
		t.Fatalf("the claim took %v (%v), want the running warm cluster %v", a.ID, err, hot[0].ID)
	}
	a = e.waitState(a.ID, store.EnvInUse, 10*time.Second)
	settled("after a claim: a frozen one thawed, a new one frozen")

	// Ana leaves: her environment falls asleep after SleepAfter.
	e.wait("ana's environment asleep", 10*time.Second, func() (bool, error) {
		got, err := e.st.Environment(ctx, a.ID)
		return got.PausedAt != nil && fb.paused(a.ClusterName), err
	})
	var wg sync.WaitGroup
	tooks := make(chan time.Duration, 3)
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			took, err := p.Wake(ctx, a.ID)
			if err != nil {
				t.Error(err)
			}
			tooks <- took
		}()
	}
	wg.Wait()
	close(tooks)
	woke := 0
	for d := range tooks {
		if d > 0 {
			woke++
		}
	}
	if got, _ := e.st.Environment(ctx, a.ID); woke != 1 || got.PausedAt != nil || fb.paused(a.ClusterName) {
		t.Fatalf("three Wakes: %d thawed, paused %v / %v; want one thaw and an awake cluster", woke, got.PausedAt, fb.paused(a.ClusterName))
	}
	// Seen just now (woken): not put back to sleep at once.
	time.Sleep(time.Second)
	if got, _ := e.st.Environment(ctx, a.ID); got.PausedAt != nil {
		t.Fatal("put back to sleep right after waking")
	}
	// An open page keeps it awake past SleepAfter.
	for range 6 {
		if err := e.st.SeeEnvironment(ctx, a.ID); err != nil {
			t.Fatal(err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if got, _ := e.st.Environment(ctx, a.ID); got.PausedAt != nil {
		t.Fatal("slept while its page was open")
	}
	events, _ := e.st.EnvEvents(ctx, a.ID, 0)
	var phases []string
	for _, ev := range events {
		phases = append(phases, ev.Phase)
	}
	if s := strings.Join(phases, " "); !strings.Contains(s, "asleep waking awake") {
		t.Fatalf("events: %s", s)
	}
	// Stopping a sleeping environment deletes its cluster.
	if err := p.Sleep(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if err := p.Stop(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	e.waitState(a.ID, store.EnvDeleted, 10*time.Second)
}

// The CPU budget: with every running slot taken by warm clusters of
// another shape, a waiting student's request freezes one of them and is
// created; the freed slot is not taken back while the student uses theirs.
func TestActiveBudgetWithAFakeBackend(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	fb := &fakeBackend{clusters: map[string]*cluster.Summary{}}
	e := &env{t: t, ctx: ctx, st: open(t), setup: map[uuid.UUID]bool{}, log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		cfg: provision.Config{Prefix: "fake-", NodeImage: "ckalab/node", StateDir: t.TempDir(), MaxLive: 4, MaxActive: 2, MaxPerUser: 1, MaxQueue: 5,
			Pools:         []provision.Pool{{Topology: provision.Topology{Workers: 1}, Version: "1.34.4", Size: 2, Hot: 2}},
			CreateTimeout: time.Minute, OrphanGrace: time.Hour, Poll: 50 * time.Millisecond,
			FreezePool: true, WakeSettle: 10 * time.Millisecond}}
	p := provision.New(e.cfg, e.log, e.st, fb, nil)
	runFake(t, ctx, p)
	e.wait("two running warm clusters", 10*time.Second, func() (bool, error) { return len(e.pooledReady()) == 2, nil })
	a, err := p.Start(ctx, provision.StartRequest{UserID: e.user("ana"), LabID: "etcd", Topology: provision.Topology{}, Version: "1.34.4", TimeLimit: time.Hour})
	if err != nil || a.State != store.EnvRequested {
		t.Fatalf("start: %+v %v", a, err)
	}
	e.waitState(a.ID, store.EnvInUse, 10*time.Second)
	time.Sleep(500 * time.Millisecond)
	active, err := e.st.CountActive(ctx)
	pooled := e.pooledReady()
	paused := 0
	for _, r := range pooled {
		if r.PausedAt != nil && fb.paused(r.ClusterName) {
			paused++
		}
	}
	if err != nil || active != 2 || len(pooled) != 2 || paused != 1 {
		t.Fatalf("after the student's create: %d active (%v), %d warm of which %d paused; want 2, 2, 1", active, err, len(pooled), paused)
	}
}

// A rush on a frozen pool: claimed frozen clusters are thawed side by
// side, not one after another, and each then gets its lab setup.
func TestFrozenClaimsThawSideBySideWithAFakeBackend(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	fb := &fakeBackend{clusters: map[string]*cluster.Summary{}}
	e := &env{t: t, ctx: ctx, st: open(t), setup: map[uuid.UUID]bool{}, log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		cfg: provision.Config{Prefix: "fake-", NodeImage: "ckalab/node", StateDir: t.TempDir(), MaxLive: 3, MaxPerUser: 1, MaxQueue: 5,
			Pools:         []provision.Pool{{Topology: provision.Topology{Workers: 1}, Version: "1.34.4", Size: 3, Hot: 0}},
			CreateTimeout: time.Minute, OrphanGrace: time.Hour, Poll: 50 * time.Millisecond,
			FreezePool: true, WakeSettle: 10 * time.Millisecond}}
	var setups sync.Map
	p := provision.New(e.cfg, e.log, e.st, fb, func(_ context.Context, env store.Environment) error {
		if fb.paused(env.ClusterName) {
			return errors.New("lab setup on a paused cluster")
		}
		setups.Store(env.ID, true)
		return nil
	})
	runFake(t, ctx, p)
	e.wait("three frozen warm clusters", 10*time.Second, func() (bool, error) {
		n := 0
		for _, r := range e.pooledReady() {
			if r.PausedAt != nil && fb.paused(r.ClusterName) {
				n++
			}
		}
		return n == 3, nil
	})
	fb.mu.Lock()
	fb.execDelay = 400 * time.Millisecond
	fb.mu.Unlock()
	var ids []uuid.UUID
	for _, name := range []string{"ana", "bo", "cy"} {
		a, err := p.Start(ctx, provision.StartRequest{UserID: e.user(name), LabID: "pods", Topology: provision.Topology{Workers: 1}, Version: "1.34.4", TimeLimit: time.Hour})
		if err != nil || a.State != store.EnvReady {
			t.Fatalf("claim: %+v %v", a, err)
		}
		ids = append(ids, a.ID)
	}
	for _, id := range ids {
		got := e.waitState(id, store.EnvInUse, 10*time.Second)
		if _, ok := setups.Load(id); !ok || got.PausedAt != nil || fb.paused(got.ClusterName) {
			t.Fatalf("%s in use without setup, or still paused", id)
		}
	}
	fb.mu.Lock()
	defer fb.mu.Unlock()
	if fb.maxExecs < 2 {
		t.Fatalf("the three thaws ran one at a time (at most %d wake checks at once)", fb.maxExecs)
	}
}

// A restart during a creation: the next server deletes the half-made
// cluster and creates it again, so the student gets it without pressing
// anything; a creation cut short too often fails with the reason.
func TestRestartResumesCreationWithAFakeBackend(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	fb := &fakeBackend{clusters: map[string]*cluster.Summary{}}
	e := &env{t: t, ctx: ctx, st: open(t), setup: map[uuid.UUID]bool{}, log: slog.New(slog.NewTextHandler(testWriter{t}, nil)),
		cfg: provision.Config{Prefix: "fake-", NodeImage: "ckalab/node", StateDir: t.TempDir(), MaxLive: 2, MaxPerUser: 1, MaxQueue: 5,
			CreateTimeout: time.Minute, OrphanGrace: time.Hour, Poll: 50 * time.Millisecond}}
	// What a killed server leaves: rows in provisioning, half a cluster.
	cut := func(name string) store.Environment {
		r, err := e.st.RequestEnvironment(ctx, store.EnvRequest{UserID: uuid.NullUUID{UUID: e.user(name), Valid: true}, LabID: "pods",
			Topology: "1cp-1w", K8sVersion: "1.34.4", ClusterName: "fake-" + name, TimeLimit: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.st.Pool().Exec(ctx, `UPDATE environments SET state = 'provisioning' WHERE id = $1`, r.ID); err != nil {
			t.Fatal(err)
		}
		fb.mu.Lock()
		fb.clusters[r.ClusterName] = &cluster.Summary{Name: r.ClusterName, Created: time.Now(), Nodes: 1, Running: 1}
		fb.mu.Unlock()
		return r
	}
	ana, bo := cut("ana"), cut("bo")
	if _, err := e.st.Pool().Exec(ctx, `UPDATE environments SET restarts = 2 WHERE id = $1`, bo.ID); err != nil {
		t.Fatal(err)
	}
	p := provision.New(e.cfg, e.log, e.st, fb, nil)
	runFake(t, ctx, p)
	e.waitState(ana.ID, store.EnvInUse, 10*time.Second)
	if !hasPhases(t, e, ana.ID, "queued", "cluster ready", "ready") {
		t.Fatal("ana's resumed creation")
	}
	fb.mu.Lock()
	deleted := strings.Join(fb.deleted, " ")
	fb.mu.Unlock()
	if !strings.Contains(deleted, "fake-ana") || !strings.Contains(deleted, "fake-bo") {
		t.Fatalf("half-made clusters not deleted: %s", deleted)
	}
	gone := e.waitState(bo.ID, store.EnvFailed, 10*time.Second)
	if !strings.Contains(gone.Failure, "3 times") {
		t.Fatalf("bo's failure: %q", gone.Failure)
	}
}

// runFake runs p until the test ends.
func runFake(t *testing.T, ctx context.Context, p *provision.Provisioner) {
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(runCtx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("provisioner: %v", err)
		}
	})
}
