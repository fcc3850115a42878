package server

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/ckalab/ckalab/grader"
	"github.com/ckalab/ckalab/labs"
	"github.com/ckalab/ckalab/store"
	"github.com/ckalab/ckalab/terminal"
)

// GradeFunc grades an environment's cluster against its lab.
type GradeFunc func(ctx context.Context, lab *labs.Lab, env store.Environment) grader.Report

type apiLab struct {
	ID          string    `json:"id"`
	Title       string    `json:"title"`
	Domain      string    `json:"domain"`
	DomainName  string    `json:"domainName"`
	Difficulty  string    `json:"difficulty"`
	Minutes     int       `json:"minutes"`
	Topology    string    `json:"topology"`
	Description string    `json:"description,omitempty"`
	Tasks       []apiTask `json:"tasks,omitempty"`
	// Progress is the caller's best standing in the lab, once checked.
	Progress *apiProgress `json:"progress,omitempty"`
}

type apiTask struct {
	ID       string     `json:"id"`
	Title    string     `json:"title"`
	Markdown string     `json:"markdown"`
	Weight   int        `json:"weight"`
	Hints    int        `json:"hints"` // how many; revealed one at a time
	Checks   []apiCheck `json:"checks"`
}

type apiCheck struct {
	ID          string `json:"id"`
	Description string `json:"description"`
}

func toLab(l *labs.Lab, full bool) apiLab {
	out := apiLab{ID: l.ID, Title: l.Title, Domain: l.Domain, DomainName: labs.Domains[l.Domain], Difficulty: l.Difficulty,
		Minutes: int(l.TimeLimit.Minutes()), Topology: topologyOf(l).String()}
	if !full {
		return out
	}
	out.Description = l.Description
	for _, t := range l.Tasks {
		at := apiTask{ID: t.ID, Title: t.Title, Markdown: t.Markdown, Weight: t.Weight, Hints: len(t.Hints), Checks: []apiCheck{}}
		for _, c := range t.Checks {
			at.Checks = append(at.Checks, apiCheck{c.ID, c.Description})
		}
		out.Tasks = append(out.Tasks, at)
	}
	return out
}

func (s *Server) lab(id string) *labs.Lab {
	for _, l := range s.labs {
		if l.ID == id {
			return l
		}
	}
	return nil
}

func (s *Server) listLabs(c *gin.Context) {
	me := currentUser(c).ID
	progress, ok := s.progressOf(c, []uuid.UUID{me})
	if !ok {
		return
	}
	out := make([]apiLab, 0, len(s.labs))
	for _, l := range s.labs {
		al := toLab(l, false)
		if p, ok := progress[me][l.ID]; ok {
			al.Progress = &p
		}
		out = append(out, al)
	}
	c.JSON(http.StatusOK, gin.H{"labs": out})
}

func (s *Server) getLab(c *gin.Context) {
	l := s.lab(c.Param("lab"))
	if l == nil {
		s.fail(c, errNotFound("no lab "+c.Param("lab")))
		return
	}
	c.JSON(http.StatusOK, gin.H{"lab": toLab(l, true)})
}

type apiCheckRun struct {
	ID       string              `json:"id"`
	At       time.Time           `json:"at"`
	TookMs   int64               `json:"tookMs"`
	Score    float64             `json:"score"`
	MaxScore float64             `json:"maxScore"`
	Counted  bool                `json:"counted"` // false after the student gave up
	Results  []store.CheckResult `json:"results"`
}

func toCheckRun(r store.CheckRun) apiCheckRun {
	return apiCheckRun{r.ID.String(), r.CreatedAt, r.Duration.Milliseconds(), r.Score, r.MaxScore, r.Counted, r.Results}
}

// checkEnvironment grades the environment now; only its owner may.
func (s *Server) checkEnvironment(c *gin.Context) {
	e, role, ok := s.environment(c)
	if !ok {
		return
	}
	if role != terminal.Control {
		s.fail(c, errForbidden("only the student working in this environment can press Check"))
		return
	}
	l := s.lab(e.LabID)
	if l == nil || s.runtime().grade == nil {
		s.fail(c, errConflict("this environment has no graded lab"))
		return
	}
	if e.State != store.EnvInUse {
		s.fail(c, errConflict("this environment is "+string(e.State)+"; checks run on a running environment"))
		return
	}
	// One check at a time per environment.
	busy, _ := s.grading.LoadOrStore(e.ID, &sync.Mutex{})
	mu := busy.(*sync.Mutex)
	if !mu.TryLock() {
		s.fail(c, &apiError{Status: http.StatusTooManyRequests, Code: "check_running", Message: "a check is already running for this environment"})
		return
	}
	defer mu.Unlock()
	_ = s.store.TouchEnvironment(c.Request.Context(), e.ID)
	if _, ok := s.wake(c, e); !ok {
		return
	}
	ctx, cancel := contextTimeout(c, 2*time.Minute)
	defer cancel()
	rep := s.runtime().grade(ctx, l, e)
	run := store.CheckRun{EnvironmentID: e.ID, UserID: e.UserID.UUID, LabID: e.LabID, Duration: rep.Took, Score: rep.Score, MaxScore: rep.MaxScore}
	for _, r := range rep.Results {
		ev, _ := json.Marshal(r.Evidence)
		if r.Evidence == nil {
			ev = nil
		}
		run.Results = append(run.Results, store.CheckResult{TaskID: r.TaskID, CheckID: r.CheckID, Passed: r.Passed, Weight: r.Weight, Message: r.Message, Evidence: ev})
	}
	saved, err := s.store.SaveCheckRun(c.Request.Context(), run)
	s.metrics.graded(ctx, rep, err)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"run": toCheckRun(saved)})
}

