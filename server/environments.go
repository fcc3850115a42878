package server

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/ckalab/ckalab/labs"
	"github.com/ckalab/ckalab/provision"
	"github.com/ckalab/ckalab/store"
	"github.com/ckalab/ckalab/terminal"
)

// playground is the lab id of a free-practice cluster, until the lab
// catalog offers more.
const playground = "playground"

type apiEnvironment struct {
	ID            uuid.UUID       `json:"id"`
	UserID        *uuid.UUID      `json:"userId,omitempty"`
	LabID         string          `json:"labId"`
	LabTitle      string          `json:"labTitle,omitempty"` // the lab's title, when this server offers the lab
	State         store.EnvState  `json:"state"`
	Topology      string          `json:"topology"`
	K8sVersion    string          `json:"kubernetesVersion"`
	Nodes         []store.EnvNode `json:"nodes"`
	Failure       string          `json:"failure,omitempty"`
	QueuePosition *int            `json:"queuePosition,omitempty"`
	CreatedAt     time.Time       `json:"createdAt"`
	StartedAt     *time.Time      `json:"startedAt,omitempty"`
	ExpiresAt     *time.Time      `json:"expiresAt,omitempty"`
	LastActivity  *time.Time      `json:"lastActivityAt,omitempty"`
	GaveUpAt      *time.Time      `json:"gaveUpAt,omitempty"`
	// PausedAt is set while the cluster sleeps (paused after no activity):
	// POST …/wake, a terminal or a Check wakes it.
	PausedAt *time.Time `json:"pausedAt,omitempty"`
	// GraceSeconds is the part of the time limit that startRequest added
	// to the lab's own (--environment-grace): the lab's time ends that long
	// before ExpiresAt, when the cluster is deleted. Checks count until
	// ExpiresAt. Set once the clock runs (ExpiresAt set).
	GraceSeconds int `json:"graceSeconds,omitempty"`
}

// toEnvironment maps a row to the API, with the lab's title and the grace.
func (s *Server) toEnvironment(e store.Environment) apiEnvironment {
	out := apiEnvironment{ID: e.ID, LabID: e.LabID, State: e.State, Topology: e.Topology, K8sVersion: e.K8sVersion,
		Nodes: e.Nodes, Failure: e.Failure, CreatedAt: e.CreatedAt, StartedAt: e.StartedAt, ExpiresAt: e.ExpiresAt, LastActivity: e.LastActivityAt,
		GaveUpAt: e.GaveUpAt, PausedAt: e.PausedAt}
	if out.Nodes == nil {
		out.Nodes = []store.EnvNode{}
	}
	if e.UserID.Valid {
		out.UserID = &e.UserID.UUID
	}
	if l := s.lab(e.LabID); l != nil {
		out.LabTitle = l.Title
	}
	if e.ExpiresAt != nil {
		out.GraceSeconds = int(s.cfg.EnvGrace.Seconds())
	}
	return out
}

// environmentsReady refuses with 503 when this host cannot run clusters.
func (s *Server) environmentsReady(c *gin.Context) bool {
	if s.runtime().envs == nil {
		s.fail(c, &apiError{Status: http.StatusServiceUnavailable, Code: "environments_unavailable",
			Message: "this ckalab server cannot run lab environments: " + s.unavailableReason(c)})
		return false
	}
	return true
}

// unavailableReason says why environments cannot run: the host's problem
// and its fix to admins, who can act on it; to everyone else that labs
// are not available yet (the server turns them on when the host can).
func (s *Server) unavailableReason(c *gin.Context) string {
	rt := s.runtime()
	switch {
	case rt.envs != nil:
		return ""
	case currentUser(c).Role == store.RoleAdmin:
		return rt.down
	}
	return "labs are not available on this server yet; they start working here as soon as the server is ready, without a reload"
}

