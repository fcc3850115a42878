package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ckalab/ckalab/pgserver/pgtest"
	"github.com/ckalab/ckalab/store"
)

func student(t *testing.T, st *store.Store, email string) uuid.NullUUID {
	t.Helper()
	u, err := st.CreateUser(context.Background(), email, email, store.RoleStudent, "hash")
	if err != nil {
		t.Fatal(err)
	}
	return uuid.NullUUID{UUID: u.ID, Valid: true}
}

func request(t *testing.T, st *store.Store, r store.EnvRequest) store.Environment {
	t.Helper()
	if r.ClusterName == "" {
		r.ClusterName = "c-" + uuid.NewString()[:8]
	}
	if r.Topology == "" {
		r.Topology, r.K8sVersion = "1cp-1w", "1.34.4"
	}
	if r.TimeLimit == 0 {
		r.TimeLimit = time.Hour
	}
	e, err := st.RequestEnvironment(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestEnvironmentQueueOwnedFirstWithinCapacity(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := open(t, pgtest.New(t))
	ana := student(t, st, "ana@example.com")
	pool := request(t, st, store.EnvRequest{Pooled: true})
	owned := request(t, st, store.EnvRequest{UserID: ana, LabID: "pods"})

	if pos, _ := st.QueuePosition(ctx, owned.ID); pos != 0 {
		t.Fatalf("owned request position %d, want 0 (ahead of pool refills)", pos)
	}
	if pos, _ := st.QueuePosition(ctx, pool.ID); pos != 1 {
		t.Fatalf("pool request position %d, want 1", pos)
	}
	got, err := st.NextRequested(ctx, 1, 0)
	if err != nil || got == nil || got.ID != owned.ID || got.State != store.EnvProvisioning {
		t.Fatalf("first picked %+v, %v; want the owned request", got, err)
	}
	if got, err := st.NextRequested(ctx, 1, 0); err != nil || got != nil {
		t.Fatalf("capacity 1 is used: got %+v, %v", got, err)
	}
	if got, err := st.NextRequested(ctx, 2, 0); err != nil || got == nil || got.ID != pool.ID {
		t.Fatalf("second pick %+v, %v", got, err)
	}
	if n, _ := st.CountLive(ctx); n != 2 {
		t.Fatalf("live %d, want 2", n)
	}
}

func TestEnvironmentQueueSkipsLockedRows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := open(t, pgtest.New(t))
	for range 6 {
		request(t, st, store.EnvRequest{Pooled: true})
	}
	var mu sync.Mutex
	seen := map[uuid.UUID]int{}
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				e, err := st.NextRequested(ctx, 100, 0)
				if err != nil {
					t.Error(err)
					return
				}
				if e == nil {
					return
				}
				mu.Lock()
				seen[e.ID]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != 6 {
		t.Fatalf("workers picked %d distinct environments, want 6", len(seen))
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("environment %s picked %d times", id, n)
		}
	}
}

