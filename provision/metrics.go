package provision

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ckalab/ckalab/store"
)

// Failure classes of ckalab_environments_failed_total.
const (
	failCreate        = "create"         // kind or the node image failed
	failCreateTimeout = "create_timeout" // creation outlasted CreateTimeout
	failSetup         = "setup"          // the lab's setup steps failed
	failRestart       = "restart"        // the server restarted mid-creation
	failClusterLost   = "cluster_lost"   // the cluster vanished or its nodes stopped
	failDisk          = "disk"           // stopped to give the engine's disk back
	failWake          = "wake"           // a frozen warm cluster did not settle after its thaw
)

// countTimeout bounds the query a scrape makes.
const countTimeout = 2 * time.Second

// liveStates are the states ckalab_environments reports, zero or not;
// deleted and failed rows are history (see the failure counter).
var liveStates = []store.EnvState{store.EnvRequested, store.EnvProvisioning, store.EnvReady,
	store.EnvInUse, store.EnvExpired, store.EnvDeleting}

// Metrics are the provisioner's Prometheus series. Every label value comes
// from a bounded set: states, topologies, sources, failure classes; never
// a user, an environment or a cluster name. A nil *Metrics records nothing.
type Metrics struct {
	create    *prometheus.HistogramVec
	claim     *prometheus.HistogramVec
	queueWait *prometheus.HistogramVec
	failed    *prometheus.CounterVec
	wake      prometheus.Histogram
}

// NewMetrics registers the provisioner's series on reg. Gauges of database
// state are read from st at each scrape, so they are right whichever
// worker (or server) moved a row, and cost one grouped query per scrape.
func NewMetrics(reg prometheus.Registerer, log *slog.Logger, st *store.Store, pools []Pool) *Metrics {
	m := &Metrics{
		create: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ckalab_cluster_create_duration_seconds", Help: "Time to create a cluster that came up, by topology.",
			Buckets: []float64{15, 30, 45, 60, 90, 120, 180, 240, 300, 420, 600},
		}, []string{"topology"}),
		claim: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ckalab_claim_duration_seconds", Help: "Time from a student's Start to their environment in use (lab setup done), by source: pool (a warm cluster) or cold (created for them).",
			Buckets: []float64{0.5, 1, 2, 5, 10, 20, 30, 60, 90, 120, 180, 300, 600},
		}, []string{"source"}),
		queueWait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ckalab_queue_wait_seconds", Help: "Time a request waited for a cluster slot before its creation began, by request: student or pool (a refill).",
			Buckets: []float64{0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800},
		}, []string{"request"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ckalab_environments_failed_total", Help: "Environments that failed, by reason class: create, create_timeout, setup, restart, cluster_lost, disk, wake.",
		}, []string{"reason"}),
		wake: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "ckalab_wake_duration_seconds", Help: "Time from thawing a paused cluster (a frozen warm one or a sleeping student's) to its nodes settled.",
			Buckets: []float64{2, 4, 6, 8, 10, 12, 15, 20, 30, 45, 60},
		}),
	}
	for _, r := range []string{failCreate, failCreateTimeout, failSetup, failRestart, failClusterLost, failDisk, failWake} {
		m.failed.WithLabelValues(r)
	}
	for _, p := range pools {
		m.create.WithLabelValues(p.Topology.String())
	}
	for _, s := range []string{"pool", "cold"} {
		m.claim.WithLabelValues(s)
	}
	for _, r := range []string{"student", "pool"} {
		m.queueWait.WithLabelValues(r)
	}
	reg.MustRegister(m.create, m.claim, m.queueWait, m.failed, m.wake, newStateCollector(log, st, pools))
	return m
}

// Instrument registers the provisioner's series on reg and records them
// from now on; call it once, before Run.
func (p *Provisioner) Instrument(reg prometheus.Registerer) {
	p.cfg.Metrics = NewMetrics(reg, p.log, p.store, p.cfg.Pools)
}

func (m *Metrics) created(topology string, d time.Duration) {
	if m != nil {
		m.create.WithLabelValues(topology).Observe(d.Seconds())
	}
}

