package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ckalab/ckalab/pgserver/pgtest"
	"github.com/ckalab/ckalab/store"
)

// Parallel Starts of one student (each for another lab) must not pass the
// per-user cap, and parallel Starts of many students must not queue past
// the capacity cap: each decision is taken under a lock.
func TestAdmitEnvironmentCapsHoldUnderConcurrency(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := open(t, pgtest.New(t))
	admit := func(user uuid.NullUUID, lab string, lim store.AdmitLimits) store.Admission {
		a, err := st.AdmitEnvironment(ctx, store.EnvRequest{UserID: user, LabID: lab, Topology: "1cp-1w", K8sVersion: "1.34.4",
			ClusterName: "c-" + uuid.NewString()[:8], TimeLimit: time.Hour}, lim)
		if err != nil {
			t.Error(err)
		}
		return a
	}
	race := func(n int, f func(i int) store.Admission) map[string]int {
		var mu sync.Mutex
		var wg sync.WaitGroup
		got := map[string]int{}
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				a := f(i)
				mu.Lock()
				got[a.How]++
				mu.Unlock()
			}()
		}
		close(start)
		wg.Wait()
		return got
	}

	ana := student(t, st, "ana@example.com")
	got := race(16, func(i int) store.Admission {
		return admit(ana, fmt.Sprintf("lab-%d", i), store.AdmitLimits{PerUser: 2, MaxLive: 100, MaxQueue: 100})
	})
	if got["queued"] != 2 || got["quota"] != 14 {
		t.Fatalf("16 parallel Starts of one student with a cap of 2: %v", got)
	}
	if mine, _ := st.EnvironmentsOf(ctx, ana.UUID); len(mine) != 2 {
		t.Fatalf("ana holds %d environments", len(mine))
	}
	// The same lab again is her existing environment, not a new one.
	if a := admit(ana, "lab-x", store.AdmitLimits{PerUser: 2, MaxLive: 100, MaxQueue: 100}); a.How != "quota" {
		t.Fatalf("third lab: %s", a.How)
	}

	// Capacity: nothing live, 3 places in the queue, 12 students at once.
	students := make([]uuid.NullUUID, 12)
	for i := range students {
		students[i] = student(t, st, fmt.Sprintf("s%d@example.com", i))
	}
	got = race(12, func(i int) store.Admission {
		return admit(students[i], "lab", store.AdmitLimits{PerUser: 1, MaxLive: 0, MaxQueue: 5})
	})
	// ana's two requests already wait: three more fit.
	if got["queued"] != 3 || got["capacity"] != 9 {
		t.Fatalf("12 parallel Starts with 3 queue places left: %v", got)
	}
}
