package server_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ckalab/ckalab/config"
	"github.com/ckalab/ckalab/grader"
	"github.com/ckalab/ckalab/labs"
	"github.com/ckalab/ckalab/server"
	"github.com/ckalab/ckalab/store"
)

// get requests url with the given headers (name, value, …) and returns the
// status and body.
func get(t *testing.T, h http.Handler, method, url string, hdr ...string) (int, string) {
	t.Helper()
	req := httptest.NewRequest(method, url, nil)
	req.RemoteAddr = "127.0.0.1:40000"
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w.Code, w.Body.String()
}

// Who may read /metrics: loopback clients by default, token holders with
// --metrics-token, nobody on the main listener with --metrics-listen.
func TestMetricsAccess(t *testing.T) {
	t.Parallel()
	const token = "s3cret-metrics-token"
	type req struct {
		name       string
		remote     string // client address; loopback if empty
		hdr        []string
		want       int
		wantInBody string
	}
	for _, tc := range []struct {
		name string
		cfg  func(*config.Config)
		reqs []req
	}{
		{"no flags: loopback only", func(c *config.Config) { c.TrustedProxies = "127.0.0.1" }, []req{
			{name: "loopback", want: 200, wantInBody: "go_goroutines"},
			{name: "another host", remote: "203.0.113.9:5000", want: 403, wantInBody: "--metrics-token"},
			{name: "another host through the trusted proxy", hdr: []string{"X-Forwarded-For", "203.0.113.9"}, want: 403, wantInBody: "--metrics-listen"},
			{name: "a spoofed loopback behind the trusted proxy", hdr: []string{"X-Forwarded-For", "127.0.0.1, 203.0.113.9"}, want: 403},
		}},
		{"no flags, no trusted proxy", nil, []req{
			{name: "loopback", want: 200},
			{name: "an unlisted proxy on this host forwarding", hdr: []string{"X-Forwarded-For", "203.0.113.9"}, want: 403},
			{name: "an unlisted proxy on this host, X-Real-IP", hdr: []string{"X-Real-IP", "203.0.113.9"}, want: 403},
		}},
		{"token", func(c *config.Config) { c.MetricsToken = token; c.TrustedProxies = "127.0.0.1" }, []req{
			{name: "missing", want: 401, wantInBody: "--metrics-token"},
			{name: "wrong", hdr: []string{"Authorization", "Bearer nope"}, want: 401},
			{name: "a prefix of it", hdr: []string{"Authorization", "Bearer " + token[:6]}, want: 401},
			{name: "not bearer", hdr: []string{"Authorization", "Basic " + token}, want: 401},
			{name: "right", hdr: []string{"Authorization", "Bearer " + token}, want: 200, wantInBody: "ckalab_checks_total"},
			{name: "right, from another host", remote: "203.0.113.9:5000", hdr: []string{"Authorization", "Bearer " + token}, want: 200},
		}},
		{"separate listener", func(c *config.Config) { c.MetricsListen = "127.0.0.1:0" }, []req{
			{name: "main listener, loopback", want: 404, wantInBody: "--metrics-listen"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			cfg := config.Config{SessionTTL: time.Hour, LoginRateLimit: 5, ShutdownGrace: time.Second}
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			s := server.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), server.Deps{Store: e.store})
			for _, r := range tc.reqs {
				req := httptest.NewRequest("GET", "/metrics", nil)
				req.RemoteAddr = "127.0.0.1:40000"
				if r.remote != "" {
					req.RemoteAddr = r.remote
				}
				for i := 0; i+1 < len(r.hdr); i += 2 {
					req.Header.Set(r.hdr[i], r.hdr[i+1])
				}
				w := httptest.NewRecorder()
				s.Handler().ServeHTTP(w, req)
				if w.Code != r.want || !strings.Contains(w.Body.String(), r.wantInBody) {
					t.Errorf("%s: %d %.200s, want %d with %q", r.name, w.Code, w.Body.String(), r.want, r.wantInBody)
				}
				if strings.Contains(w.Body.String(), token) && r.want != 200 {
					t.Errorf("%s: the answer shows the token", r.name)
				}
			}
		})
	}
}

