package provision_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ckalab/ckalab/cluster"
	"github.com/ckalab/ckalab/config"
	"github.com/ckalab/ckalab/provision"
	"github.com/ckalab/ckalab/server"
	"github.com/ckalab/ckalab/store"
	"github.com/ckalab/ckalab/terminal"
)

// sample is one series' value in g (a histogram's count of observations),
// or -1 when g has no such series. labels are name, value pairs.
func sample(t *testing.T, g prometheus.Gatherer, name string, labels ...string) float64 {
	t.Helper()
	fams, err := g.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	metric:
		for _, m := range f.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for i := 0; i+1 < len(labels); i += 2 {
				if have[labels[i]] != labels[i+1] {
					continue metric
				}
			}
			switch {
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue()
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue()
			case m.GetHistogram() != nil:
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return -1
}

// boundedLabels fails the test if a ckalab_ series of g has a label outside
// the bounded sets: no user, environment or cluster ever becomes a label.
func boundedLabels(t *testing.T, g prometheus.Gatherer) {
	t.Helper()
	allowed := map[string]map[string]bool{
		"state":    {"requested": true, "provisioning": true, "ready": true, "in_use": true, "expired": true, "deleting": true},
		"topology": {"1cp": true, "1cp-1w": true, "1cp-2w": true, "1cp-3w": true, "1cp-4w": true},
		"source":   {"pool": true, "cold": true},
		"request":  {"student": true, "pool": true},
		"reason":   {"create": true, "create_timeout": true, "setup": true, "restart": true, "cluster_lost": true, "disk": true, "wake": true},
		"outcome":  {"passed": true, "partial": true, "failed": true, "error": true},
		"role":     {"control": true, "view": true},
	}
	// The HTTP series' labels (route templates, methods, codes) are the
	// server's, bounded by its own tests (server/abuse_test.go).
	server := map[string]bool{"route": true, "method": true, "code": true}
	fams, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if !strings.HasPrefix(f.GetName(), "ckalab_") {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if !server[l.GetName()] && !allowed[l.GetName()][l.GetValue()] {
					t.Errorf("%s has the label %s=%q, outside its bounded set", f.GetName(), l.GetName(), l.GetValue())
				}
			}
		}
	}
}

