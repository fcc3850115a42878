// Package provision runs students' environments: it turns queued requests
// in PostgreSQL into kind clusters, keeps a warm pool per topology and
// version, runs lab setup on claimed clusters, expires and deletes them,
// and reconciles PostgreSQL with Docker when the server starts.
package provision

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/ckalab/ckalab/cluster"
	"github.com/ckalab/ckalab/store"
)

// Errors Start returns; the server maps them to clear answers.
var (
	ErrQuota    = errors.New("environment quota reached")
	ErrCapacity = errors.New("out of capacity")
)

// Pool is how many warm clusters of one shape to keep ready.
type Pool struct {
	Topology Topology
	Version  string // Kubernetes version, e.g. 1.34.4
	Size     int
	// Hot is how many of Size stay running when Config.FreezePool is on;
	// the others wait paused and take a thaw (about 10 s) when claimed.
	Hot int
}

// Config is the provisioner's settings.
type Config struct {
	Prefix    string // cluster names start with it; the sweep touches no others
	NodeImage string // repository; the tag is v<version>
	StateDir  string // per-cluster kind logs and kubeconfigs
	Pools     []Pool
	MaxLive   int // clusters on this host at once, pool included, paused or not
	// MaxActive bounds the clusters not paused (being created, in use,
	// warm and hot): what the host's CPU allows. 0: MaxLive alone.
	MaxActive  int
	MaxPerUser int // environments one user holds at once
	MaxQueue   int // requests waiting for capacity before Start refuses
	Memory     string
	CPUs       string
	Pids       int
	// CreateTimeout bounds one cluster's creation.
	CreateTimeout time.Duration
	// MinFreeDisk is the free space (bytes) the engine host's disk must keep;
	// below it the running environment using the most is stopped. 0: no watch.
	MinFreeDisk int64
	// OrphanGrace is how old a cluster without a row must be to be deleted.
	OrphanGrace time.Duration
	Poll        time.Duration // how often workers look for work without a wake-up
	// FreezePool pauses warm clusters beyond each pool's Hot count.
	FreezePool bool
	// SleepAfter pauses a student's environment nobody has used for that
	// long (no keystroke, Check, open page or terminal); 0 never does.
	SleepAfter time.Duration
	// WakeTimeout bounds the wait for a thawed cluster to settle;
	// WakeSettle is the least it waits: longer than the node controller's
	// 5 s monitor period, so that its first look after the thaw is over.
	WakeTimeout, WakeSettle time.Duration
	// Metrics records durations and failures; nil records nothing. One
	// Metrics may serve several provisioners on the same database.
	Metrics *Metrics
}

// Setup prepares a claimed cluster for its lab (the lab's setup steps).
type Setup func(ctx context.Context, env store.Environment) error

// Provisioner owns the environment lifecycle.
type Provisioner struct {
	cfg      Config
	log      *slog.Logger
	store    *store.Store
	clusters cluster.Backend
	setup    Setup

	wakeCreate, wakeSetup, wakeReap, wakeSleep chan struct{}
	thawing                                    sync.Map // environment ID → struct{}: claimed frozen clusters being thawed
	envLocks                                   sync.Map // environment ID → *sync.Mutex: pause and wake one at a time
	running                                    sync.WaitGroup
	reconciled                                 chan struct{}
	lastSweep                                  time.Time // reap worker only
}

// sweepEvery is how often the reaper looks for stray clusters.
const sweepEvery = time.Minute

// Reconciled is closed once Run has reconciled PostgreSQL with Docker and
// its workers are starting.
func (p *Provisioner) Reconciled() <-chan struct{} { return p.reconciled }

// New returns a provisioner; call Run to start its workers.
func New(cfg Config, log *slog.Logger, st *store.Store, clusters cluster.Backend, setup Setup) *Provisioner {
	if cfg.Poll == 0 {
		cfg.Poll = 2 * time.Second
	}
	if cfg.MaxQueue == 0 {
		cfg.MaxQueue = cfg.MaxLive
	}
	if cfg.WakeTimeout == 0 {
		cfg.WakeTimeout = time.Minute
	}
	if cfg.WakeSettle == 0 {
		cfg.WakeSettle = 6 * time.Second
	}
	return &Provisioner{
		cfg: cfg, log: log, store: st, clusters: clusters, setup: setup,
		wakeCreate: make(chan struct{}, 1), wakeSetup: make(chan struct{}, 1), wakeReap: make(chan struct{}, 1),
		wakeSleep: make(chan struct{}, 1), reconciled: make(chan struct{}),
	}
}

