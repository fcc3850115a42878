package provision

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/ckalab/ckalab/store"
)

// Idle clusters are paused: their node containers frozen, their memory
// kept, their CPU nil. Warm pool clusters beyond each pool's Hot count wait
// frozen until claimed; a student's environment nobody has used for
// SleepAfter (no keystroke, Check, open page or terminal) sleeps until the
// student or an instructor comes back. The lab clock keeps running while
// it sleeps: a lab's time is wall time, as in the exam.
//
// A thawed cluster's clocks have jumped: its node controller sees every
// lease expired and marks the nodes Unknown for the ~10 s until the
// kubelets report again. Wake therefore waits for the cluster to settle
// before handing it back (docs/benchmarks.md: "Pausing idle clusters").

// lockEnv serialises pausing and waking one environment.
func (p *Provisioner) lockEnv(id uuid.UUID) func() {
	mu, _ := p.envLocks.LoadOrStore(id, &sync.Mutex{})
	mu.(*sync.Mutex).Lock()
	return mu.(*sync.Mutex).Unlock
}

// pause freezes an environment's cluster if it still may sleep (a warm
// cluster nobody claimed; an in-use one untouched for idle): the row is
// marked first, so that anyone reading it meanwhile wakes it, and then the
// cluster is frozen under the environment's lock.
func (p *Provisioner) pause(ctx context.Context, e store.Environment, idle time.Duration, why string) error {
	defer p.lockEnv(e.ID)()
	if err := p.store.MarkPaused(ctx, e.ID, e.Pooled, idle); err != nil {
		return err
	}
	if err := p.clusters.Pause(ctx, e.ClusterName); err != nil {
		// Left running (Pause undoes a partial freeze): recorded so.
		_ = p.store.ClearPaused(context.WithoutCancel(ctx), e.ID)
		return fmt.Errorf("pausing %s: %w", e.ClusterName, err)
	}
	_ = p.store.AddEnvEvent(ctx, e.ID, "asleep", why)
	p.log.Info("environment paused", "env", e.ID, "cluster", e.ClusterName, "why", why)
	return nil
}

// Sleep pauses an in-use environment now, as SleepAfter does when nobody
// uses it.
func (p *Provisioner) Sleep(ctx context.Context, id uuid.UUID) error {
	e, err := p.store.Environment(ctx, id)
	if err != nil {
		return err
	}
	return p.pause(ctx, e, 0, "put to sleep")
}

