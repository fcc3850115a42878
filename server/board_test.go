package server_test

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ckalab/ckalab/grader"
	"github.com/ckalab/ckalab/labs"
	"github.com/ckalab/ckalab/provision"
	"github.com/ckalab/ckalab/server"
	"github.com/ckalab/ckalab/store"
)

// queueEnvs is a provisioner that only writes rows: Start queues, Stop deletes.
type queueEnvs struct {
	st     *store.Store
	mu     sync.Mutex
	starts []provision.StartRequest
}

func (q *queueEnvs) Start(ctx context.Context, r provision.StartRequest) (store.Environment, error) {
	q.mu.Lock()
	q.starts = append(q.starts, r)
	q.mu.Unlock()
	return q.st.RequestEnvironment(ctx, store.EnvRequest{UserID: uuid.NullUUID{UUID: r.UserID, Valid: true}, LabID: r.LabID,
		Topology: r.Topology.String(), K8sVersion: r.Version, ClusterName: "q-" + uuid.NewString()[:8], TimeLimit: r.TimeLimit})
}

func (q *queueEnvs) Stop(ctx context.Context, id uuid.UUID) error {
	return q.st.SetEnvState(ctx, id, store.EnvDeleting, store.EnvRequested, store.EnvInUse)
}

func (q *queueEnvs) Wake(context.Context, uuid.UUID) (time.Duration, error) { return 0, nil }

