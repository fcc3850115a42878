package provision

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ckalab/ckalab/cluster"
	"github.com/ckalab/ckalab/store"
)

// diskEvery is how often the engine's disk is checked; diskWait bounds one check.
const (
	diskEvery = time.Minute
	diskWait  = 30 * time.Second
)

// diskLoop runs CheckDisk until ctx ends, apart from the other workers: a
// slow engine must not hold up expiry or deletion.
func (p *Provisioner) diskLoop(ctx context.Context) {
	tick := time.NewTicker(diskEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if err := p.CheckDisk(ctx); err != nil {
				p.log.Warn("checking the engine's disk", "err", err)
			}
		}
	}
}

// CheckDisk guards the engine host's disk. Node containers keep the
// student's files, images and etcd on the engine's own filesystem, which no
// container limit bounds; when it has less than MinFreeDisk left, the
// running environment holding the most (as the engine measures it, never
// as a node reports it) is stopped with the reason, and its cluster
// deleted at once to give the space back.
func (p *Provisioner) CheckDisk(ctx context.Context) error {
	if p.cfg.MinFreeDisk <= 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, diskWait)
	defer cancel()
	live, err := p.store.EnvironmentsIn(ctx, store.EnvInUse)
	if err != nil || len(live) == 0 {
		return err
	}
	free, err := p.clusters.FreeDisk(ctx)
	if errors.Is(err, cluster.ErrNotMeasurable) {
		free, err = p.freeAsNodesSee(ctx, live)
	}
	if err != nil {
		return err
	}
	if free >= p.cfg.MinFreeDisk {
		return nil
	}
	usage, err := p.clusters.DiskUsage(ctx)
	if err != nil {
		return err
	}
	worst := live[0]
	for _, e := range live[1:] {
		if usage[e.ClusterName] > usage[worst.ClusterName] {
			worst = e
		}
	}
	reason := fmt.Sprintf("stopped: the host is nearly out of disk (%s free) and this environment held the most (%s); files that large fill the host for everyone",
		gib(free), gib(usage[worst.ClusterName]))
	p.log.Warn("stopping the environment using the most disk", "env", worst.ID, "cluster", worst.ClusterName, "free", free, "used", usage[worst.ClusterName])
	if err := p.store.FailEnvironment(ctx, worst.ID, reason); err != nil {
		return err
	}
	p.cfg.Metrics.fail(failDisk)
	_ = p.store.AddEnvEvent(ctx, worst.ID, "stopped", reason)
	if err := p.clusters.Delete(ctx, worst.ClusterName); err != nil {
		return err
	}
	_ = os.RemoveAll(p.clusterDir(worst.ClusterName))
	wake(p.wakeCreate)
	return nil
}

// freeAsNodesSee is, for a remote engine, the median free space that the
// running environments' control planes report for /var (one filesystem on
// the engine host): one student faking df moves the median little.
func (p *Provisioner) freeAsNodesSee(ctx context.Context, live []store.Environment) (int64, error) {
	var seen []int64
	for _, e := range live {
		if len(e.Nodes) == 0 {
			continue
		}
		out, err := p.clusters.Exec(ctx, e.ClusterName, e.Nodes[0].Name, nil, "timeout", "5", "df", "-Pk", "/var")
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if f := strings.Fields(lines[len(lines)-1]); len(f) >= 4 {
			if kb, err := strconv.ParseInt(f[3], 10, 64); err == nil {
				seen = append(seen, kb<<10)
			}
		}
	}
	if len(seen) == 0 {
		return 0, errors.New("no node reported the engine's free disk")
	}
	slices.Sort(seen)
	return seen[len(seen)/2], nil
}

func gib(b int64) string { return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30)) }
