package provision

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/ckalab/ckalab/store"
)

// CheckDisk guards the engine host's disk. Node containers keep /var (the
// student's files, images, etcd) on the engine's own filesystem, which no
// container limit bounds; when it has less than MinFreeDisk left, the
// running environment holding the most is stopped, with the reason, and
// its cluster deleted at once to give the space back.
func (p *Provisioner) CheckDisk(ctx context.Context) error {
	if p.cfg.MinFreeDisk <= 0 {
		return nil
	}
	live, err := p.store.EnvironmentsIn(ctx, store.EnvInUse)
	if err != nil || len(live) == 0 {
		return err
	}
	free, err := p.freeDisk(ctx, live[0])
	if err != nil {
		return err
	}
	if free >= p.cfg.MinFreeDisk {
		return nil
	}
	var worst store.Environment
	var most int64 = -1
	for _, e := range live {
		used, err := p.diskUsed(ctx, e)
		if err != nil {
			p.log.Warn("measuring an environment's disk", "env", e.ID, "err", err)
			continue
		}
		if used > most {
			worst, most = e, used
		}
	}
	if most < 0 {
		return fmt.Errorf("the engine's disk has %s free and no environment could be measured", gib(free))
	}
	reason := fmt.Sprintf("stopped: the host is nearly out of disk (%s free) and this environment's nodes held the most (%s under /var); files that large fill the host for everyone", gib(free), gib(most))
	p.log.Warn("stopping the environment using the most disk", "env", worst.ID, "cluster", worst.ClusterName, "free", free, "used", most)
	if err := p.store.FailEnvironment(ctx, worst.ID, reason); err != nil {
		return err
	}
	_ = p.store.AddEnvEvent(ctx, worst.ID, "stopped", reason)
	if err := p.clusters.Delete(ctx, worst.ClusterName); err != nil {
		return err
	}
	_ = os.RemoveAll(p.clusterDir(worst.ClusterName))
	wake(p.wakeCreate)
	return nil
}

// freeDisk is the free space of the filesystem holding the nodes' /var
// on the engine host, as a node sees it.
func (p *Provisioner) freeDisk(ctx context.Context, e store.Environment) (int64, error) {
	if len(e.Nodes) == 0 {
		return 0, fmt.Errorf("environment %s has no nodes", e.ID)
	}
	out, err := p.clusters.Exec(ctx, e.ClusterName, e.Nodes[0].Name, nil, "df", "-Pk", "/var")
	if err != nil {
		return 0, err
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	f := strings.Fields(lines[len(lines)-1])
	if len(f) < 4 {
		return 0, fmt.Errorf("df /var: %q", out)
	}
	kb, err := strconv.ParseInt(f[3], 10, 64)
	return kb << 10, err
}

// diskUsed sums /var over the environment's nodes.
func (p *Provisioner) diskUsed(ctx context.Context, e store.Environment) (int64, error) {
	var total int64
	for _, n := range e.Nodes {
		out, err := p.clusters.Exec(ctx, e.ClusterName, n.Name, nil, "du", "-sxk", "/var")
		if err != nil {
			return 0, err
		}
		f := strings.Fields(string(out))
		if len(f) == 0 {
			return 0, fmt.Errorf("du /var on %s: %q", n.Name, out)
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, err
		}
		total += kb << 10
	}
	return total, nil
}

func gib(b int64) string { return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30)) }
