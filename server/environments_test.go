package server_test

import (
	"context"
	"testing"
	"time"

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
