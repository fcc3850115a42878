package server_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ckalab/ckalab/grader"
	"github.com/ckalab/ckalab/labs"
	"github.com/ckalab/ckalab/server"
	"github.com/ckalab/ckalab/store"
)

func TestLabCatalogAndChecks(t *testing.T) {
	t.Parallel()
	catalog, err := labs.LoadAll("../labs")
	if err != nil {
		t.Fatal(err)
	}
	graded, full := 0, false
	e := newEnvWith(t, func(d *server.Deps) {
		d.Labs = catalog
		d.Grade = func(ctx context.Context, l *labs.Lab, env store.Environment) grader.Report {
			graded++
			if full {
				return grader.Report{Score: 5, MaxScore: 5, Results: []grader.Result{{TaskID: l.Tasks[0].ID, CheckID: l.Tasks[0].Checks[0].ID, Passed: true, Weight: 5}}}
			}
			return grader.Report{Score: 1.5, MaxScore: 5, Took: 20 * time.Millisecond, Results: []grader.Result{
				{TaskID: l.Tasks[0].ID, CheckID: l.Tasks[0].Checks[0].ID, Passed: true, Weight: 1.5, Message: "ok", Evidence: map[string]any{"found": []string{"developer"}}},
				{TaskID: l.Tasks[0].ID, CheckID: l.Tasks[0].Checks[1].ID, Passed: false, Weight: 3.5, Message: "jane cannot list pods in namespace dev yet"},
			}}
		}
	})
	ctx := context.Background()
	ana := e.user("ana@example.com", store.RoleStudent)
	boU := e.user("bo@example.com", store.RoleStudent)
	teach := e.user("t@example.com", store.RoleInstructor)
	cohort, _ := e.store.CreateCohort(ctx, "CKA", teach.ID)
	_ = e.store.AddMember(ctx, cohort.ID, ana.ID, store.CohortStudent)
	login := func(email string) *client { c := e.client(); c.login(email, "password-"+email); return c }
	anaC, boC, teachC := login("ana@example.com"), login("bo@example.com"), login("t@example.com")

	r := anaC.do("GET", "/api/v1/labs", nil)
	if r.Status != 200 || len(r.Body["labs"].([]any)) != len(catalog) {
		t.Fatalf("labs: %d %v", r.Status, r.Body)
	}
	r = anaC.do("GET", "/api/v1/labs/rbac-developer", nil)
	tasks := r.Body["lab"].(map[string]any)["tasks"].([]any)
	if r.Status != 200 || len(tasks) != 2 || tasks[0].(map[string]any)["markdown"] == "" {
		t.Fatalf("lab: %d %v", r.Status, r.Body)
	}
	if r := anaC.do("GET", "/api/v1/labs/nope", nil); r.Status != 404 {
		t.Fatalf("unknown lab: %d", r.Status)
	}

	envID := inUse(t, e.store, ana.ID, "c-control-plane")
	_, _ = e.store.Pool().Exec(ctx, `UPDATE environments SET lab_id = 'rbac-developer', cohort_id = $2 WHERE id = $1`, envID, cohort.ID)
	path := fmt.Sprintf("/api/v1/environments/%s/check", envID)
	if r := teachC.do("POST", path, map[string]any{}); r.Status != 403 {
		t.Fatalf("instructor pressed Check: %d", r.Status)
	}
	if r := boC.do("POST", path, map[string]any{}); r.Status != 403 {
		t.Fatalf("another student pressed Check: %d", r.Status)
	}
	r = anaC.do("POST", path, map[string]any{})
	run, _ := r.Body["run"].(map[string]any)
	if r.Status != 200 || run["score"] != 1.5 || len(run["results"].([]any)) != 2 || graded != 1 {
		t.Fatalf("check: %d %v", r.Status, r.Body)
	}
	hist := fmt.Sprintf("/api/v1/environments/%s/checks", envID)
	if r := teachC.do("GET", hist, nil); r.Status != 200 || len(r.Body["runs"].([]any)) != 1 {
		t.Fatalf("instructor history: %d %v", r.Status, r.Body)
	}
	if r := boC.do("GET", hist, nil); r.Status != 403 {
		t.Fatalf("another student read the results: %d", r.Status)
	}

	// The solution: the instructor sees it; the student once allowed.
	sol := fmt.Sprintf("/api/v1/environments/%s/solution", envID)
	if r := teachC.do("GET", sol, nil); r.Status != 200 || len(r.Body["steps"].([]any)) == 0 {
		t.Fatalf("instructor solution: %d %v", r.Status, r.Body)
	}
	if r := anaC.do("GET", sol, nil); r.Status != 403 {
		t.Fatalf("student saw the solution before it was allowed: %d", r.Status)
	}
	if r := anaC.do("PATCH", "/api/v1/cohorts/"+cohort.ID.String(), map[string]any{"showSolutions": true}); r.Status != 403 {
		t.Fatalf("student changed cohort settings: %d", r.Status)
	}
	if r := teachC.do("PATCH", "/api/v1/cohorts/"+cohort.ID.String(), map[string]any{"showSolutions": true}); r.Status != 200 {
		t.Fatalf("show solutions: %d %v", r.Status, r.Body)
	}
	// Allowed, but the attempt is not over: a partial Check does not open it.
	if r := anaC.do("GET", sol, nil); r.Status != 403 || !strings.Contains(fmt.Sprint(r.Body), "give up") {
		t.Fatalf("student saw the solution mid-attempt: %d %v", r.Status, r.Body)
	}
	give := fmt.Sprintf("/api/v1/environments/%s/give-up", envID)
	if r := teachC.do("POST", give, map[string]any{}); r.Status != 403 {
		t.Fatalf("instructor gave up for the student: %d", r.Status)
	}
	if r := boC.do("POST", give, map[string]any{}); r.Status != 403 {
		t.Fatalf("another student gave up: %d", r.Status)
	}
	if r := anaC.do("POST", give, map[string]any{}); r.Status != 200 || r.Body["environment"].(map[string]any)["gaveUpAt"] == nil {
		t.Fatalf("give up: %d %v", r.Status, r.Body)
	}
	if r := anaC.do("GET", sol, nil); r.Status != 200 || !strings.Contains(fmt.Sprint(r.Body["steps"]), "kubectl create role developer") ||
		!strings.Contains(fmt.Sprint(r.Body["explanations"]), "Role lists verbs on resources") {
		t.Fatalf("student solution and explanations after giving up: %d %v", r.Status, r.Body)
	}
	// Full marks after reading the solution: shown, never counted.
	full = true
	r = anaC.do("POST", path, map[string]any{})
	if run, _ := r.Body["run"].(map[string]any); r.Status != 200 || run["score"] != 5.0 || run["counted"] != false {
		t.Fatalf("check after giving up: %d %v", r.Status, r.Body)
	}
	prog, err := e.store.Progress(ctx, []uuid.UUID{ana.ID})
	if err != nil || len(prog) != 1 || prog[0].BestScore != 1.5 || prog[0].Passed || prog[0].Checks != 2 {
		t.Fatalf("progress after giving up: %+v %v", prog, err)
	}

	// Having read the solution, a new attempt at the same lab earns nothing.
	env2 := inUse(t, e.store, ana.ID, "d-control-plane")
	_, _ = e.store.Pool().Exec(ctx, `UPDATE environments SET lab_id = 'rbac-developer', cohort_id = $2 WHERE id = $1`, env2, cohort.ID)
	r = anaC.do("POST", fmt.Sprintf("/api/v1/environments/%s/check", env2), map[string]any{})
	if run, _ := r.Body["run"].(map[string]any); r.Status != 200 || run["counted"] != false {
		t.Fatalf("full marks in a new attempt after reading the solution: %d %v", r.Status, r.Body)
	}

	// Another student: stopping early does not open the solution; full
	// marks does; another cohort's setting does not.
	bo := boU.ID
	_ = e.store.AddMember(ctx, cohort.ID, bo, store.CohortStudent)
	stopped := inUse(t, e.store, bo, "e-control-plane")
	_, _ = e.store.Pool().Exec(ctx, `UPDATE environments SET lab_id = 'rbac-developer', cohort_id = $2, state = 'deleting' WHERE id = $1`, stopped, cohort.ID)
	_, _ = e.store.Pool().Exec(ctx, `UPDATE environments SET state = 'deleted' WHERE id = $1`, stopped)
	if r := boC.do("GET", fmt.Sprintf("/api/v1/environments/%s/solution", stopped), nil); r.Status != 403 {
		t.Fatalf("solution of an attempt stopped early: %d %v", r.Status, r.Body)
	}
	env3 := inUse(t, e.store, bo, "f-control-plane")
	_, _ = e.store.Pool().Exec(ctx, `UPDATE environments SET lab_id = 'rbac-developer', cohort_id = $2 WHERE id = $1`, env3, cohort.ID)
	sol3 := fmt.Sprintf("/api/v1/environments/%s/solution", env3)
	if r := boC.do("GET", sol3, nil); r.Status != 403 {
		t.Fatalf("solution before any Check: %d", r.Status)
	}
	if r := boC.do("POST", fmt.Sprintf("/api/v1/environments/%s/check", env3), map[string]any{}); r.Status != 200 || r.Body["run"].(map[string]any)["counted"] != true {
		t.Fatalf("bo's check: %d %v", r.Status, r.Body)
	}
	if r := boC.do("GET", sol3, nil); r.Status != 200 {
		t.Fatalf("solution at full marks: %d %v", r.Status, r.Body)
	}
	if r := teachC.do("PATCH", "/api/v1/cohorts/"+cohort.ID.String(), map[string]any{"showSolutions": false}); r.Status != 200 {
		t.Fatalf("hide solutions: %d", r.Status)
	}
	other, _ := e.store.CreateCohort(ctx, "other", teach.ID)
	_ = e.store.AddMember(ctx, other.ID, bo, store.CohortStudent)
	_ = e.store.SetShowSolutions(ctx, other.ID, true)
	if r := boC.do("GET", sol3, nil); r.Status != 403 {
		t.Fatalf("solution through another cohort's setting: %d", r.Status)
	}

	// An instructor who teaches bo in another cohort has no say over the
	// environments bo runs in this one.
	t2 := e.user("t2@example.com", store.RoleInstructor)
	theirs, _ := e.store.CreateCohort(ctx, "theirs", t2.ID)
	_ = e.store.AddMember(ctx, theirs.ID, bo, store.CohortStudent)
	t2C := login("t2@example.com")
	for _, p := range []string{"", "/checks", "/solution", "/terminals"} {
		if r := t2C.do("GET", fmt.Sprintf("/api/v1/environments/%s%s", env3, p), nil); r.Status != 403 {
			t.Fatalf("another cohort's instructor on %q: %d", p, r.Status)
		}
	}
	if r := teachC.do("GET", fmt.Sprintf("/api/v1/environments/%s/checks", env3), nil); r.Status != 200 {
		t.Fatalf("the cohort's own instructor: %d", r.Status)
	}
}