// The metrics listener serves /metrics alone, with the token when set,
// and stops with its context.
func TestMetricsListener(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := config.Config{SessionTTL: time.Hour, LoginRateLimit: 5, ShutdownGrace: time.Second, MetricsListen: "127.0.0.1:0"}
	open := server.New(cfg, log, server.Deps{Store: e.store})
	h := open.MetricsHandler()
	for _, tc := range []struct {
		method, path string
		want         int
	}{{"GET", "/metrics", 200}, {"HEAD", "/metrics", 200}, {"POST", "/metrics", 405}, {"GET", "/api/v1/session", 404}, {"GET", "/", 404}} {
		if got, _ := get(t, h, tc.method, tc.path); got != tc.want {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, got, tc.want)
		}
	}
	cfg.MetricsToken = "tok"
	locked := server.New(cfg, log, server.Deps{Store: e.store}).MetricsHandler()
	if got, _ := get(t, locked, "GET", "/metrics"); got != 401 {
		t.Errorf("no token: %d", got)
	}
	if got, _ := get(t, locked, "GET", "/metrics", "Authorization", "Bearer tok2"); got != 401 {
		t.Errorf("wrong token: %d", got)
	}
	if got, body := get(t, locked, "GET", "/metrics", "Authorization", "Bearer tok"); got != 200 || !strings.Contains(body, "go_goroutines") {
		t.Errorf("right token: %d", got)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- open.ServeMetrics(ctx, ln) }()
	r, err := http.Get("http://" + ln.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if r.StatusCode != 200 || !strings.Contains(string(b), "ckalab_checks_total") {
		t.Fatalf("metrics listener: %d %.200s", r.StatusCode, b)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("ServeMetrics after its context ended: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ServeMetrics did not stop with its context")
	}
}

// A registry passed in Deps is the one /metrics serves: other packages'
// series appear beside the server's.
func TestMetricsSharedRegistry(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	extra := prometheus.NewCounter(prometheus.CounterOpts{Name: "ckalab_test_extra_total", Help: "x"})
	reg.MustRegister(extra)
	extra.Add(3)
	e := newEnvWith(t, func(d *server.Deps) { d.Metrics = reg })
	if got := scrape(t, e, "ckalab_test_extra_total"); got[""] != 3 {
		t.Fatalf("shared series: %v", got)
	}
}

// Check outcomes and grading time are counted; open terminals and their
// clients are gauges.
func TestMetricsChecksAndTerminals(t *testing.T) {
	t.Parallel()
	catalog, err := labs.LoadAll("../labs")
	if err != nil {
		t.Fatal(err)
	}
	var next grader.Report
	e := newEnvWith(t, func(d *server.Deps) {
		d.Labs = catalog
		d.Grade = func(ctx context.Context, l *labs.Lab, env store.Environment) grader.Report { return next }
	})
	ana := e.user("ana@example.com", store.RoleStudent)
	c := e.client()
	c.login("ana@example.com", "password-ana@example.com")
	envID := inUse(t, e.store, ana.ID, "c-control-plane")
	if _, err := e.store.Pool().Exec(context.Background(), `UPDATE environments SET lab_id = 'rbac-developer' WHERE id = $1`, envID); err != nil {
		t.Fatal(err)
	}
	for _, rep := range []grader.Report{
		{Score: 5, MaxScore: 5, Took: 300 * time.Millisecond},
		{Score: 1.5, MaxScore: 5, Took: time.Second},
		{Score: 0, MaxScore: 5, Took: time.Second},
		{Score: 0, MaxScore: 5, Took: 3 * time.Second, Unreachable: true},
		{Score: 0, MaxScore: 5, Took: time.Second},
	} {
		next = rep
		if r := c.do("POST", fmt.Sprintf("/api/v1/environments/%s/check", envID), map[string]any{}); r.Status != 200 {
			t.Fatalf("check: %d %v", r.Status, r.Body)
		}
	}
	want := map[string]float64{`{outcome="passed"}`: 1, `{outcome="partial"}`: 1, `{outcome="failed"}`: 2, `{outcome="error"}`: 1}
	if got := scrape(t, e, "ckalab_checks_total"); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("check outcomes: %v, want %v", got, want)
	}
	if got := scrape(t, e, "ckalab_grade_duration_seconds_count"); got[""] != 5 {
		t.Errorf("grade durations: %v", got)
	}
	if got := scrape(t, e, "ckalab_grade_duration_seconds_sum"); math.Abs(got[""]-6.3) > 1e-9 {
		t.Errorf("grade duration sum: %v", got)
	}
}

func TestMetricsTerminals(t *testing.T) {
	t.Parallel()
	e := termEnv(t, echoLauncher{}, 2)
	ana := e.user("ana@example.com", store.RoleStudent)
	c := e.client()
	c.login("ana@example.com", "password-ana@example.com")
	envID := inUse(t, e.store, ana.ID, "c-control-plane")
	if got := scrape(t, e, "ckalab_terminals_open"); got[""] != 0 {
		t.Fatalf("terminals before any: %v", got)
	}
	tm := openTerm(t, c, "/api/v1/environments/"+envID.String()+"/terminal")
	if got := scrape(t, e, "ckalab_terminals_open"); got[""] != 1 {
		t.Errorf("open terminals: %v", got)
	}
	want := map[string]float64{`{role="control"}`: 1, `{role="view"}`: 0}
	if got := scrape(t, e, "ckalab_terminal_clients"); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("terminal clients: %v, want %v", got, want)
	}
	tm.conn.Close()
	deadline := time.Now().Add(5 * time.Second)
	for scrape(t, e, "ckalab_terminal_clients")[`{role="control"}`] != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the closed websocket still counts")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