func (s *Server) listEnvironments(c *gin.Context) {
	envs, err := s.store.EnvironmentsOf(c.Request.Context(), currentUser(c).ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := make([]apiEnvironment, 0, len(envs))
	for _, e := range envs {
		out = append(out, s.toEnvironment(e))
	}
	c.JSON(http.StatusOK, gin.H{"environments": out, "available": s.runtime().envs != nil, "unavailableReason": s.unavailableReason(c),
		"kubernetesVersion": s.cfg.K8sVersion, "perUser": s.cfg.MaxEnvsPerUser})
}

func (s *Server) startEnvironment(c *gin.Context) {
	var req struct {
		Lab      string `json:"lab"`
		Topology string `json:"topology"`
	}
	if !s.bindJSON(c, &req) || !s.environmentsReady(c) {
		return
	}
	sr, err := s.startRequest(c.Request.Context(), currentUser(c).ID, req.Lab, req.Topology)
	if err != nil {
		s.fail(c, err)
		return
	}
	u := currentUser(c)
	e, err := s.runtime().envs.Start(c.Request.Context(), sr)
	if err != nil {
		s.fail(c, err)
		return
	}
	_ = s.store.Audit(c.Request.Context(), &u.ID, "environment.start", e.ID.String(), map[string]any{"lab": sr.LabID}, c.ClientIP())
	c.JSON(http.StatusAccepted, gin.H{"environment": s.withPosition(c, e)})
}

// startRequest asks for an environment for a lab, or for the playground
// with a topology (default one control plane and one worker).
func (s *Server) startRequest(ctx context.Context, user uuid.UUID, lab, topology string) (provision.StartRequest, error) {
	if lab == "" {
		lab = playground
	}
	cohort, err := s.store.StudentCohort(ctx, user)
	if err != nil {
		return provision.StartRequest{}, err
	}
	sr := provision.StartRequest{UserID: user, LabID: lab, CohortID: cohort, Version: s.cfg.K8sVersion, TimeLimit: time.Hour + s.cfg.EnvGrace}
	if l := s.lab(lab); l != nil {
		sr.Topology, sr.TimeLimit = topologyOf(l), l.TimeLimit.Duration+s.cfg.EnvGrace
		if v := l.Topology.KubernetesVersion; v != "" {
			sr.Version = v
		}
		return sr, nil
	}
	if lab != playground {
		return sr, errNotFound("no lab " + strconv.Quote(lab))
	}
	if topology == "" {
		topology = "1cp-1w"
	}
	topo, err := provision.ParseTopology(topology)
	if err != nil {
		return sr, errBadRequest(err.Error(), nil)
	}
	sr.Topology = topo
	return sr, nil
}

func (s *Server) withPosition(c *gin.Context, e store.Environment) apiEnvironment {
	out := s.toEnvironment(e)
	if e.State == store.EnvRequested {
		if pos, err := s.store.QueuePosition(c.Request.Context(), e.ID); err == nil {
			out.QueuePosition = &pos
		}
	}
	return out
}

// environment loads the :id environment and the caller's access to it:
// control for its owner, view for admins and the owner's instructors;
// 403 for everyone else.
func (s *Server) environment(c *gin.Context) (store.Environment, terminal.Role, bool) {
	id, ok := s.paramID(c, "id")
	if !ok {
		return store.Environment{}, "", false
	}
	e, err := s.store.Environment(c.Request.Context(), id)
	if err != nil {
		s.fail(c, err)
		return e, "", false
	}
	u := currentUser(c)
	switch {
	case e.UserID.Valid && e.UserID.UUID == u.ID:
		return e, terminal.Control, true
	case u.Role == store.RoleAdmin:
		return e, terminal.View, true
	case e.UserID.Valid && u.Role == store.RoleInstructor:
		// The instructors of the environment's own cohort; an environment
		// without one (the playground before cohorts) by any of the student's.
		var teaches bool
		var err error
		if e.CohortID.Valid {
			teaches, err = s.store.TeachesIn(c.Request.Context(), u.ID, e.CohortID.UUID)
		} else {
			teaches, err = s.store.TeachesStudent(c.Request.Context(), u.ID, e.UserID.UUID)
		}
		if err != nil {
			s.fail(c, err)
			return e, "", false
		}
		if teaches {
			return e, terminal.View, true
		}
	}
	s.fail(c, errForbidden("this environment belongs to someone else"))
	return e, "", false
}

func (s *Server) getEnvironment(c *gin.Context) {
	e, _, ok := s.environment(c)
	if !ok {
		return
	}
	c.JSON(http.StatusOK, gin.H{"environment": s.withPosition(c, e)})
}

func (s *Server) environmentEvents(c *gin.Context) {
	e, role, ok := s.environment(c)
	if !ok {
		return
	}
	if role == terminal.Control && e.State == store.EnvInUse {
		// The student's page is open: the environment stays awake.
		_ = s.store.SeeEnvironment(c.Request.Context(), e.ID)
	}
	after, err := strconv.ParseInt(c.DefaultQuery("after", "0"), 10, 64)
	if err != nil {
		s.fail(c, errBadRequest("after must be an event id", nil))
		return
	}
	events, err := s.store.EnvEvents(c.Request.Context(), e.ID, after)
	if err != nil {
		s.fail(c, err)
		return
	}
	type apiEvent struct {
		ID      int64     `json:"id"`
		At      time.Time `json:"at"`
		Phase   string    `json:"phase"`
		Message string    `json:"message,omitempty"`
	}
	out := make([]apiEvent, 0, len(events))
	for _, ev := range events {
		out = append(out, apiEvent{ev.ID, ev.At, ev.Phase, ev.Message})
	}
	resp := gin.H{"events": out, "environment": s.withPosition(c, e)}
	if e.State == store.EnvRequested || e.State == store.EnvProvisioning {
		if d, n := s.typicalStart(c, e.Topology); n >= minStartsForEstimate {
			resp["typicalStartSeconds"], resp["typicalStartOf"] = int(d.Seconds()), n
		}
	}
	c.JSON(http.StatusOK, resp)
}

// wakeEnvironment wakes a sleeping environment (its student's page, or an
// instructor about to watch) and says how long that took.
func (s *Server) wakeEnvironment(c *gin.Context) {
	e, _, ok := s.environment(c)
	if !ok || !s.environmentsReady(c) {
		return
	}
	if e.State != store.EnvInUse {
		s.fail(c, errConflict("this environment is "+string(e.State)+"; only a running environment sleeps and wakes"))
		return
	}
	_ = s.store.SeeEnvironment(c.Request.Context(), e.ID)
	took, ok := s.wake(c, e)
	if !ok {
		return
	}
	if e, ok = s.reload(c, e.ID); ok {
		c.JSON(http.StatusOK, gin.H{"environment": s.toEnvironment(e), "tookSeconds": took.Seconds()})
	}
}

// wake wakes e if it sleeps; on failure it has answered. It asks the
// provisioner even when e, read earlier, was awake: the caller has just
// recorded activity (which no sleep passes), but e may have been marked
// for sleep before that.
func (s *Server) wake(c *gin.Context, e store.Environment) (time.Duration, bool) {
	if s.runtime().envs == nil {
		return 0, e.PausedAt == nil || s.environmentsReady(c)
	}
	ctx, cancel := contextTimeout(c, 2*time.Minute)
	defer cancel()
	took, err := s.runtime().envs.Wake(ctx, e.ID)
	if err != nil {
		s.log.Error("waking an environment", "env", e.ID, "err", err)
		s.fail(c, &apiError{Status: http.StatusServiceUnavailable, Code: "wake_failed", Message: "your cluster did not wake up; try again, or Reset it for a fresh one"})
		return 0, false
	}
	return took, true
}

// reload reads an environment again; on failure it has answered.
func (s *Server) reload(c *gin.Context, id uuid.UUID) (store.Environment, bool) {
	e, err := s.store.Environment(c.Request.Context(), id)
	if err != nil {
		s.fail(c, err)
		return e, false
	}
	return e, true
}

// minStartsForEstimate is how many cold starts an estimate needs.
const minStartsForEstimate = 3

// typicalStart is the median cold start of a topology, looked up at most
// every 30 s (a starting page asks every second).
func (s *Server) typicalStart(c *gin.Context, topology string) (time.Duration, int) {
	type estimate struct {
		at time.Time
		d  time.Duration
		n  int
	}
	if v, ok := s.starts.Load(topology); ok && time.Since(v.(estimate).at) < 30*time.Second {
		return v.(estimate).d, v.(estimate).n
	}
	d, n, err := s.store.TypicalColdStart(c.Request.Context(), topology)
	if err != nil {
		return 0, 0
	}
	s.starts.Store(topology, estimate{time.Now(), d, n})
	return d, n
}

func (s *Server) stopEnvironment(c *gin.Context) {
	e, _, ok := s.environment(c)
	if !ok || !s.environmentsReady(c) {
		return
	}
	if err := s.runtime().envs.Stop(c.Request.Context(), e.ID); err != nil {
		s.fail(c, err)
		return
	}
	if s.runtime().terminals != nil {
		s.runtime().terminals.CloseEnv(e.ID, "this environment was stopped")
	}
	u := currentUser(c)
	_ = s.store.Audit(c.Request.Context(), &u.ID, "environment.stop", e.ID.String(), nil, c.ClientIP())
	c.JSON(http.StatusAccepted, gin.H{"status": "deleting"})
}

func (s *Server) extendEnvironment(c *gin.Context) {
	var req struct {
		Minutes int `json:"minutes"`
	}
	if !s.bindJSON(c, &req) {
		return
	}
	if req.Minutes < 1 || req.Minutes > 240 {
		s.fail(c, errBadRequest("minutes must be 1 to 240", nil))
		return
	}
	e, _, ok := s.environment(c)
	if !ok {
		return
	}
	e, err := s.store.ExtendEnvironment(c.Request.Context(), e.ID, time.Duration(req.Minutes)*time.Minute, s.cfg.MaxEnvTime)
	if err != nil {
		s.fail(c, err)
		return
	}
	u := currentUser(c)
	_ = s.store.Audit(c.Request.Context(), &u.ID, "environment.extend", e.ID.String(), map[string]any{"minutes": req.Minutes}, c.ClientIP())
	c.JSON(http.StatusOK, gin.H{"environment": s.toEnvironment(e)})
}

func topologyOf(l *labs.Lab) provision.Topology {
	return provision.Topology{Workers: l.Topology.Workers}
}
