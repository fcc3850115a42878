// Package server is ckalab's HTTP layer: the JSON API under /api/v1, the
// health and metrics endpoints and the embedded web app. It authenticates
// every route and maps domain errors to HTTP in one place (apierror.go).
// Domain packages must not import it.
package server

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/ckalab/ckalab/auth"
	"github.com/ckalab/ckalab/config"
	"github.com/ckalab/ckalab/grader"
	"github.com/ckalab/ckalab/labs"
	"github.com/ckalab/ckalab/provision"
	"github.com/ckalab/ckalab/sso"
	"github.com/ckalab/ckalab/store"
	"github.com/ckalab/ckalab/terminal"
)

const (
	// signupsPerLogin: a client address may sign up through invites this
	// many times the failed sign-ins it may make (a class behind one NAT
	// signs up together).
	signupsPerLogin = 5
	// readTimeout bounds reading a request and its body (at most 1 MiB).
	readTimeout = 30 * time.Second
	// writeTimeout outlasts the slowest handler (Check: 2 minutes). The
	// long-lived routes lift both deadlines (see longLived).
	writeTimeout = 3 * time.Minute
	// purgeEvery spaces the deletions of expired sessions.
	purgeEvery = 5 * time.Minute
)

// Deps are the server's collaborators.
type Deps struct {
	Store *store.Store
	Web   fs.FS // built web app; index.html at its root
	// Envs runs lab environments; nil when this host cannot (EnvsDown says why).
	Envs      Environments
	EnvsDown  string
	Terminals *terminal.Manager
	// Labs is the catalog; Grade grades an environment against its lab.
	Labs  []*labs.Lab
	Grade GradeFunc
	// Health reports an environment's cluster for its instructor.
	Health HealthFunc
	// SSO signs people in through an OpenID Connect provider; nil: none.
	SSO *sso.Provider
	// Metrics is the registry /metrics serves, which the provisioner's
	// series share; nil: a registry of the server's own.
	Metrics *prometheus.Registry
}

// HealthFunc asks an environment's cluster for its nodes' state.
type HealthFunc func(ctx context.Context, env store.Environment) grader.Health

// Environments is what the server asks of the provisioner.
type Environments interface {
	Start(ctx context.Context, r provision.StartRequest) (store.Environment, error)
	Stop(ctx context.Context, id uuid.UUID) error
	// Wake thaws a sleeping environment's cluster and returns once it has
	// settled, with how long that took (0: it was awake).
	Wake(ctx context.Context, id uuid.UUID) (time.Duration, error)
}

// Server serves HTTP.
type Server struct {
	cfg     config.Config
	log     *slog.Logger
	store   *store.Store
	web     fs.FS
	limiter *auth.Limiter // failed sign-ins
	signups *auth.Limiter // invite sign-ups, each a password hash
	metrics *metrics
	engine  *gin.Engine

	// rt is what runs lab environments; it may arrive after the start
	// (EnableEnvironments), so handlers read it once per request.
	rt      atomic.Pointer[runtime]
	labs    []*labs.Lab
	sso     *sso.Provider
	grading sync.Map // environment id -> *sync.Mutex, one check at a time
	starts  sync.Map // topology -> its typical cold start, recently looked up

	// sockets tracks hijacked connections (websockets) so shutdown can
	// drain them; closing drain asks them to finish.
	sockets sync.WaitGroup
	drain   chan struct{}
	// streams caps each user's live connections and ends them at sign-out.
	streams *streams
	drainMu sync.Once
}

// runtime is what runs lab environments: all of it, or none and why.
type runtime struct {
	envs      Environments
	down      string // why envs is nil
	terminals *terminal.Manager
	grade     GradeFunc
	health    HealthFunc
}

func (s *Server) runtime() *runtime { return s.rt.Load() }

// EnableEnvironments hands a server that started without environments
// (the node image was still building, the engine was down) what runs
// them, once the host can: Start works from the next request on.
func (s *Server) EnableEnvironments(envs Environments, terminals *terminal.Manager, grade GradeFunc, health HealthFunc) {
	s.rt.Store(&runtime{envs: envs, terminals: terminals, grade: grade, health: health})
	s.log.Info("lab environments available")
}

// New builds the server and its routes.
func New(cfg config.Config, log *slog.Logger, deps Deps) *Server {
	s := &Server{
		cfg:     cfg,
		log:     log,
		store:   deps.Store,
		web:     deps.Web,
		limiter: auth.NewLimiter(cfg.LoginRateLimit, 15*time.Minute),
		signups: auth.NewLimiter(signupsPerLogin*cfg.LoginRateLimit, 15*time.Minute),
		drain:   make(chan struct{}),
		streams: newStreams(cfg.StreamsPerUser),

		labs: deps.Labs, sso: deps.SSO,
	}
	s.rt.Store(&runtime{envs: deps.Envs, down: deps.EnvsDown, terminals: deps.Terminals, grade: deps.Grade, health: deps.Health})
	reg := deps.Metrics
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s.metrics = newMetrics(reg, func() *terminal.Manager { return s.runtime().terminals })
	s.engine = s.routes()
	return s
}

// Handler is the server's HTTP handler.
func (s *Server) Handler() http.Handler { return s.engine }

// Serve serves on ln until ctx ends, then drains requests and websockets
// for up to the configured grace period. It purges expired sessions
// meanwhile.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	pctx, stopPurge := context.WithCancel(ctx)
	purged := make(chan struct{})
	go func() { defer close(purged); s.purgeSessions(pctx) }()
	defer func() { stopPurge(); <-purged }()
	hs := &http.Server{
		Handler:           s.engine,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.log.Info("shutting down: draining requests and terminals", "grace", s.cfg.ShutdownGrace)
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownGrace)
	defer cancel()
	s.drainMu.Do(func() { close(s.drain) })
	err := hs.Shutdown(sctx)
	done := make(chan struct{})
	go func() { s.sockets.Wait(); close(done) }()
	select {
	case <-done:
	case <-sctx.Done():
		s.log.Warn("shutdown grace ended with websockets still open")
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// purgeSessions deletes expired sessions now and every purgeEvery until
// ctx ends.
func (s *Server) purgeSessions(ctx context.Context) {
	tick := time.NewTicker(purgeEvery)
	defer tick.Stop()
	for {
		qctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		n, err := s.store.DeleteExpiredSessions(qctx)
		cancel()
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.Warn("purge expired sessions", "err", err)
		case n > 0:
			s.log.Debug("purged expired sessions", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