func (m *Metrics) claimed(fromPool bool, d time.Duration) {
	if m == nil {
		return
	}
	source := "cold"
	if fromPool {
		source = "pool"
	}
	m.claim.WithLabelValues(source).Observe(d.Seconds())
}

// dequeued records how long e waited in the queue: from its request to
// its move to provisioning (both by the database's clock).
func (m *Metrics) dequeued(e store.Environment) {
	if m == nil {
		return
	}
	request := "student"
	if e.Pooled {
		request = "pool"
	}
	m.queueWait.WithLabelValues(request).Observe(max(e.UpdatedAt.Sub(e.CreatedAt), 0).Seconds())
}

func (m *Metrics) woke(d time.Duration) {
	if m != nil {
		m.wake.Observe(d.Seconds())
	}
}

func (m *Metrics) fail(reason string) {
	if m != nil {
		m.failed.WithLabelValues(reason).Inc()
	}
}

// stateCollector reports the environments table as gauges at scrape time.
type stateCollector struct {
	log     *slog.Logger
	st      *store.Store
	targets map[string]int // pool size by topology, as configured

	up, envs, queue, oldest, ready, target *prometheus.Desc
}

func newStateCollector(log *slog.Logger, st *store.Store, pools []Pool) *stateCollector {
	targets := map[string]int{}
	for _, p := range pools {
		targets[p.Topology.String()] += p.Size
	}
	return &stateCollector{log: log, st: st, targets: targets,
		up:     prometheus.NewDesc("ckalab_database_up", "1 if this scrape read the environments from PostgreSQL; 0 if it failed (the other ckalab_environments/queue/pool gauges are then absent).", nil, nil),
		envs:   prometheus.NewDesc("ckalab_environments", "Environments by state (requested, provisioning, ready, in_use, expired, deleting), warm pool included.", []string{"state"}, nil),
		queue:  prometheus.NewDesc("ckalab_queue_length", "Students' requests waiting for a cluster slot.", nil, nil),
		oldest: prometheus.NewDesc("ckalab_queue_oldest_wait_seconds", "How long the oldest waiting student request has waited; 0 when none waits.", nil, nil),
		ready:  prometheus.NewDesc("ckalab_pool_ready", "Warm clusters ready to be claimed, by topology.", []string{"topology"}, nil),
		target: prometheus.NewDesc("ckalab_pool_target", "Warm clusters the pool keeps per topology (--pool-size).", []string{"topology"}, nil),
	}
}

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.up, c.envs, c.queue, c.oldest, c.ready, c.target} {
		ch <- d
	}
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	for topo, n := range c.targets {
		ch <- prometheus.MustNewConstMetric(c.target, prometheus.GaugeValue, float64(n), topo)
	}
	// Collect takes no context: the scrape is bounded here instead.
	ctx, cancel := context.WithTimeout(context.Background(), countTimeout)
	defer cancel()
	counts, err := c.st.CountEnvironments(ctx)
	if err != nil {
		c.log.Warn("metrics: counting environments", "err", err)
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 1)
	byState := map[store.EnvState]int{}
	ready := map[string]int{}
	for topo := range c.targets {
		ready[topo] = 0
	}
	queued, oldest := 0, time.Duration(0)
	for _, n := range counts {
		byState[n.State] += n.Count
		switch {
		case n.State == store.EnvReady && n.Pooled:
			ready[n.Topology] += n.Count
		case n.State == store.EnvRequested && !n.Pooled:
			queued += n.Count
			oldest = max(oldest, n.Oldest)
		}
	}
	for _, s := range liveStates {
		ch <- prometheus.MustNewConstMetric(c.envs, prometheus.GaugeValue, float64(byState[s]), string(s))
	}
	ch <- prometheus.MustNewConstMetric(c.queue, prometheus.GaugeValue, float64(queued))
	ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, oldest.Seconds())
	for topo, n := range ready {
		ch <- prometheus.MustNewConstMetric(c.ready, prometheus.GaugeValue, float64(n), topo)
	}
}
