package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ckalab/ckalab/grader"
	"github.com/ckalab/ckalab/terminal"
)

// Every label value is from a bounded set: a route template (or
// "unmatched"/"web"), a known method (or "other"), a status code, a Check
// outcome, a terminal client role.
type metrics struct {
	gatherer prometheus.Gatherer // what /metrics serves
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	hashes   prometheus.Counter
	checks   *prometheus.CounterVec
	grading  prometheus.Histogram
}

// Check outcomes of ckalab_checks_total.
const (
	checkPassed  = "passed"  // full marks
	checkPartial = "partial" // some marks
	checkFailed  = "failed"  // none
	checkError   = "error"   // not graded: cluster unreachable, timed out, not saved
)

func newMetrics(reg *prometheus.Registry, terminals func() *terminal.Manager) *metrics {
	m := &metrics{
		gatherer: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ckalab_http_requests_total", Help: "HTTP requests by route, method and status.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ckalab_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route"}),
		hashes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ckalab_password_hashes_total", Help: "Password hashes (argon2id) that requests asked for: sign-ins and sign-ups.",
		}),
		checks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ckalab_checks_total", Help: "Presses of Check by outcome: passed (full marks), partial, failed (no marks), error (not graded).",
		}, []string{"outcome"}),
		grading: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "ckalab_grade_duration_seconds", Help: "Time the grader took for one Check.",
			Buckets: []float64{0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120},
		}),
	}
	for _, o := range []string{checkPassed, checkPartial, checkFailed, checkError} {
		m.checks.WithLabelValues(o)
	}
	reg.MustRegister(m.requests, m.duration, m.hashes, m.checks, m.grading)
	reg.MustRegister(&terminalCollector{terminals: terminals,
		shells:  prometheus.NewDesc("ckalab_terminals_open", "Open terminal shells.", nil, nil),
		clients: prometheus.NewDesc("ckalab_terminal_clients", "Websockets attached to terminals by role: control (may type) or view (watching).", []string{"role"}, nil),
	})
	return m
}

// graded counts one Check and its grading time.
func (m *metrics) graded(ctx context.Context, rep grader.Report, saveErr error) {
	outcome := checkFailed
	switch {
	case rep.Unreachable || ctx.Err() != nil || saveErr != nil:
		outcome = checkError
	case rep.MaxScore > 0 && rep.Score >= rep.MaxScore:
		outcome = checkPassed
	case rep.Score > 0:
		outcome = checkPartial
	}
	m.checks.WithLabelValues(outcome).Inc()
	m.grading.Observe(rep.Took.Seconds())
}

// terminalCollector reads the terminal manager at scrape time (none
// while the host cannot run environments).
type terminalCollector struct {
	terminals       func() *terminal.Manager
	shells, clients *prometheus.Desc
}

func (c *terminalCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.shells; ch <- c.clients }

func (c *terminalCollector) Collect(ch chan<- prometheus.Metric) {
	t := c.terminals()
	if t == nil {
		return
	}
	n := t.Count()
	ch <- prometheus.MustNewConstMetric(c.shells, prometheus.GaugeValue, float64(n.Shells))
	ch <- prometheus.MustNewConstMetric(c.clients, prometheus.GaugeValue, float64(n.Control), string(terminal.Control))
	ch <- prometheus.MustNewConstMetric(c.clients, prometheus.GaugeValue, float64(n.View), string(terminal.View))
}

// metricsHandler serves the registry in the Prometheus text format.
func metricsHandler(g prometheus.Gatherer, log *slog.Logger) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)})
}

// tokenOK reports whether r carries the bearer token, compared in constant
// time (hashes first: equal lengths, so the length does not leak either).
func tokenOK(r *http.Request, token string) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	a, b := sha256.Sum256([]byte(strings.TrimSpace(got))), sha256.Sum256([]byte(token))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// metricsAccess guards /metrics on the main listener: with --metrics-token
// the token is required; without it only loopback clients may read it.
func (s *Server) metricsAccess() gin.HandlerFunc {
	return func(c *gin.Context) {
		switch {
		case s.cfg.MetricsToken != "":
			if !tokenOK(c.Request, s.cfg.MetricsToken) {
				c.Header("WWW-Authenticate", `Bearer realm="ckalab metrics"`)
				s.fail(c, errUnauthorized("/metrics needs the bearer token set with --metrics-token"))
			}
		case !s.fromLoopback(c):
			s.fail(c, errForbidden("/metrics is served to loopback clients only; set --metrics-token or --metrics-listen to scrape it from elsewhere"))
		}
	}
}

// fromLoopback reports whether the client (as gin resolves it through
// --trusted-proxies) is on this host. A loopback peer that forwards for
// someone else is a proxy missing from --trusted-proxies: not trusted.
func (s *Server) fromLoopback(c *gin.Context) bool {
	ip := net.ParseIP(c.ClientIP())
	if ip == nil || !ip.IsLoopback() {
		return false
	}
	if c.ClientIP() == c.RemoteIP() {
		for _, h := range []string{"X-Forwarded-For", "X-Real-Ip", "Forwarded"} {
			if c.Request.Header.Get(h) != "" {
				return false
			}
		}
	}
	return true
}

// ServeMetrics serves only /metrics on ln (--metrics-listen), with the
// token if one is set, until ctx ends.
func (s *Server) ServeMetrics(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s.MetricsHandler(),
		ReadHeaderTimeout: 10 * time.Second,
		WriteTimeout:      time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// MetricsHandler is the handler of the metrics listener: /metrics (with
// the token if --metrics-token is set) and nothing else.
func (s *Server) MetricsHandler() http.Handler {
	h := metricsHandler(s.metrics.gatherer, s.log)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path != "/metrics":
			http.NotFound(w, r)
		case r.Method != http.MethodGet && r.Method != http.MethodHead:
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		case s.cfg.MetricsToken != "" && !tokenOK(r, s.cfg.MetricsToken):
			w.Header().Set("WWW-Authenticate", `Bearer realm="ckalab metrics"`)
			http.Error(w, "/metrics needs the bearer token set with --metrics-token", http.StatusUnauthorized)
		default:
			h.ServeHTTP(w, r)
		}
	})
}

func (m *metrics) observe(c *gin.Context, route string, d time.Duration) {
	m.requests.WithLabelValues(route, methodLabel(c.Request.Method), strconv.Itoa(c.Writer.Status())).Inc()
	m.duration.WithLabelValues(route).Observe(d.Seconds())
}

// knownMethod reports whether the server answers method at all; others get 405.
func knownMethod(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
		http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return true
	}
	return false
}

// methodLabel is the method, or "other" for any method the server does not know.
func methodLabel(method string) string {
	if knownMethod(method) {
		return method
	}
	return "other"
}