// The provisioner's series move with its work, without Docker: the queue,
// cold and warm claims, creations, the pool, failures; and the database
// gauges say so when PostgreSQL does not answer.
func TestProvisionerMetricsWithAFakeBackend(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	fb := &fakeBackend{clusters: map[string]*cluster.Summary{}}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st := open(t)
	e := &env{t: t, ctx: ctx, st: st, setup: map[uuid.UUID]bool{}, log: log}
	pools := []provision.Pool{{Topology: provision.Topology{}, Version: "1.34.4", Size: 1}}
	reg := prometheus.NewRegistry()
	cfg := provision.Config{Prefix: "fakem-", NodeImage: "ckalab/node", StateDir: t.TempDir(), Pools: pools,
		MaxLive: 4, MaxPerUser: 1, MaxQueue: 5, CreateTimeout: time.Minute, OrphanGrace: time.Hour, Poll: 50 * time.Millisecond,
		Metrics: provision.NewMetrics(reg, log, st, pools)}
	p := provision.New(cfg, log, st, fb, func(context.Context, store.Environment) error { return nil })
	want := func(v float64, name string, labels ...string) {
		t.Helper()
		if got := sample(t, reg, name, labels...); got != v {
			t.Errorf("%s%v = %v, want %v", name, labels, got, v)
		}
	}
	// Series recorded just after a state change the test waits for.
	eventually := func(v float64, name string, labels ...string) {
		t.Helper()
		e.wait(name, 10*time.Second, func() (bool, error) { return sample(t, reg, name, labels...) == v, nil })
	}
	req := func(u uuid.UUID, workers int) provision.StartRequest {
		return provision.StartRequest{UserID: u, LabID: "pods", Topology: provision.Topology{Workers: workers}, Version: "1.34.4", TimeLimit: time.Hour}
	}

	// Before the workers run: one student waits.
	bo, err := p.Start(ctx, req(e.user("bo"), 1))
	if err != nil || bo.State != store.EnvRequested {
		t.Fatalf("bo: %+v %v", bo, err)
	}
	want(1, "ckalab_database_up")
	want(1, "ckalab_queue_length")
	want(1, "ckalab_environments", "state", "requested")
	want(0, "ckalab_environments", "state", "in_use")
	want(1, "ckalab_pool_target", "topology", "1cp")
	want(0, "ckalab_pool_ready", "topology", "1cp")
	if w := sample(t, reg, "ckalab_queue_oldest_wait_seconds"); w < 0 || w > 30 {
		t.Errorf("oldest wait %v", w)
	}

	runCtx, stopRun := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(runCtx) }()
	e.waitState(bo.ID, store.EnvInUse, 10*time.Second)
	e.wait("warm cluster", 10*time.Second, func() (bool, error) { return len(e.pooledReady()) == 1, nil })
	want(0, "ckalab_queue_length")
	want(0, "ckalab_queue_oldest_wait_seconds")
	want(1, "ckalab_environments", "state", "in_use")
	want(1, "ckalab_environments", "state", "ready")
	want(1, "ckalab_pool_ready", "topology", "1cp")
	want(1, "ckalab_cluster_create_duration_seconds", "topology", "1cp-1w")
	want(1, "ckalab_cluster_create_duration_seconds", "topology", "1cp")
	want(1, "ckalab_queue_wait_seconds", "request", "student")
	want(1, "ckalab_queue_wait_seconds", "request", "pool")
	eventually(1, "ckalab_claim_duration_seconds", "source", "cold")
	want(0, "ckalab_claim_duration_seconds", "source", "pool")

	// A warm claim.
	ana, err := p.Start(ctx, req(e.user("ana"), 0))
	if err != nil || ana.State != store.EnvReady {
		t.Fatalf("ana's claim: %+v %v", ana, err)
	}
	e.waitState(ana.ID, store.EnvInUse, 10*time.Second)
	eventually(1, "ckalab_claim_duration_seconds", "source", "pool")
	e.wait("pool refilled", 10*time.Second, func() (bool, error) { return len(e.pooledReady()) == 1, nil })

	// A failed creation is counted by its class.
	fb.mu.Lock()
	fb.failAll = true
	fb.mu.Unlock()
	cy, err := p.Start(ctx, req(e.user("cy"), 2))
	if err != nil {
		t.Fatal(err)
	}
	e.waitState(cy.ID, store.EnvFailed, 10*time.Second)
	e.wait("failed creations counted", 10*time.Second, func() (bool, error) {
		return sample(t, reg, "ckalab_environments_failed_total", "reason", "create") >= 1, nil
	})
	want(0, "ckalab_environments_failed_total", "reason", "setup")
	boundedLabels(t, reg)

	stopRun()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// PostgreSQL gone: the scrape still answers, and says so.
	st.Close()
	want(0, "ckalab_database_up")
	want(-1, "ckalab_queue_length")
	want(1, "ckalab_pool_target", "topology", "1cp")
}

// The sample dashboard and the series table of docs/deploy.md name the
// series the server and the provisioner really serve, and every ckalab_
// series is in the table.
func TestDashboardAndDocsNameRealSeries(t *testing.T) {
	t.Parallel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st := open(t)
	reg := prometheus.NewRegistry()
	provision.NewMetrics(reg, log, st, []provision.Pool{{Topology: provision.Topology{Workers: 1}, Version: "1.34.4", Size: 1}})
	srv := server.New(config.Config{SessionTTL: time.Hour, LoginRateLimit: 5}, log, server.Deps{Store: st, Metrics: reg,
		Terminals: terminal.NewManager(log, nil, time.Hour, 1)})
	srv.Handler().ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/healthz", nil))
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	real := map[string]bool{}
	var families []string
	for _, f := range fams {
		name := f.GetName()
		if !strings.HasPrefix(name, "ckalab_") {
			continue
		}
		families = append(families, name)
		real[name] = true
		if f.GetType().String() == "HISTOGRAM" {
			real[name+"_bucket"], real[name+"_count"], real[name+"_sum"] = true, true, true
		}
	}
	if len(families) < 17 {
		t.Fatalf("only %d ckalab_ series served: %v", len(families), families)
	}

	raw, err := os.ReadFile("../docs/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("docs/grafana-dashboard.json: %v", err)
	}
	series := regexp.MustCompile(`ckalab_[a-z_]+`)
	used := map[string]bool{}
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			for _, name := range series.FindAllString(tg.Expr, -1) {
				used[strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_count"), "_sum")] = true
				if !real[name] {
					t.Errorf("dashboard panel %q queries %s, which ckalab does not serve", p.Title, name)
				}
			}
		}
	}
	doc, err := os.ReadFile("../docs/deploy.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range families {
		if !strings.Contains(string(doc), "| `"+name+"` |") {
			t.Errorf("docs/deploy.md does not list %s", name)
		}
		if !used[name] && name != "ckalab_password_hashes_total" {
			t.Errorf("no dashboard panel shows %s", name)
		}
	}
}