func TestEnvironmentClaimSetupExpire(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := open(t, pgtest.New(t))
	ana := student(t, st, "ana@example.com")
	pool := request(t, st, store.EnvRequest{Pooled: true})
	req := store.EnvRequest{UserID: ana, LabID: "pods", Topology: "1cp-1w", K8sVersion: "1.34.4", TimeLimit: 30 * time.Minute}
	if e, err := st.ClaimPooled(ctx, req); err != nil || e != nil {
		t.Fatalf("claimed a cluster that is not ready: %+v %v", e, err)
	}
	if _, err := st.NextRequested(ctx, 5, 0); err != nil {
		t.Fatal(err)
	}
	nodes := []store.EnvNode{{Name: "c-control-plane", Role: "control-plane", IP: "172.18.0.2"}}
	if err := st.EnvironmentReady(ctx, pool.ID, "kubeconfig", nodes); err != nil {
		t.Fatal(err)
	}
	other := req
	other.Topology = "1cp"
	if e, _ := st.ClaimPooled(ctx, other); e != nil {
		t.Fatal("claimed a cluster of another topology")
	}
	e, err := st.ClaimPooled(ctx, req)
	if err != nil || e == nil || e.ID != pool.ID || e.Pooled || e.UserID != ana || e.State != store.EnvReady {
		t.Fatalf("claim: %+v %v", e, err)
	}
	if e, _ := st.ClaimPooled(ctx, req); e != nil {
		t.Fatal("one pooled cluster claimed twice")
	}
	if setup, err := st.NextSetup(ctx); err != nil || setup == nil || setup.ID != pool.ID {
		t.Fatalf("setup pending: %+v %v", setup, err)
	}
	started, err := st.StartEnvironment(ctx, pool.ID)
	if err != nil || started.State != store.EnvInUse || started.ExpiresAt == nil ||
		started.ExpiresAt.Sub(*started.StartedAt) != 30*time.Minute || len(started.Nodes) != 1 {
		t.Fatalf("start: %+v %v", started, err)
	}
	if _, err := st.StartEnvironment(ctx, pool.ID); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("started twice: %v", err)
	}
	// Extensions stop at the ceiling on the whole time (30 min lab + 2×15 ≤ 1h).
	for i := range 2 {
		if _, err := st.ExtendEnvironment(ctx, pool.ID, 15*time.Minute, time.Hour); err != nil {
			t.Fatalf("extension %d within the ceiling: %v", i+1, err)
		}
	}
	if _, err := st.ExtendEnvironment(ctx, pool.ID, time.Minute, time.Hour); !errors.Is(err, store.ErrLimit) {
		t.Fatalf("extension past the ceiling: %v", err)
	}
	extended, err := st.ExtendEnvironment(ctx, pool.ID, -61*time.Minute, 0) // into the past: due now
	if err != nil || !extended.ExpiresAt.Before(time.Now()) {
		t.Fatalf("extend: %+v %v", extended, err)
	}
	if _, err := st.ExtendEnvironment(ctx, pool.ID, 15*time.Minute, 0); !errors.Is(err, store.ErrLimit) {
		t.Fatalf("extending after the time was up: %v", err)
	}
	due, err := st.ExpireDue(ctx)
	if err != nil || len(due) != 1 || due[0].State != store.EnvExpired {
		t.Fatalf("expire: %+v %v", due, err)
	}
	if err := st.SetEnvState(ctx, pool.ID, store.EnvDeleted, store.EnvExpired); err == nil {
		t.Fatal("expired -> deleted skipped deleting")
	}
	if err := st.SetEnvState(ctx, pool.ID, store.EnvDeleting, store.EnvExpired); err != nil {
		t.Fatal(err)
	}
	if err := st.SetEnvState(ctx, pool.ID, store.EnvDeleted, store.EnvDeleting); err != nil {
		t.Fatal(err)
	}
	if err := st.FailEnvironment(ctx, pool.ID, "late"); err != nil {
		t.Fatal(err)
	}
	if e, _ := st.Environment(ctx, pool.ID); e.State != store.EnvDeleted {
		t.Fatalf("a deleted environment became %s", e.State)
	}
	events, err := st.EnvEvents(ctx, pool.ID, 0)
	if err != nil || len(events) == 0 || events[0].Phase != "queued" {
		t.Fatalf("events: %+v %v", events, err)
	}
}

func TestCheckRunsKeepFractionsAndResults(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := open(t, pgtest.New(t))
	ana := student(t, st, "ana@example.com")
	e := request(t, st, store.EnvRequest{UserID: ana, LabID: "rbac"})
	run, err := st.SaveCheckRun(ctx, store.CheckRun{EnvironmentID: e.ID, UserID: ana.UUID, LabID: "rbac", Duration: 1500 * time.Millisecond,
		Score: 1.67, MaxScore: 5, Results: []store.CheckResult{
			{TaskID: "t1", CheckID: "a", Passed: true, Weight: 1.67, Message: "ok", Evidence: []byte(`{"allowed":true}`)},
			{TaskID: "t1", CheckID: "b", Passed: false, Weight: 3.33, Message: "jane cannot list pods yet"},
		}})
	if err != nil {
		t.Fatal(err)
	}
	runs, err := st.CheckRuns(ctx, e.ID)
	if err != nil || len(runs) != 1 || runs[0].ID != run.ID || runs[0].Score != 1.67 || len(runs[0].Results) != 2 {
		t.Fatalf("runs %+v %v", runs, err)
	}
	if r := runs[0].Results[1]; r.Passed || r.Message != "jane cannot list pods yet" || string(r.Evidence) != "{}" {
		t.Fatalf("result %+v", r)
	}
}

