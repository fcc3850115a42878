package provision

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/ckalab/ckalab/cluster"
	"github.com/ckalab/ckalab/store"
)

// Reconcile makes PostgreSQL and Docker agree after a (re)start:
// creations cut short by the restart start again (their half-made cluster
// deleted, at most maxRestarts times, then they fail), environments whose
// cluster vanished or stopped fail with a reason, and environments whose
// cluster still runs stay as they are, usable. Orphan clusters go in the
// sweep.
func (p *Provisioner) Reconcile(ctx context.Context) error {
	defer wake(p.wakeCreate)
	clusters, err := p.clusters.Summaries(ctx)
	if err != nil {
		return err
	}
	envs, err := p.store.EnvironmentsIn(ctx, store.EnvProvisioning, store.EnvReady, store.EnvInUse)
	if err != nil {
		return err
	}
	for _, e := range envs {
		reason, class := "", failClusterLost
		c := clusters[e.ClusterName]
		switch {
		case e.State == store.EnvProvisioning:
			if err := p.clusters.Delete(ctx, e.ClusterName); err != nil {
				return fmt.Errorf("deleting the half-made cluster %s: %w", e.ClusterName, err)
			}
			n, err := p.store.Requeue(ctx, e.ID, maxRestarts)
			if err == nil {
				p.log.Info("creation resumed after a restart", "env", e.ID, "cluster", e.ClusterName, "attempt", n)
				_ = p.store.AddEnvEvent(ctx, e.ID, "queued", fmt.Sprintf("the server restarted while this cluster was being created: creating it again (attempt %d)", n))
				continue
			}
			if !errors.Is(err, store.ErrConflict) {
				return err
			}
			reason, class = fmt.Sprintf("the server restarted while this cluster was being created, %d times", maxRestarts+1), failRestart
		case c == nil:
			reason = "the cluster disappeared (removed outside ckalab)"
		case c.Running < c.Nodes:
			reason = fmt.Sprintf("%d of %d nodes are not running (Docker restarted?)", c.Nodes-c.Running, c.Nodes)
		}
		if reason == "" {
			// Stopped between marking a pause or a wake and doing it: Docker
			// is made to agree with the row.
			var err error
			switch {
			case e.PausedAt == nil && c.Paused > 0:
				err = p.clusters.Unpause(ctx, e.ClusterName)
			case e.PausedAt != nil && c.Paused < c.Nodes:
				err = p.clusters.Pause(ctx, e.ClusterName)
			}
			if err == nil {
				continue
			}
			reason = "its cluster could not be paused or woken after a restart: " + err.Error()
		}
		p.log.Warn("environment failed in reconcile", "env", e.ID, "cluster", e.ClusterName, "reason", reason)
		if err := p.store.FailEnvironment(ctx, e.ID, reason); err != nil {
			return err
		}
		p.cfg.Metrics.fail(class)
		_ = p.store.AddEnvEvent(ctx, e.ID, "failed", reason)
	}
	return p.sweepClusters(ctx, clusters)
}

// maxRestarts is how many times a creation cut short by a restart is
// started again.
const maxRestarts = 2

// sweep deletes this provisioner's clusters that no live environment
// holds: those of failed or deleted environments at once, those without
// any row once older than OrphanGrace.
func (p *Provisioner) sweep(ctx context.Context) error {
	clusters, err := p.clusters.Summaries(ctx)
	if err != nil {
		return err
	}
	return p.sweepClusters(ctx, clusters)
}

func (p *Provisioner) sweepClusters(ctx context.Context, clusters map[string]*cluster.Summary) error {
	for name, c := range clusters {
		if !strings.HasPrefix(name, p.cfg.Prefix) {
			continue
		}
		e, err := p.store.EnvironmentByCluster(ctx, name)
		switch {
		case errors.Is(err, store.ErrNotFound):
			if time.Since(c.Created) < p.cfg.OrphanGrace {
				continue
			}
		case err != nil:
			return err
		case e.State != store.EnvFailed && e.State != store.EnvDeleted:
			continue
		}
		p.log.Info("deleting orphan cluster", "cluster", name)
		if err := p.clusters.Delete(ctx, name); err != nil {
			return err
		}
		_ = os.RemoveAll(p.clusterDir(name))
	}
	return nil
}
