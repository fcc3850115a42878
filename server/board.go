package server

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/ckalab/ckalab/store"
)

// boardInterval is how often a live board looks for changes.
const boardInterval = time.Second

type boardLab struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

type boardEnv struct {
	ID             uuid.UUID      `json:"id"`
	LabID          string         `json:"labId"`
	State          store.EnvState `json:"state"`
	Failure        string         `json:"failure,omitempty"`
	StartedAt      *time.Time     `json:"startedAt,omitempty"`
	ExpiresAt      *time.Time     `json:"expiresAt,omitempty"`
	LastActivityAt *time.Time     `json:"lastActivityAt,omitempty"`
}

type boardRow struct {
	User        apiUser                `json:"user"`
	Environment *boardEnv              `json:"environment"`
	Progress    map[string]apiProgress `json:"progress"`
	// LastActivityAt is the newest keystroke, Check or start.
	LastActivityAt *time.Time `json:"lastActivityAt,omitempty"`
}

type board struct {
	Labs     []boardLab `json:"labs"`
	Students []boardRow `json:"students"`
}

// board is the cohort's students × labs: each student's newest
// environment and their best Check per lab.
func (s *Server) board(ctx context.Context, cohort uuid.UUID) (board, error) {
	b := board{Labs: make([]boardLab, 0, len(s.labs)), Students: []boardRow{}}
	for _, l := range s.labs {
		b.Labs = append(b.Labs, boardLab{l.ID, l.Title})
	}
	ms, err := s.store.Members(ctx, cohort)
	if err != nil {
		return b, err
	}
	var ids []uuid.UUID
	for _, m := range ms {
		if m.Role == store.CohortStudent {
			ids = append(ids, m.User.ID)
		}
	}
	progress, err := s.store.Progress(ctx, ids)
	if err != nil {
		return b, err
	}
	latest, err := s.store.LatestEnvironments(ctx, ids)
	if err != nil {
		return b, err
	}
	for _, m := range ms {
		if m.Role != store.CohortStudent {
			continue
		}
		row := boardRow{User: toUser(m.User), Progress: map[string]apiProgress{}}
		later := func(t *time.Time) {
			if t != nil && (row.LastActivityAt == nil || t.After(*row.LastActivityAt)) {
				row.LastActivityAt = t
			}
		}
		if e, ok := latest[m.User.ID]; ok {
			row.Environment = &boardEnv{e.ID, e.LabID, e.State, e.Failure, e.StartedAt, e.ExpiresAt, e.LastActivityAt}
			later(e.LastActivityAt)
			later(&e.CreatedAt)
		}
		for _, p := range progress {
			if p.UserID == m.User.ID {
				row.Progress[p.LabID] = toProgress(p)
				later(p.LastCheckAt)
			}
		}
		b.Students = append(b.Students, row)
	}
	return b, nil
}

// cohortBoard is the :id cohort's board, for its instructors.
func (s *Server) cohortBoard(c *gin.Context) (store.Cohort, board, bool) {
	ch, ok := s.instructorCohort(c)
	if !ok {
		return ch, board{}, false
	}
	b, err := s.board(c.Request.Context(), ch.ID)
	if err != nil {
		s.fail(c, err)
		return ch, b, false
	}
	return ch, b, true
}

func (s *Server) getBoard(c *gin.Context) {
	if _, b, ok := s.cohortBoard(c); ok {
		c.JSON(http.StatusOK, b)
	}
}

