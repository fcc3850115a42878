package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/ckalab/ckalab/store"
	"github.com/ckalab/ckalab/terminal"
)

// apiProgress is a student's standing in one lab.
type apiProgress struct {
	BestScore   float64    `json:"bestScore"`
	MaxScore    float64    `json:"maxScore"`
	Checks      int        `json:"checks"`
	Passed      bool       `json:"passed"`
	LastCheckAt *time.Time `json:"lastCheckAt,omitempty"`
	HintsUsed   int        `json:"hintsUsed"`
}

func toProgress(p store.LabProgress) apiProgress {
	return apiProgress{p.BestScore, p.MaxScore, p.Checks, p.Passed, p.LastCheckAt, p.HintsUsed}
}

// progressOf maps user → lab → progress.
func (s *Server) progressOf(c *gin.Context, users []uuid.UUID) (map[uuid.UUID]map[string]apiProgress, bool) {
	ps, err := s.store.Progress(c.Request.Context(), users)
	if err != nil {
		s.fail(c, err)
		return nil, false
	}
	out := map[uuid.UUID]map[string]apiProgress{}
	for _, p := range ps {
		if out[p.UserID] == nil {
			out[p.UserID] = map[string]apiProgress{}
		}
		out[p.UserID][p.LabID] = toProgress(p)
	}
	return out, true
}

type apiAttempt struct {
	apiEnvironment
	EndedAt   *time.Time `json:"endedAt,omitempty"`
	BestScore float64    `json:"bestScore"`
	MaxScore  float64    `json:"maxScore"`
	Checks    int        `json:"checks"`
}

func (s *Server) attemptsOf(c *gin.Context, user uuid.UUID) ([]apiAttempt, bool) {
	as, err := s.store.Attempts(c.Request.Context(), user, 100)
	if err != nil {
		s.fail(c, err)
		return nil, false
	}
	out := make([]apiAttempt, 0, len(as))
	for _, a := range as {
		out = append(out, apiAttempt{s.toEnvironment(a.Environment), a.EndedAt, a.BestScore, a.MaxScore, a.Checks})
	}
	return out, true
}

// listAttempts is the caller's history: every environment, with its best Check.
func (s *Server) listAttempts(c *gin.Context) {
	out, ok := s.attemptsOf(c, currentUser(c).ID)
	if ok {
		c.JSON(http.StatusOK, gin.H{"attempts": out})
	}
}

// listHints shows the hints the environment's student revealed, per task.
func (s *Server) listHints(c *gin.Context) {
	e, _, ok := s.environment(c)
	if !ok {
		return
	}
	l := s.lab(e.LabID)
	if l == nil {
		c.JSON(http.StatusOK, gin.H{"hints": gin.H{}})
		return
	}
	n, err := s.store.HintsRevealed(c.Request.Context(), e.UserID.UUID, l.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := map[string][]string{}
	for _, t := range l.Tasks {
		if k := min(n[t.ID], len(t.Hints)); k > 0 {
			out[t.ID] = t.Hints[:k]
		}
	}
	c.JSON(http.StatusOK, gin.H{"hints": out})
}

// revealHint shows the student the next hint of a task, and records it.
func (s *Server) revealHint(c *gin.Context) {
	var req struct {
		TaskID string `json:"taskId"`
	}
	if !s.bindJSON(c, &req) {
		return
	}
	e, role, ok := s.environment(c)
	if !ok {
		return
	}
	if role != terminal.Control {
		s.fail(c, errForbidden("only the student working in this environment reveals its hints"))
		return
	}
	l := s.lab(e.LabID)
	if l == nil {
		s.fail(c, errConflict("this environment has no graded lab"))
		return
	}
	var hints []string
	found := false
	for _, t := range l.Tasks {
		if t.ID == req.TaskID {
			hints, found = t.Hints, true
		}
	}
	if !found {
		s.fail(c, errBadRequest("no task "+strconv.Quote(req.TaskID)+" in lab "+l.ID, nil))
		return
	}
	if len(hints) == 0 {
		s.fail(c, errConflict("this task has no hints"))
		return
	}
	n, err := s.store.RevealHint(c.Request.Context(), e.UserID.UUID, l.ID, req.TaskID, e.ID, len(hints))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"taskId": req.TaskID, "hints": hints[:min(n, len(hints))], "remaining": len(hints) - min(n, len(hints))})
}

// resetEnvironment replaces an environment with a fresh one for the same
// lab and student: its owner or their instructor may.
func (s *Server) resetEnvironment(c *gin.Context) {
	e, _, ok := s.environment(c)
	if !ok || !s.environmentsReady(c) {
		return
	}
	if !e.UserID.Valid {
		s.fail(c, errConflict("this environment has no student"))
		return
	}
	sr, err := s.startRequest(c.Request.Context(), e.UserID.UUID, e.LabID, e.Topology)
	if err != nil {
		s.fail(c, err)
		return
	}
	switch e.State {
	case store.EnvRequested, store.EnvProvisioning, store.EnvReady, store.EnvInUse, store.EnvExpired:
		if err := s.runtime().envs.Stop(c.Request.Context(), e.ID); err != nil {
			s.fail(c, err)
			return
		}
		if s.runtime().terminals != nil {
			s.runtime().terminals.CloseEnv(e.ID, "this environment was reset")
		}
	}
	fresh, err := s.runtime().envs.Start(c.Request.Context(), sr)
	if err != nil {
		s.fail(c, err)
		return
	}
	u := currentUser(c)
	_ = s.store.Audit(c.Request.Context(), &u.ID, "environment.reset", e.ID.String(), map[string]any{"lab": e.LabID, "new": fresh.ID.String()}, c.ClientIP())
	c.JSON(http.StatusAccepted, gin.H{"environment": s.withPosition(c, fresh)})
}

// environmentHealth asks the environment's cluster how it is.
func (s *Server) environmentHealth(c *gin.Context) {
	e, _, ok := s.environment(c)
	if !ok {
		return
	}
	resp := gin.H{"environment": s.withPosition(c, e)}
	// A sleeping cluster is not asked: the page wakes it first.
	if e.State == store.EnvInUse && e.PausedAt == nil && s.runtime().health != nil {
		ctx, cancel := contextTimeout(c, 15*time.Second)
		defer cancel()
		resp["cluster"] = s.runtime().health(ctx, e)
	}
	c.JSON(http.StatusOK, resp)
}
