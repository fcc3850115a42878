package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
)

// Every label value is from a bounded set: a route template (or
// "unmatched"/"web"), a known method (or "other"), a status code.
type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	hashes   prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
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
	}
	reg.MustRegister(m.requests, m.duration, m.hashes)
	return m
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