// boardEvents pushes the board as server-sent events whenever it changes,
// with a comment every 15 s to keep proxies from closing the stream.
func (s *Server) boardEvents(c *gin.Context) {
	ch, ok := s.instructorCohort(c)
	if !ok {
		return
	}
	live, ok := s.openStream(c)
	if !ok {
		return
	}
	defer s.closeStream(live)
	c.Header("Content-Type", "text/event-stream")
	c.Header("Cache-Control", "no-store")
	c.Header("X-Accel-Buffering", "no")
	c.Status(http.StatusOK)
	ctx := c.Request.Context()
	tick := time.NewTicker(boardInterval)
	defer tick.Stop()
	var last []byte
	quiet := 0
	// A client that stops reading must not hold the stream (and its slot):
	// each write gets a deadline.
	rc := http.NewResponseController(c.Writer)
	for {
		_ = rc.SetWriteDeadline(time.Now().Add(boardInterval + 10*time.Second))
		b, err := s.board(ctx, ch.ID)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			s.log.Warn("cohort board", "cohort", ch.ID, "err", err)
			fmt.Fprintf(c.Writer, "event: problem\ndata: %q\n\n", "the server could not read the board; retrying")
		default:
			data, _ := json.Marshal(b)
			if !bytes.Equal(data, last) {
				last = data
				quiet = 0
				fmt.Fprintf(c.Writer, "event: board\ndata: %s\n\n", data)
			} else if quiet++; quiet%15 == 0 {
				fmt.Fprint(c.Writer, ": keepalive\n\n")
			}
		}
		c.Writer.Flush()
		select {
		case <-ctx.Done():
			return
		case <-s.drain:
			return
		case <-live.Done():
			fmt.Fprintf(c.Writer, "event: end\ndata: %q\n\n", live.Why())
			c.Writer.Flush()
			return
		case <-tick.C:
		}
	}
}

// gradesCSV exports the cohort's grades: a row per student, a column per
// lab with the best score in percent (empty when never checked).
func (s *Server) gradesCSV(c *gin.Context) {
	ch, b, ok := s.cohortBoard(c)
	if !ok {
		return
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	head := []string{"email", "name"}
	for _, l := range b.Labs {
		head = append(head, l.ID)
	}
	head = append(head, "labs_passed", "checks", "hints_used", "last_activity")
	_ = w.Write(head)
	for _, row := range b.Students {
		rec := []string{csvSafe(row.User.Email), csvSafe(row.User.Name)}
		passed, checks, hints := 0, 0, 0
		for _, l := range b.Labs {
			p, ok := row.Progress[l.ID]
			cell := ""
			if ok && p.Checks > 0 && p.MaxScore > 0 {
				cell = strconv.FormatFloat(100*p.BestScore/p.MaxScore, 'f', 1, 64)
			}
			if p.Passed {
				passed++
			}
			checks += p.Checks
			hints += p.HintsUsed
			rec = append(rec, cell)
		}
		last := ""
		if row.LastActivityAt != nil {
			last = row.LastActivityAt.UTC().Format(time.RFC3339)
		}
		rec = append(rec, strconv.Itoa(passed), strconv.Itoa(checks), strconv.Itoa(hints), last)
		_ = w.Write(rec)
	}
	w.Flush()
	u := currentUser(c)
	_ = s.store.Audit(c.Request.Context(), &u.ID, "cohort.export_grades", ch.ID.String(), nil, c.ClientIP())
	name := fmt.Sprintf("ckalab-grades-%s.csv", time.Now().UTC().Format("2006-01-02"))
	c.Header("Content-Disposition", `attachment; filename="`+name+`"`)
	c.Data(http.StatusOK, "text/csv; charset=utf-8", buf.Bytes())
}

// csvSafe keeps a spreadsheet from reading a cell as a formula.
func csvSafe(v string) string {
	if v != "" && strings.IndexByte("=+-@\t\r", v[0]) >= 0 {
		return "'" + v
	}
	return v
}

// getStudent is one student of the cohort for their instructor: their
// attempts (environments with best Checks) and standing per lab.
func (s *Server) getStudent(c *gin.Context) {
	ch, ok := s.instructorCohort(c)
	if !ok {
		return
	}
	uid, ok := s.paramID(c, "uid")
	if !ok {
		return
	}
	role, err := s.store.CohortRoleOf(c.Request.Context(), ch.ID, uid)
	if err != nil || role != store.CohortStudent {
		s.fail(c, errNotFound("no such student in this cohort"))
		return
	}
	u, err := s.store.UserByID(c.Request.Context(), uid)
	if err != nil {
		s.fail(c, err)
		return
	}
	attempts, ok := s.attemptsOf(c, uid)
	if !ok {
		return
	}
	progress, ok := s.progressOf(c, []uuid.UUID{uid})
	if !ok {
		return
	}
	p := progress[uid]
	if p == nil {
		p = map[string]apiProgress{}
	}
	c.JSON(http.StatusOK, gin.H{"cohort": toCohort(ch), "user": toUser(u), "attempts": attempts, "progress": p})
}