// listChecks is an environment's attempt history: its student and their
// instructors see it.
func (s *Server) listChecks(c *gin.Context) {
	e, _, ok := s.environment(c)
	if !ok {
		return
	}
	runs, err := s.store.CheckRuns(c.Request.Context(), e.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := make([]apiCheckRun, 0, len(runs))
	for _, r := range runs {
		out = append(out, toCheckRun(r))
	}
	c.JSON(http.StatusOK, gin.H{"runs": out})
}

// getSolution shows a lab's solution: to instructors and admins watching
// the environment, and to its student once the attempt is over (given up,
// out of time, or full marks) and the environment's cohort shows solutions.
func (s *Server) getSolution(c *gin.Context) {
	e, role, ok := s.environment(c)
	if !ok {
		return
	}
	l := s.lab(e.LabID)
	if l == nil {
		s.fail(c, errNotFound("this environment has no lab solution"))
		return
	}
	if role == terminal.Control {
		visible, err := s.store.SolutionsVisible(c.Request.Context(), currentUser(c).ID, e.CohortID)
		if err != nil {
			s.fail(c, err)
			return
		}
		if !visible {
			s.fail(c, errForbidden("your instructor has not made solutions visible"))
			return
		}
		over := e.Over(time.Now())
		if !over {
			runs, err := s.store.CheckRuns(c.Request.Context(), e.ID)
			if err != nil {
				s.fail(c, err)
				return
			}
			for _, r := range runs {
				over = over || (r.Counted && r.MaxScore > 0 && r.Score >= r.MaxScore)
			}
		}
		if !over {
			s.fail(c, errForbidden("the solution shows once the attempt is over: at full marks, when time is up, or after you give up (POST …/give-up)"))
			return
		}
		// From now on no Check of this student in this lab counts.
		if err := s.store.SolutionSeen(c.Request.Context(), e.UserID.UUID, e.LabID); err != nil {
			s.fail(c, err)
			return
		}
	}
	type apiStep struct {
		Manifest string `json:"manifest,omitempty"`
		Node     string `json:"node,omitempty"`
		Script   string `json:"script,omitempty"`
	}
	steps := []apiStep{}
	for _, st := range l.Solution {
		switch {
		case st.Run != nil:
			steps = append(steps, apiStep{Node: st.Run.Node, Script: st.Run.Script})
		default:
			m, err := l.Manifest(st)
			if err != nil {
				s.fail(c, err)
				return
			}
			steps = append(steps, apiStep{Manifest: m})
		}
	}
	type apiExplanation struct {
		TaskID   string `json:"taskId"`
		Title    string `json:"title"`
		Markdown string `json:"markdown"`
	}
	explanations := []apiExplanation{}
	for _, t := range l.Tasks {
		if t.Explanation != "" {
			explanations = append(explanations, apiExplanation{t.ID, t.Title, t.Explanation})
		}
	}
	c.JSON(http.StatusOK, gin.H{"steps": steps, "explanations": explanations})
}

// giveUp ends the attempt's grading so its student may read the solution:
// Checks after it are kept and shown but never counted. Only the student.
func (s *Server) giveUp(c *gin.Context) {
	e, role, ok := s.environment(c)
	if !ok {
		return
	}
	if role != terminal.Control {
		s.fail(c, errForbidden("only the student working in this environment can give it up"))
		return
	}
	if s.lab(e.LabID) == nil {
		s.fail(c, errConflict("this environment has no graded lab"))
		return
	}
	e, err := s.store.GiveUp(c.Request.Context(), e.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	if err := s.store.SolutionSeen(c.Request.Context(), e.UserID.UUID, e.LabID); err != nil {
		s.fail(c, err)
		return
	}
	u := currentUser(c)
	s.audit(c, &u.ID, "environment.give_up", e.ID.String(), map[string]any{"lab": e.LabID})
	c.JSON(http.StatusOK, gin.H{"environment": s.toEnvironment(e)})
}