func wake(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// Run reconciles PostgreSQL with Docker, then runs the create, setup and
// reap workers until ctx ends.
func (p *Provisioner) Run(ctx context.Context) error {
	if err := p.Reconcile(ctx); err != nil {
		return fmt.Errorf("reconcile: %w", err)
	}
	close(p.reconciled)
	workers := []struct {
		name string
		ch   chan struct{}
		step func(context.Context) (bool, error)
	}{
		{"create", p.wakeCreate, p.createStep},
		{"setup", p.wakeSetup, p.setupStep},
		{"reap", p.wakeReap, p.reapStep},
		{"sleep", p.wakeSleep, p.sleepStep},
	}
	for _, w := range workers {
		p.running.Add(1)
		go func() {
			defer p.running.Done()
			p.loop(ctx, w.name, w.ch, w.step)
		}()
	}
	p.running.Add(1)
	go func() {
		defer p.running.Done()
		p.diskLoop(ctx)
	}()
	<-ctx.Done()
	p.running.Wait()
	return nil
}

// loop runs step until it finds nothing to do, then waits for a wake-up
// or the poll interval.
func (p *Provisioner) loop(ctx context.Context, name string, ch chan struct{}, step func(context.Context) (bool, error)) {
	for ctx.Err() == nil {
		did, err := step(ctx)
		if err != nil && ctx.Err() == nil {
			p.log.Error("provisioner step failed", "worker", name, "err", err)
		}
		if did && err == nil {
			continue
		}
		select {
		case <-ctx.Done():
		case <-ch:
		case <-time.After(p.cfg.Poll):
		}
	}
}

// StartRequest is a student's Start on a lab.
type StartRequest struct {
	UserID    uuid.UUID
	LabID     string
	CohortID  uuid.NullUUID
	Topology  Topology
	Version   string
	TimeLimit time.Duration // the lab's duration plus grace
}

// Start gives the user an environment for the lab: the one they already
// have, a warm cluster from the pool, or a place in the queue. It only
// touches PostgreSQL; workers do the rest.
func (p *Provisioner) Start(ctx context.Context, r StartRequest) (store.Environment, error) {
	req := store.EnvRequest{
		UserID: uuid.NullUUID{UUID: r.UserID, Valid: true}, LabID: r.LabID, CohortID: r.CohortID,
		Topology: r.Topology.String(), K8sVersion: r.Version, TimeLimit: r.TimeLimit, ClusterName: p.clusterName(),
	}
	a, err := p.store.AdmitEnvironment(ctx, req, store.AdmitLimits{PerUser: p.cfg.MaxPerUser, MaxLive: p.cfg.MaxLive, MaxQueue: p.cfg.MaxQueue})
	if err != nil {
		return store.Environment{}, err
	}
	switch a.How {
	case "existing":
		return a.Env, nil
	case "quota":
		return store.Environment{}, fmt.Errorf("%w: you already have %d running environment(s) (lab %s); stop one first", ErrQuota, a.Mine, a.Env.LabID)
	case "capacity":
		return store.Environment{}, fmt.Errorf("%w: all %d cluster slots are busy and %d students are waiting; try again in a few minutes", ErrCapacity, p.cfg.MaxLive, a.Waiting)
	case "claimed":
		wake(p.wakeSetup)
		wake(p.wakeCreate) // refill the pool
		wake(p.wakeSleep)  // thaw the next warm cluster
		return a.Env, nil
	}
	e := a.Env
	wake(p.wakeCreate)
	return e, nil
}

// Stop ends a user's environment; its cluster is deleted in the background.
func (p *Provisioner) Stop(ctx context.Context, id uuid.UUID) error {
	// From provisioning too: the create worker sees it left and the reaper
	// deletes the cluster.
	err := p.store.SetEnvState(ctx, id, store.EnvDeleting,
		store.EnvRequested, store.EnvProvisioning, store.EnvReady, store.EnvInUse, store.EnvExpired)
	if err != nil {
		return err
	}
	_ = p.store.AddEnvEvent(ctx, id, "deleting", "stopped")
	wake(p.wakeReap)
	return nil
}

func (p *Provisioner) clusterName() string {
	return p.cfg.Prefix + strings.ReplaceAll(uuid.NewString(), "-", "")[:8]
}

func (p *Provisioner) image(version string) string {
	return p.cfg.NodeImage + ":v" + strings.TrimPrefix(version, "v")
}

func (p *Provisioner) clusterDir(name string) string {
	return filepath.Join(p.cfg.StateDir, "clusters", name)
}

// createStep provisions one requested environment, or queues a pool refill.
func (p *Provisioner) createStep(ctx context.Context) (bool, error) {
	if err := p.refill(ctx); err != nil {
		return false, err
	}
	e, err := p.store.NextRequested(ctx, p.cfg.MaxLive, p.cfg.MaxActive)
	if err != nil || e == nil {
		if err == nil {
			err = p.evictForWaiting(ctx)
		}
		return false, err
	}
	p.cfg.Metrics.dequeued(*e)
	p.create(ctx, *e)
	return true, nil
}

// create makes the cluster of a provisioning environment; failures are
// recorded on the environment, not returned.
func (p *Provisioner) create(ctx context.Context, e store.Environment) {
	log := p.log.With("env", e.ID, "cluster", e.ClusterName)
	fail := func(reason string, err error) {
		log.Error("provisioning failed", "err", err)
		if ferr := p.store.FailEnvironment(context.WithoutCancel(ctx), e.ID, err.Error()); ferr != nil {
			log.Error("recording failure", "err", ferr)
		} else {
			p.cfg.Metrics.fail(reason)
		}
		_ = p.store.AddEnvEvent(context.WithoutCancel(ctx), e.ID, "failed", err.Error())
		wake(p.wakeReap)
	}
	topo, err := ParseTopology(e.Topology)
	if err != nil {
		fail(failCreate, err)
		return
	}
	dir := p.clusterDir(e.ClusterName)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		fail(failCreate, err)
		return
	}
	logFile, err := os.Create(filepath.Join(dir, "kind.log"))
	if err != nil {
		fail(failCreate, err)
		return
	}
	defer logFile.Close()
	_ = p.store.AddEnvEvent(ctx, e.ID, "provisioning", fmt.Sprintf("%s, Kubernetes %s", topo, e.K8sVersion))

	ctx, cancel := context.WithTimeout(ctx, p.cfg.CreateTimeout)
	defer cancel()
	type result struct {
		c   *cluster.Cluster
		err error
	}
	done := make(chan result, 1)
	began := time.Now()
	go func() {
		// kind's Create takes no context: it runs here and is cleaned up after
		// the fact if the timeout passes first.
		c, err := p.clusters.Create(ctx, cluster.Spec{
			Name: e.ClusterName, Image: p.image(e.K8sVersion), Workers: topo.Workers,
			WaitReady: p.cfg.CreateTimeout / 2, Network: cluster.NetworkOf(e.ClusterName),
			Memory: p.cfg.Memory, CPUs: p.cfg.CPUs, Pids: p.cfg.Pids, Log: logFile,
			Progress: func(status string) {
				_ = p.store.AddEnvEvent(context.WithoutCancel(ctx), e.ID, phaseOf(status), status)
			},
		})
		done <- result{c, err}
	}()
	var r result
	select {
	case r = <-done:
	case <-ctx.Done():
		fail(failCreateTimeout, fmt.Errorf("creating the cluster took longer than %s; see %s", p.cfg.CreateTimeout, logFile.Name()))
		go func() {
			if late := <-done; late.err == nil {
				_ = p.clusters.Delete(context.Background(), e.ClusterName)
			}
		}()
		return
	}
	if r.err != nil {
		fail(failCreate, r.err)
		return
	}
	p.cfg.Metrics.created(topo.String(), time.Since(began))
	nodes := make([]store.EnvNode, len(r.c.Nodes))
	for i, n := range r.c.Nodes {
		nodes[i] = store.EnvNode{Name: n.Name, Role: n.Role, IP: n.IP}
	}
	if err := os.WriteFile(filepath.Join(dir, "kubeconfig"), r.c.Kubeconfig, 0o600); err != nil {
		fail(failCreate, err)
		return
	}
	if err := p.store.EnvironmentReady(ctx, e.ID, string(r.c.Kubeconfig), nodes); err != nil {
		// Stopped while being created: the reaper deletes it.
		log.Info("environment left provisioning while its cluster was created", "err", err)
		wake(p.wakeReap)
		return
	}
	_ = p.store.AddEnvEvent(ctx, e.ID, "cluster ready", "")
	log.Info("cluster ready", "pooled", e.Pooled)
	if !e.Pooled {
		wake(p.wakeSetup)
	} else {
		wake(p.wakeSleep)
	}
}