// TestCohortBoard follows a student's lab from the instructor's side:
// the board (JSON and pushed), the student page, hints, reset and CSV.
func TestCohortBoard(t *testing.T) {
	t.Parallel()
	catalog, err := labs.LoadAll("../labs")
	if err != nil {
		t.Fatal(err)
	}
	scores := []float64{1.5, 5}
	var mu sync.Mutex
	envs := &queueEnvs{}
	e := newEnvWith(t, func(d *server.Deps) {
		d.Labs = catalog
		envs.st = d.Store
		d.Envs = envs
		d.Grade = func(ctx context.Context, l *labs.Lab, env store.Environment) grader.Report {
			mu.Lock()
			defer mu.Unlock()
			s := scores[0]
			scores = scores[1:]
			return grader.Report{Score: s, MaxScore: 5, Results: []grader.Result{{TaskID: l.Tasks[0].ID, CheckID: l.Tasks[0].Checks[0].ID, Passed: s == 5, Weight: 5, Message: "m"}}}
		}
	})
	ctx := context.Background()
	ana := e.user("ana@example.com", store.RoleStudent)
	e.user("bo@example.com", store.RoleStudent)
	teach := e.user("t@example.com", store.RoleInstructor)
	e.user("t2@example.com", store.RoleInstructor)
	cohort, _ := e.store.CreateCohort(ctx, "CKA", teach.ID)
	_ = e.store.AddMember(ctx, cohort.ID, ana.ID, store.CohortStudent)
	login := func(email string) *client { c := e.client(); c.login(email, "password-"+email); return c }
	anaC, boC, teachC, otherC := login("ana@example.com"), login("bo@example.com"), login("t@example.com"), login("t2@example.com")
	base := "/api/v1/cohorts/" + cohort.ID.String()

	// Who may see the board.
	if r := anaC.do("GET", base+"/board", nil); r.Status != 403 {
		t.Fatalf("student read the board: %d", r.Status)
	}
	for _, c := range []*client{boC, otherC} {
		if r := c.do("GET", base+"/board", nil); r.Status != 404 {
			t.Fatalf("non-member read the board: %d", r.Status)
		}
		if r := c.do("GET", base+"/grades.csv", nil); r.Status != 404 {
			t.Fatalf("non-member exported grades: %d", r.Status)
		}
	}

	// The live board: the first push is the empty standing.
	req, _ := http.NewRequest("GET", e.srv.URL+base+"/board/events", nil)
	sse, err := teachC.http.Do(req)
	if err != nil || sse.StatusCode != 200 || !strings.HasPrefix(sse.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("board events: %v %v", err, sse)
	}
	defer sse.Body.Close()
	events := boardEvents(t, sse.Body)
	first := <-events
	if len(first.Students) != 1 || first.Students[0].Environment != nil || len(first.Students[0].Progress) != 0 {
		t.Fatalf("first board: %+v", first)
	}

	envID := inUse(t, e.store, ana.ID, "c-control-plane")
	_, _ = e.store.Pool().Exec(ctx, `UPDATE environments SET lab_id = 'rbac-developer', last_activity_at = NULL WHERE id = $1`, envID)
	envPath := "/api/v1/environments/" + envID.String()

	// Hints: counted in the lab, revealed one at a time, recorded.
	r := anaC.do("GET", "/api/v1/labs/rbac-developer", nil)
	task := r.Body["lab"].(map[string]any)["tasks"].([]any)[0].(map[string]any)
	nHints := len(catalog[indexOf(catalog, "rbac-developer")].Tasks[0].Hints)
	if task["hints"] != float64(nHints) || nHints < 1 {
		t.Fatalf("lab shows %v hints, has %d", task["hints"], nHints)
	}
	if r := teachC.do("POST", envPath+"/hints", map[string]any{"taskId": task["id"]}); r.Status != 403 {
		t.Fatalf("instructor revealed a hint: %d", r.Status)
	}
	if r := anaC.do("POST", envPath+"/hints", map[string]any{"taskId": "nope"}); r.Status != 400 {
		t.Fatalf("unknown task: %d", r.Status)
	}
	for i := 1; i <= nHints+1; i++ {
		r := anaC.do("POST", envPath+"/hints", map[string]any{"taskId": task["id"]})
		if got := len(r.Body["hints"].([]any)); r.Status != 200 || got != min(i, nHints) {
			t.Fatalf("reveal %d: %d %v", i, r.Status, r.Body)
		}
	}
	if r := teachC.do("GET", envPath+"/hints", nil); r.Status != 200 || len(r.Body["hints"].(map[string]any)[task["id"].(string)].([]any)) != nHints {
		t.Fatalf("instructor hints view: %d %v", r.Status, r.Body)
	}

	// A failing Check, then a passing one: both reach the board.
	if r := anaC.do("POST", envPath+"/check", map[string]any{}); r.Status != 200 {
		t.Fatalf("check: %d %v", r.Status, r.Body)
	}
	b := waitBoard(t, events, func(b boardJSON) bool { return b.Students[0].Progress["rbac-developer"].Checks == 1 })
	row := b.Students[0]
	if p := row.Progress["rbac-developer"]; p.BestScore != 1.5 || p.Passed || p.HintsUsed != nHints ||
		row.Environment == nil || row.Environment.ID != envID.String() || row.LastActivityAt == nil {
		t.Fatalf("board after a failing check: %+v", row)
	}
	if r := anaC.do("POST", envPath+"/check", map[string]any{}); r.Status != 200 {
		t.Fatalf("check: %d %v", r.Status, r.Body)
	}
	b = waitBoard(t, events, func(b boardJSON) bool { return b.Students[0].Progress["rbac-developer"].Passed })
	if p := b.Students[0].Progress["rbac-developer"]; p.BestScore != 5 || p.Checks != 2 {
		t.Fatalf("board after a pass: %+v", p)
	}

	// The catalog and history show the student's own standing.
	r = anaC.do("GET", "/api/v1/labs", nil)
	for _, l := range r.Body["labs"].([]any) {
		l := l.(map[string]any)
		if p, ok := l["progress"].(map[string]any); (l["id"] == "rbac-developer") != ok || (ok && p["passed"] != true) {
			t.Fatalf("catalog progress of %v: %v", l["id"], l["progress"])
		}
	}
	r = anaC.do("GET", "/api/v1/attempts", nil)
	if a := r.Body["attempts"].([]any); r.Status != 200 || len(a) != 1 || a[0].(map[string]any)["bestScore"] != 5.0 {
		t.Fatalf("attempts: %d %v", r.Status, r.Body)
	}

	// The student page: for the cohort's instructor, about its students only.
	r = teachC.do("GET", base+"/students/"+ana.ID.String(), nil)
	if r.Status != 200 || len(r.Body["attempts"].([]any)) != 1 || r.Body["progress"].(map[string]any)["rbac-developer"] == nil {
		t.Fatalf("student page: %d %v", r.Status, r.Body)
	}
	if r := teachC.do("GET", base+"/students/"+teach.ID.String(), nil); r.Status != 404 {
		t.Fatalf("student page of an instructor: %d", r.Status)
	}
	if r := otherC.do("GET", base+"/students/"+ana.ID.String(), nil); r.Status != 404 {
		t.Fatalf("another instructor read the student page: %d", r.Status)
	}
	if r := teachC.do("GET", base+"/students/nope", nil); r.Status != 400 {
		t.Fatalf("bad student id: %d", r.Status)
	}

	// Grades: the pass, as a percentage, in the student's row.
	g, err := teachC.http.Get(e.srv.URL + base + "/grades.csv")
	if err != nil || g.StatusCode != 200 || !strings.Contains(g.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("grades: %v %v", err, g)
	}
	recs, err := csv.NewReader(g.Body).ReadAll()
	g.Body.Close()
	if err != nil || len(recs) != 2 {
		t.Fatalf("grades csv: %v %v", err, recs)
	}
	col := indexOfString(recs[0], "rbac-developer")
	if recs[1][0] != "ana@example.com" || recs[1][col] != "100.0" || recs[1][indexOfString(recs[0], "labs_passed")] != "1" ||
		recs[1][indexOfString(recs[0], "svc-selector")] != "" {
		t.Fatalf("grades row: %v / %v", recs[0], recs[1])
	}

	// Reset by the instructor: the old cluster goes, a fresh one for the same lab comes.
	if r := boC.do("POST", envPath+"/reset", map[string]any{}); r.Status != 403 {
		t.Fatalf("another student reset: %d", r.Status)
	}
	r = teachC.do("POST", envPath+"/reset", map[string]any{})
	fresh, _ := r.Body["environment"].(map[string]any)
	if r.Status != 202 || fresh["labId"] != "rbac-developer" || fresh["id"] == envID.String() || fresh["userId"] != ana.ID.String() {
		t.Fatalf("reset: %d %v", r.Status, r.Body)
	}
	if old, _ := e.store.Environment(ctx, envID); old.State != store.EnvDeleting {
		t.Fatalf("old environment is %s after reset", old.State)
	}
	b = waitBoard(t, events, func(b boardJSON) bool { return b.Students[0].Environment.ID == fresh["id"] })
	if b.Students[0].Environment.State != "requested" {
		t.Fatalf("board after reset: %+v", b.Students[0].Environment)
	}
}