// Wake thaws the environment's cluster if it is paused and returns once it
// has settled (nodes Ready again, API answering; for a warm cluster also
// DNS), with how long that took: 0 if it was awake. Callers waiting on the
// same environment share one wake; a caller that gives up does not stop
// it, so the row never says asleep for a running cluster.
func (p *Provisioner) Wake(ctx context.Context, id uuid.UUID) (time.Duration, error) {
	// The row is marked before a cluster is frozen: unmarked means awake.
	if e, err := p.store.Environment(ctx, id); err != nil || e.PausedAt == nil {
		return 0, err
	}
	type result struct {
		took time.Duration
		err  error
	}
	done := make(chan result, 1)
	go func() {
		took, err := p.wake(context.WithoutCancel(ctx), id)
		done <- result{took, err}
	}()
	select {
	case r := <-done:
		return r.took, r.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

func (p *Provisioner) wake(ctx context.Context, id uuid.UUID) (time.Duration, error) {
	defer p.lockEnv(id)()
	e, err := p.store.Environment(ctx, id)
	if err != nil || e.PausedAt == nil {
		return 0, err // awake, or woken by a caller before us
	}
	start := time.Now()
	_ = p.store.AddEnvEvent(ctx, id, "waking", "waking the cluster")
	if err := p.clusters.Unpause(ctx, e.ClusterName); err != nil {
		return 0, fmt.Errorf("waking %s: %w", e.ClusterName, err)
	}
	// A student may have broken a node, or the API server, on purpose:
	// their cluster is handed back even if it does not settle. A warm one
	// must.
	pristine := e.Pooled || e.StartedAt == nil
	werr := p.waitSettled(ctx, e, *e.PausedAt, start, pristine)
	if werr != nil && pristine {
		return 0, fmt.Errorf("cluster %s after thaw: %w", e.ClusterName, werr)
	}
	if err := p.store.ClearPaused(ctx, id); err != nil {
		return 0, err
	}
	took := time.Since(start)
	msg := fmt.Sprintf("awake after %.1f s", took.Seconds())
	if werr != nil {
		msg += " (not every node settled: " + werr.Error() + ")"
	}
	_ = p.store.AddEnvEvent(ctx, id, "awake", msg)
	p.cfg.Metrics.woke(took)
	p.log.Info("environment woken", "env", id, "cluster", e.ClusterName, "took", took.Round(time.Millisecond), "settled", werr == nil)
	return took, nil
}

// settledScript exits 0 once the cluster has settled after a thaw $3
// seconds ago. Strict ($2 = strict, a warm cluster): the API is ready,
// every node renewed its lease in the last $1 seconds and is Ready without
// the node controller's unreachable or not-ready taints, and the cluster
// DNS answers. Lenient (a student's cluster, which may be broken on
// purpose): no node is marked Unknown or unreachable by the node
// controller while its lease is fresh, and until $1 seconds after the
// thaw every lease must be fresh; a student's API server that does not
// answer by then is their own.
const settledScript = `export KUBECONFIG=/etc/kubernetes/admin.conf
strict=$2; grace=$(( $3 >= $1 ))
if ! kubectl get --raw /readyz >/dev/null 2>&1; then
  [ "$strict" != strict ] && [ "$grace" = 1 ] && { echo "settled (the API server does not answer)"; exit 0; }
  echo "API not ready"; exit 1
fi
fresh=$(date -u -d "@$(( $(date +%s) - $1 ))" +%Y-%m-%dT%H:%M:%S.000000Z)
leases=$(kubectl get lease -n kube-node-lease -o json) || exit 1
nodes=$(kubectl get nodes -o json) || exit 1
bad=$(jq -rn --argjson l "$leases" --argjson n "$nodes" --arg s "$fresh" --arg strict "$strict" --arg grace "$grace" '
  ($l.items | map({key: .metadata.name, value: ((.spec.renewTime // "") >= $s)}) | from_entries) as $renewed
  | [$n.items[]
     | ([.status.conditions[]? | select(.type == "Ready") | .status][0] // "none") as $ready
     | ([.spec.taints[]? | .key] ) as $taints
     | select(
         if $strict == "strict" then
           ($renewed[.metadata.name] | not) or $ready != "True"
           or ($taints | any(. == "node.kubernetes.io/unreachable" or . == "node.kubernetes.io/not-ready"))
         elif $renewed[.metadata.name] then
           $ready == "Unknown" or ($taints | any(. == "node.kubernetes.io/unreachable"))
         else $grace != "1" end)
     | .metadata.name] | join(" ")') || { echo "cannot read the nodes"; exit 1; }
[ -z "$bad" ] || { echo "not settled: $bad"; exit 1; }
if [ "$strict" = strict ]; then
  ip=$(kubectl -n kube-system get svc kube-dns -o jsonpath='{.spec.clusterIP}')
  dig +short +time=1 +tries=1 "@$ip" kubernetes.default.svc.cluster.local | grep -q . || { echo "DNS does not answer"; exit 1; }
fi
echo settled`

// leaseFresh is how recent a lease renewal must be to count: well inside
// the node controller's grace period (50 s), longer than a kubelet's
// renewal interval (10 s).
const leaseFresh = 20 * time.Second

// waitSettled waits, at most WakeTimeout, for the cluster thawed at since
// after a pause that began at pausedAt to settle. After a pause longer
// than leaseFresh the node controller may still mark nodes Unknown at its
// first look, so it waits at least WakeSettle then.
func (p *Provisioner) waitSettled(ctx context.Context, e store.Environment, pausedAt, since time.Time, strict bool) error {
	cp := ""
	for _, n := range e.Nodes {
		if n.Role == "control-plane" && cp == "" {
			cp = n.Name
		}
	}
	if cp == "" {
		return fmt.Errorf("no control-plane node")
	}
	mode := "lenient"
	if strict {
		mode = "strict"
	}
	floor := time.Duration(0)
	if since.Sub(pausedAt) > leaseFresh {
		floor = p.cfg.WakeSettle
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.WakeTimeout)
	defer cancel()
	last := ""
	for {
		out, err := p.clusters.Exec(ctx, e.ClusterName, cp, nil, "sh", "-c", settledScript, "sh",
			fmt.Sprint(int(leaseFresh.Seconds())), mode, fmt.Sprint(int(time.Since(since).Seconds())))
		last = strings.TrimSpace(string(out))
		if err == nil && strings.HasPrefix(last, "settled") && time.Since(since) >= floor {
			return nil
		}
		select {
		case <-ctx.Done():
			if last == "" && err != nil {
				last = err.Error()
			}
			return fmt.Errorf("%s after %s", last, p.cfg.WakeTimeout)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// sleepStep pauses one idle thing: a warm cluster beyond its pool's hot
// count, or a student's environment untouched for SleepAfter. It thaws a
// frozen warm cluster when a pool has fewer hot ones than it should.
func (p *Provisioner) sleepStep(ctx context.Context) (bool, error) {
	if p.cfg.SleepAfter > 0 {
		sleepy, err := p.store.Sleepy(ctx, p.cfg.SleepAfter)
		if err != nil {
			return false, err
		}
		for _, e := range sleepy {
			err := p.pause(ctx, e, p.cfg.SleepAfter, fmt.Sprintf("nobody used it for %s: paused to spare the host; opening the lab wakes it", p.cfg.SleepAfter))
			if err == nil {
				return true, nil
			}
			if !errors.Is(err, store.ErrConflict) {
				// One cluster that cannot pause (a node the student stopped)
				// keeps running; the others still sleep.
				p.log.Warn("environment not paused", "env", e.ID, "cluster", e.ClusterName, "err", err)
			}
		}
	}
	if !p.cfg.FreezePool {
		return false, nil
	}
	ready, err := p.store.EnvironmentsIn(ctx, store.EnvReady)
	if err != nil {
		return false, err
	}
	for _, pool := range p.cfg.Pools {
		var hot, frozen []store.Environment
		for _, e := range ready {
			if !e.Pooled || e.Topology != pool.Topology.String() || e.K8sVersion != pool.Version {
				continue
			}
			if e.PausedAt == nil {
				hot = append(hot, e)
			} else {
				frozen = append(frozen, e)
			}
		}
		switch {
		case len(hot) > pool.Hot:
			// Freeze the newest: the oldest is claimed first.
			e := hot[len(hot)-1]
			if err := p.pause(ctx, e, 0, "warm pool: frozen until a student claims it"); err != nil && !errors.Is(err, store.ErrConflict) {
				// The freezer can fail while a node is busy ("unable to
				// freeze"): it stays running, tried again at the next poll.
				p.log.Warn("warm cluster not paused", "env", e.ID, "cluster", e.ClusterName, "err", err)
				return false, nil
			}
			return true, nil
		case len(hot) < pool.Hot && len(frozen) > 0:
			if p.cfg.MaxActive > 0 {
				// Not in the way of a student waiting for a cluster the pool
				// does not keep, and within the CPU budget: in this order, as a
				// waiting request becomes an active create.
				if waiting, err := p.studentWaiting(ctx); err != nil || waiting {
					return false, err
				}
				active, err := p.store.CountActive(ctx)
				if err != nil || active >= p.cfg.MaxActive {
					return false, err // a claim will thaw it
				}
			}
			if _, err := p.Wake(ctx, frozen[0].ID); err != nil {
				p.failPooled(ctx, frozen[0], err)
			}
			return true, nil
		}
	}
	return false, nil
}

// failPooled gives up on a warm cluster that would not wake; the pool
// makes another.
func (p *Provisioner) failPooled(ctx context.Context, e store.Environment, err error) {
	p.log.Error("warm cluster failed to wake", "env", e.ID, "cluster", e.ClusterName, "err", err)
	if ferr := p.store.FailEnvironment(ctx, e.ID, err.Error()); ferr == nil {
		p.cfg.Metrics.fail(failWake)
	}
	_ = p.store.AddEnvEvent(ctx, e.ID, "failed", err.Error())
	wake(p.wakeReap)
	wake(p.wakeCreate)
}
