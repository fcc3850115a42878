package server_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ckalab/ckalab/config"
	"github.com/ckalab/ckalab/labs"
	"github.com/ckalab/ckalab/server"
	"github.com/ckalab/ckalab/store"
)

// TestEnvironmentsShowTitleAndGrace: the lab page and the catalog read a
// lab's title, the grace inside the time limit and the per-user cap from
// the environments they already load.
func TestEnvironmentsShowTitleAndGrace(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, func(d *server.Deps) {
		d.Labs = []*labs.Lab{{ID: "rbac-developer", Title: "Just enough access"}}
	}, func(c *config.Config) { c.EnvGrace = 15 * time.Minute; c.MaxEnvsPerUser = 2 })
	ana := e.user("ana@example.com", store.RoleStudent)
	lab := inUse(t, e.store, ana.ID, "c-control-plane")
	_, _ = e.store.Pool().Exec(context.Background(), `UPDATE environments SET lab_id = 'rbac-developer' WHERE id = $1`, lab)
	gone := inUse(t, e.store, ana.ID, "d-control-plane")
	_, _ = e.store.Pool().Exec(context.Background(), `UPDATE environments SET lab_id = 'retired-lab' WHERE id = $1`, gone)
	c := e.client()
	c.login("ana@example.com", "password-ana@example.com")

	r := c.do("GET", "/api/v1/environments", nil)
	if r.Status != 200 || r.Body["perUser"] != 2.0 {
		t.Fatalf("environments: %d %v", r.Status, r.Body)
	}
	byID := map[string]map[string]any{}
	for _, x := range r.Body["environments"].([]any) {
		m := x.(map[string]any)
		byID[m["id"].(string)] = m
	}
	tests := []struct {
		name  string
		id    string
		title any
	}{
		{"a lab of this server", lab.String(), "Just enough access"},
		{"a lab no longer offered", gone.String(), nil},
	}
	for _, tt := range tests {
		got := byID[tt.id]
		if got == nil || got["labTitle"] != tt.title || got["graceSeconds"] != 900.0 {
			t.Errorf("%s: %v", tt.name, got)
		}
	}

	if r := c.do("GET", "/api/v1/environments/"+lab.String(), nil); r.Body["environment"].(map[string]any)["labTitle"] != "Just enough access" {
		t.Errorf("one environment: %d %v", r.Status, r.Body)
	}
	r = c.do("GET", "/api/v1/attempts", nil)
	found := false
	for _, x := range r.Body["attempts"].([]any) {
		m := x.(map[string]any)
		found = found || (m["id"] == lab.String() && m["labTitle"] == "Just enough access")
	}
	if r.Status != 200 || !found {
		t.Errorf("attempts carry the lab's title: %d %v", r.Status, r.Body)
	}
}

// TestEnvironmentsTurnOnWithoutARestart: a server that started before the
// node image existed says why it cannot start labs, then starts them once
// it is handed what runs environments.
func TestEnvironmentsTurnOnWithoutARestart(t *testing.T) {
	t.Parallel()
	envs := &queueEnvs{}
	e := newEnvWith(t, func(d *server.Deps) {
		d.Labs = []*labs.Lab{{ID: "rbac-developer", Title: "Just enough access", TimeLimit: labs.Duration{Duration: 20 * time.Minute}}}
		d.EnvsDown = "the node image ckalab/node:v1.34.4 is missing"
		envs.st = d.Store
	}, func(c *config.Config) { c.MaxEnvsPerUser = 1; c.MaxEnvTime = 4 * time.Hour })
	e.user("ana@example.com", store.RoleStudent)
	e.user("root@example.com", store.RoleAdmin)
	c := e.client()
	c.login("ana@example.com", "password-ana@example.com")
	admin := e.client()
	admin.login("root@example.com", "password-root@example.com")

	// The student reads that labs are not available yet; the admin, why.
	if r := c.do("GET", "/api/v1/environments", nil); r.Body["available"] != false || !strings.Contains(fmt.Sprint(r.Body["unavailableReason"]), "not available on this server yet") {
		t.Fatalf("before, student: %d %v", r.Status, r.Body)
	}
	if r := admin.do("GET", "/api/v1/environments", nil); !strings.Contains(fmt.Sprint(r.Body["unavailableReason"]), "is missing") {
		t.Fatalf("before, admin: %d %v", r.Status, r.Body)
	}
	if r := c.do("POST", "/api/v1/environments", map[string]string{"lab": "rbac-developer"}); r.Status != 503 {
		t.Fatalf("start before: %d %v", r.Status, r.Body)
	}
	e.server.EnableEnvironments(envs, nil, nil, nil)
	if r := c.do("GET", "/api/v1/environments", nil); r.Body["available"] != true || r.Body["unavailableReason"] != "" {
		t.Fatalf("after: %d %v", r.Status, r.Body)
	}
	if r := c.do("POST", "/api/v1/environments", map[string]string{"lab": "rbac-developer"}); r.Status != 202 {
		t.Fatalf("start after: %d %v", r.Status, r.Body)
	}
}

// TestStartingEnvironmentCarriesTheTypicalWait: a page waiting on a cold
// create reads the median of recent cold starts of its topology.
func TestStartingEnvironmentCarriesTheTypicalWait(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ana := e.user("ana@example.com", store.RoleStudent)
	ctx := context.Background()
	req := func() store.Environment {
		env, err := e.store.RequestEnvironment(ctx, store.EnvRequest{UserID: uuid.NullUUID{UUID: ana.ID, Valid: true}, LabID: "pods",
			Topology: "1cp-1w", K8sVersion: "1.34.4", ClusterName: "c-" + uuid.NewString()[:8], TimeLimit: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		return env
	}
	for _, secs := range []int{50, 70, 200} {
		env := req()
		if _, err := e.store.Pool().Exec(ctx, `UPDATE environments SET created_at = now() - make_interval(secs => $2), started_at = now() WHERE id = $1`, env.ID, secs); err != nil {
			t.Fatal(err)
		}
	}
	waiting := req()
	c := e.client()
	c.login("ana@example.com", "password-ana@example.com")
	r := c.do("GET", "/api/v1/environments/"+waiting.ID.String()+"/events", nil)
	if r.Status != 200 || r.Body["typicalStartSeconds"] != 70.0 || r.Body["typicalStartOf"] != 3.0 {
		t.Fatalf("events: %d %v", r.Status, r.Body)
	}
}