func TestTypicalColdStartIgnoresWarmClaims(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := open(t, pgtest.New(t))
	if d, n, err := st.TypicalColdStart(ctx, "1cp-1w"); err != nil || n != 0 || d != 0 {
		t.Fatalf("no data: %s %d %v", d, n, err)
	}
	ana := student(t, st, "ana@example.com")
	// Three cold starts of 40, 60 and 90 s, one of another topology, and
	// a warm claim of a cluster made an hour before it was claimed.
	started := func(topology string, wait time.Duration, claimed bool) {
		e := request(t, st, store.EnvRequest{UserID: ana, LabID: "pods", Topology: topology, K8sVersion: "1.34.4"})
		if _, err := st.Pool().Exec(ctx, `UPDATE environments SET created_at = now() - $2::interval, started_at = now() WHERE id = $1`,
			e.ID, fmt.Sprintf("%d seconds", int(wait.Seconds()))); err != nil {
			t.Fatal(err)
		}
		if claimed {
			if err := st.AddEnvEvent(ctx, e.ID, "claimed", ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	started("1cp-1w", 40*time.Second, false)
	started("1cp-1w", 60*time.Second, false)
	started("1cp-1w", 90*time.Second, false)
	started("1cp", 300*time.Second, false)
	started("1cp-1w", time.Hour, true)
	d, n, err := st.TypicalColdStart(ctx, "1cp-1w")
	if err != nil || n != 3 || d < 59*time.Second || d > 61*time.Second {
		t.Fatalf("typical cold start: %s over %d, %v; want 60 s over 3", d, n, err)
	}
}

// MarkPaused only marks what may sleep: a warm cluster nobody claimed, an
// in-use environment idle long enough; the mark is what wakers read.
func TestMarkPausedGuards(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := open(t, pgtest.New(t))
	ana := student(t, st, "ana@example.com")
	pool := request(t, st, store.EnvRequest{Pooled: true})
	if _, err := st.NextRequested(ctx, 5, 0); err != nil {
		t.Fatal(err)
	}
	if err := st.EnvironmentReady(ctx, pool.ID, "kubeconfig", []store.EnvNode{{Name: "c-control-plane", Role: "control-plane"}}); err != nil {
		t.Fatal(err)
	}
	if err := st.MarkPaused(ctx, pool.ID, true, 0); err != nil {
		t.Fatalf("warm cluster: %v", err)
	}
	if err := st.MarkPaused(ctx, pool.ID, true, 0); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("marked twice: %v", err)
	}
	if err := st.ClearPaused(ctx, pool.ID); err != nil {
		t.Fatal(err)
	}
	// Claimed: no longer the pool's to freeze.
	req := store.EnvRequest{UserID: ana, LabID: "pods", Topology: "1cp-1w", K8sVersion: "1.34.4", TimeLimit: 30 * time.Minute}
	if e, err := st.ClaimPooled(ctx, req); err != nil || e == nil {
		t.Fatalf("claim: %v", err)
	}
	if err := st.MarkPaused(ctx, pool.ID, true, 0); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("froze a claimed cluster: %v", err)
	}
	if _, err := st.StartEnvironment(ctx, pool.ID); err != nil {
		t.Fatal(err)
	}
	// In use and just started: not idle for an hour.
	if err := st.MarkPaused(ctx, pool.ID, false, time.Hour); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("put an active environment to sleep: %v", err)
	}
	if err := st.MarkPaused(ctx, pool.ID, false, 0); err != nil {
		t.Fatalf("sleep now: %v", err)
	}
	if n, err := st.CountActive(ctx); err != nil || n != 0 {
		t.Fatalf("active while asleep: %d %v", n, err)
	}
}
