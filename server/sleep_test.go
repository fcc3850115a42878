package server_test

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ckalab/ckalab/server"
	"github.com/ckalab/ckalab/store"
	"github.com/ckalab/ckalab/terminal"
)

// wakeEnvs wakes by clearing the row's pause, and counts real wakes.
type wakeEnvs struct {
	queueEnvs
	wakes atomic.Int32
}

func (w *wakeEnvs) Wake(ctx context.Context, id uuid.UUID) (time.Duration, error) {
	if e, err := w.st.Environment(ctx, id); err != nil || e.PausedAt == nil {
		return 0, err // awake already
	}
	w.wakes.Add(1)
	return 3 * time.Second, w.st.ClearPaused(ctx, id)
}

// TestSleepingEnvironmentWakes: the student's open page keeps an
// environment seen; a terminal or POST …/wake wakes a sleeping one first;
// nobody else can wake it.
func TestSleepingEnvironmentWakes(t *testing.T) {
	t.Parallel()
	envs := &wakeEnvs{}
	mgr := terminal.NewManager(slog.New(slog.NewTextHandler(io.Discard, nil)), echoLauncher{}, time.Hour, 2)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go mgr.Run(ctx)
	e := newEnvWith(t, func(d *server.Deps) { d.Terminals = mgr; d.Envs = envs; envs.st = d.Store })
	ana := e.user("ana@example.com", store.RoleStudent)
	e.user("bo@example.com", store.RoleStudent)
	id := inUse(t, e.store, ana.ID, "c-control-plane")
	anaC, boC := e.client(), e.client()
	anaC.login("ana@example.com", "password-ana@example.com")
	boC.login("bo@example.com", "password-bo@example.com")
	sleep := func() {
		t.Helper()
		if err := e.store.MarkPaused(ctx, id, false, 0); err != nil {
			t.Fatal(err)
		}
	}
	path := "/api/v1/environments/" + id.String()

	// The page's poll records it as seen and shows it asleep.
	sleep()
	r := anaC.do("GET", path+"/events", nil)
	env, _ := r.Body["environment"].(map[string]any)
	if r.Status != 200 || env["pausedAt"] == nil {
		t.Fatalf("events of a sleeping environment: %d %v", r.Status, r.Body)
	}
	var seen *time.Time
	if err := e.store.Pool().QueryRow(ctx, `SELECT last_seen_at FROM environments WHERE id = $1`, id).Scan(&seen); err != nil || seen == nil {
		t.Fatalf("the open page was not recorded: %v %v", seen, err)
	}
	// Someone else's request neither wakes nor reveals it.
	if r := boC.do("POST", path+"/wake", nil); r.Status != 403 || envs.wakes.Load() != 0 {
		t.Fatalf("bo's wake: %d, %d wakes", r.Status, envs.wakes.Load())
	}
	// The page wakes it.
	r = anaC.do("POST", path+"/wake", nil)
	env, _ = r.Body["environment"].(map[string]any)
	if r.Status != 200 || r.Body["tookSeconds"] != 3.0 || env["pausedAt"] != nil || envs.wakes.Load() != 1 {
		t.Fatalf("wake: %d %v, %d wakes", r.Status, r.Body, envs.wakes.Load())
	}
	// A terminal opened on a sleeping environment wakes it before its shell starts.
	sleep()
	own := openTerm(t, anaC, path+"/terminal")
	if own.hello["role"] != "control" || envs.wakes.Load() != 2 {
		t.Fatalf("terminal on a sleeping environment: %v, %d wakes", own.hello, envs.wakes.Load())
	}
	// Waking an awake environment costs nothing.
	if r := anaC.do("POST", path+"/wake", nil); r.Status != 200 || r.Body["tookSeconds"] != 0.0 || envs.wakes.Load() != 2 {
		t.Fatalf("wake when awake: %d %v", r.Status, r.Body)
	}
}
