package provision_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
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

func (f *fakeBackend) Exec(context.Context, string, string, io.Reader, ...string) ([]byte, error) {
	return nil, nil
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
	runCtx, stopRun := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(runCtx) }()
	defer func() { stopRun(); <-done }()

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