// phaseOf names kind's status lines as the steps a student sees.
func phaseOf(status string) string {
	for prefix, phase := range map[string]string{
		"Ensuring node image": "preparing", "Preparing nodes": "creating nodes",
		"Writing configuration": "configuring", "Starting control-plane": "kubeadm init",
		"Installing CNI": "network", "Installing StorageClass": "storage",
		"Joining worker nodes": "joining workers", "Waiting": "waiting for nodes",
	} {
		if strings.HasPrefix(status, prefix) {
			return phase
		}
	}
	if strings.HasPrefix(status, "failed") {
		return "failed"
	}
	return "provisioning"
}

// refill queues pool requests up to each pool's size.
func (p *Provisioner) refill(ctx context.Context) error {
	counts, err := p.store.PoolCounts(ctx)
	if err != nil {
		return err
	}
	for _, pool := range p.cfg.Pools {
		key := pool.Topology.String() + "/" + pool.Version
		for n := counts[key]; n < pool.Size; n++ {
			_, err := p.store.RequestEnvironment(ctx, store.EnvRequest{
				Topology: pool.Topology.String(), K8sVersion: pool.Version,
				ClusterName: p.clusterName(), Pooled: true, TimeLimit: time.Hour,
			})
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// evictForWaiting frees a slot held by an idle warm cluster when a student
// waits for capacity (their topology had no warm cluster).
func (p *Provisioner) evictForWaiting(ctx context.Context) error {
	if waiting, err := p.studentWaiting(ctx); err != nil || !waiting {
		return err
	}
	live, err := p.store.CountLive(ctx)
	if err != nil {
		return err
	}
	active := 0
	if p.cfg.MaxActive > 0 {
		if active, err = p.store.CountActive(ctx); err != nil {
			return err
		}
	}
	fullLive, fullActive := live >= p.cfg.MaxLive, p.cfg.MaxActive > 0 && active >= p.cfg.MaxActive
	if !fullLive && !fullActive {
		return nil
	}
	ready, err := p.store.EnvironmentsIn(ctx, store.EnvReady)
	if err != nil {
		return err
	}
	for _, e := range ready {
		if !e.Pooled {
			continue
		}
		if !fullLive && e.PausedAt == nil {
			// Only the CPU budget is spent: freezing a running warm cluster frees it.
			return p.pause(ctx, e, 0, "warm pool: frozen to make room for a waiting student")
		}
		if fullLive {
			if err := p.store.SetEnvState(ctx, e.ID, store.EnvDeleting, store.EnvReady); err == nil {
				_ = p.store.AddEnvEvent(ctx, e.ID, "deleting", "evicted for a waiting student")
				wake(p.wakeReap)
			}
			return nil
		}
	}
	return nil
}

// thawClaimed starts a thaw of each claimed environment whose cluster is
// frozen and not being thawed yet.
func (p *Provisioner) thawClaimed(ctx context.Context) error {
	frozen, err := p.store.ClaimedPaused(ctx)
	if err != nil {
		return err
	}
	for _, e := range frozen {
		if _, busy := p.thawing.LoadOrStore(e.ID, struct{}{}); busy {
			continue
		}
		p.running.Add(1)
		go func() {
			defer p.running.Done()
			defer p.thawing.Delete(e.ID)
			if _, err := p.Wake(ctx, e.ID); err != nil && ctx.Err() == nil {
				msg := "the warm cluster did not wake: " + err.Error()
				if ferr := p.store.FailEnvironment(ctx, e.ID, msg+"; press Start again"); ferr == nil {
					p.cfg.Metrics.fail(failWake)
				}
				_ = p.store.AddEnvEvent(ctx, e.ID, "failed", msg)
				wake(p.wakeReap)
				return
			}
			wake(p.wakeSetup)
		}()
	}
	return nil
}

// studentWaiting says whether a student's request waits for a cluster.
func (p *Provisioner) studentWaiting(ctx context.Context) (bool, error) {
	queued, err := p.store.EnvironmentsIn(ctx, store.EnvRequested)
	for _, e := range queued {
		if !e.Pooled {
			return true, err
		}
	}
	return false, err
}

// setupStep runs the lab setup of one claimed environment and starts it.
// Claimed frozen clusters are thawed side by side first (a thaw is mostly
// waiting for kubelets), each queued for its setup once awake.
func (p *Provisioner) setupStep(ctx context.Context) (bool, error) {
	if err := p.thawClaimed(ctx); err != nil {
		return false, err
	}
	e, err := p.store.NextSetup(ctx)
	if err != nil || e == nil {
		return false, err
	}
	_ = p.store.AddEnvEvent(ctx, e.ID, "lab setup", e.LabID)
	if p.setup != nil {
		if err := p.setup(ctx, *e); err != nil {
			if ferr := p.store.FailEnvironment(ctx, e.ID, "lab setup: "+err.Error()); ferr == nil {
				p.cfg.Metrics.fail(failSetup)
			}
			_ = p.store.AddEnvEvent(ctx, e.ID, "failed", "lab setup: "+err.Error())
			wake(p.wakeReap)
			return true, nil
		}
	}
	if _, err := p.store.StartEnvironment(ctx, e.ID); err != nil {
		return true, err
	}
	_ = p.store.AddEnvEvent(ctx, e.ID, "ready", "")
	if p.cfg.Metrics != nil {
		wait, fromPool, err := p.store.ClaimWait(ctx, e.ID)
		if err != nil {
			p.log.Warn("metrics: claim wait", "env", e.ID, "err", err)
		} else {
			p.cfg.Metrics.claimed(fromPool, wait)
		}
	}
	return true, nil
}

// reapStep expires due environments and deletes one cluster that should
// go; sweeps orphans when there is nothing else.
func (p *Provisioner) reapStep(ctx context.Context) (bool, error) {
	due, err := p.store.ExpireDue(ctx)
	if err != nil {
		return false, err
	}
	for _, e := range due {
		_ = p.store.AddEnvEvent(ctx, e.ID, "expired", "time limit reached")
		if err := p.store.SetEnvState(ctx, e.ID, store.EnvDeleting, store.EnvExpired); err != nil {
			return false, err
		}
	}
	deleting, err := p.store.EnvironmentsIn(ctx, store.EnvDeleting)
	if err != nil {
		return false, err
	}
	if len(deleting) == 0 {
		// Strays are rare: look for them once a minute, not every poll.
		if time.Since(p.lastSweep) < sweepEvery {
			return false, nil
		}
		p.lastSweep = time.Now()
		return false, p.sweep(ctx)
	}
	e := deleting[0]
	// A paused cluster is thawed to be deleted (its processes must end).
	if err := p.clusters.Unpause(ctx, e.ClusterName); err != nil && !errors.Is(err, cluster.ErrNotFound) {
		return false, err
	}
	if err := p.clusters.Delete(ctx, e.ClusterName); err != nil {
		return false, err
	}
	_ = os.RemoveAll(p.clusterDir(e.ClusterName))
	if err := p.store.SetEnvState(ctx, e.ID, store.EnvDeleted, store.EnvDeleting); err != nil {
		return false, err
	}
	_ = p.store.AddEnvEvent(ctx, e.ID, "deleted", "")
	p.log.Info("environment deleted", "env", e.ID, "cluster", e.ClusterName)
	wake(p.wakeCreate) // a slot is free
	return true, nil
}