type boardJSON struct {
	Students []struct {
		User        struct{ Email string }
		Environment *struct {
			ID    string
			State string
		}
		Progress map[string]struct {
			BestScore float64
			Checks    int
			Passed    bool
			HintsUsed int
		}
		LastActivityAt *time.Time
	}
}

// boardEvents decodes the board pushes of a server-sent event stream.
func boardEvents(t *testing.T, body io.Reader) <-chan boardJSON {
	out := make(chan boardJSON, 100)
	go func() {
		defer close(out)
		sc := bufio.NewScanner(body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		event := ""
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: ") && event == "board":
				var b boardJSON
				if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &b); err != nil {
					t.Errorf("board event: %v", err)
					return
				}
				out <- b
			}
		}
	}()
	return out
}

func waitBoard(t *testing.T, events <-chan boardJSON, ok func(boardJSON) bool) boardJSON {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case b, open := <-events:
			if !open {
				t.Fatal("board stream ended")
			}
			if ok(b) {
				return b
			}
		case <-timeout:
			t.Fatal("the board never showed the change")
		}
	}
}

func indexOf(catalog []*labs.Lab, id string) int {
	for i, l := range catalog {
		if l.ID == id {
			return i
		}
	}
	panic(fmt.Sprint("no lab ", id))
}

func indexOfString(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}
