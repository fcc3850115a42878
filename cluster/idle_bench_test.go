package cluster

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	clusterimages "github.com/ckalab/ckalab/cluster-images"
)

// BenchmarkIdleComponents creates one idle 2-node cluster, lets it settle
// and reports the CPU each component uses (millicores, from /proc in the
// nodes) and each node container's total (its cgroup): where an idle
// cluster's cycles go. CKALAB_IDLE_SETTLE and CKALAB_IDLE_WINDOW are the
// settle and measuring times (default 90s and 60s).
//
//	go test -run '^$' -bench IdleComponents -benchtime 1x -timeout 20m -v ./cluster
func BenchmarkIdleComponents(b *testing.B) {
	if testing.Short() {
		b.Skip("needs Docker and the node image")
	}
	settle, window := envDuration("CKALAB_IDLE_SETTLE", 90*time.Second), envDuration("CKALAB_IDLE_WINDOW", 60*time.Second)
	ctx := context.Background()
	m := New(slog.New(slog.NewTextHandler(io.Discard, nil)), b.TempDir())
	name := fmt.Sprintf("ckidle%d", time.Now().Unix()%10000)
	b.Cleanup(func() { _ = m.Delete(context.Background(), name) })
	for b.Loop() {
		c, err := m.Create(ctx, Spec{Name: name, Image: "ckalab/node:v" + clusterimages.KubernetesVersion(), Workers: 1,
			WaitReady: 5 * time.Minute, Network: NetworkOf(name), Memory: "2g", Pids: 4096})
		if err != nil {
			b.Fatal(err)
		}
		time.Sleep(settle)
		before, err := m.sampleCPU(ctx, c)
		if err != nil {
			b.Fatal(err)
		}
		time.Sleep(window)
		after, err := m.sampleCPU(ctx, c)
		if err != nil {
			b.Fatal(err)
		}
		secs := after.at.Sub(before.at).Seconds()
		milli := func(ticks float64) float64 { return ticks / 100 / secs * 1000 } // USER_HZ = 100
		var all float64
		for _, n := range c.Nodes {
			rows := map[string]float64{}
			var sum float64
			for comm, t := range after.procs[n.Name] {
				d := milli(float64(t) - float64(before.procs[n.Name][comm]))
				rows[component(comm)] += d
				sum += d
			}
			total := float64(after.cgroup[n.Name]-before.cgroup[n.Name]) / 1e6 / secs
			rows["short-lived processes (probes, exec)"] = total - sum
			names := make([]string, 0, len(rows))
			for k := range rows {
				names = append(names, k)
			}
			sort.Slice(names, func(i, j int) bool { return rows[names[i]] > rows[names[j]] })
			for _, k := range names {
				b.Logf("IDLE node=%s component=%q millicores=%.1f", n.Role, k, rows[k])
			}
			b.Logf("IDLE node=%s total millicores=%.1f", n.Role, total)
			all += total
		}
		load, _ := os.ReadFile("/proc/loadavg")
		jiffies := float64(after.host[2] - before.host[2])
		b.Logf("IDLE cluster total millicores=%.1f over %.0fs; host busy %.0f%% iowait %.0f%% of all cores, load %s", all, secs,
			100*float64(after.host[0]-before.host[0])/jiffies, 100*float64(after.host[1]-before.host[1])/jiffies, strings.Join(strings.Fields(string(load))[:3], " "))
		b.ReportMetric(all, "millicores")
	}
}

type cpuSample struct {
	at     time.Time
	procs  map[string]map[string]uint64 // node → comm → utime+stime ticks of live processes
	cgroup map[string]uint64            // node → cpuacct.usage (ns)
	host   [3]uint64                    // host busy, iowait and all jiffies (/proc/stat)
}

// hostCPU reads the host's busy, iowait and total jiffies.
func hostCPU() [3]uint64 {
	raw, _ := os.ReadFile("/proc/stat")
	line, _, _ := strings.Cut(string(raw), "\n")
	var r [3]uint64
	for i, f := range strings.Fields(line)[1:] {
		v, _ := strconv.ParseUint(f, 10, 64)
		r[2] += v
		switch i {
		case 3: // idle
		case 4:
			r[1] += v
		default:
			r[0] += v
		}
	}
	return r
}

// sampleCPU reads every process's CPU time in each node and each node
// container's cgroup total.
func (m *Manager) sampleCPU(ctx context.Context, c *Cluster) (cpuSample, error) {
	s := cpuSample{at: time.Now(), procs: map[string]map[string]uint64{}, cgroup: map[string]uint64{}, host: hostCPU()}
	for _, n := range c.Nodes {
		// The sampler's own sh and cat come and go; they are left out.
		out, err := m.Exec(ctx, c.Name, n.Name, nil, "sh", "-c", `cat /proc/[0-9]*/stat 2>/dev/null; true`)
		if err != nil {
			return s, err
		}
		s.procs[n.Name] = map[string]uint64{}
		for _, line := range strings.Split(string(out), "\n") {
			open, close := strings.IndexByte(line, '('), strings.LastIndexByte(line, ')')
			if open < 0 || close < open {
				continue
			}
			f := strings.Fields(line[close+1:])
			if len(f) < 13 {
				continue
			}
			ut, _ := strconv.ParseUint(f[11], 10, 64)
			st, _ := strconv.ParseUint(f[12], 10, 64)
			if comm := line[open+1 : close]; comm != "sh" && comm != "cat" {
				s.procs[n.Name][comm] += ut + st
			}
		}
		if s.cgroup[n.Name], err = m.nodeCPU(ctx, n.Name); err != nil {
			return s, err
		}
	}
	return s, nil
}

// nodeCPU reads a node container's CPU time (ns) from its cgroup.
func (m *Manager) nodeCPU(ctx context.Context, node string) (uint64, error) {
	id, err := m.docker(ctx, "inspect", "-f", "{{.Id}}", node).Output()
	if err != nil {
		return 0, err
	}
	raw, err := os.ReadFile("/sys/fs/cgroup/cpuacct/docker/" + string(bytes.TrimSpace(id)) + "/cpuacct.usage")
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(string(bytes.TrimSpace(raw)), 10, 64)
}

// component names a process by what it is part of.
func component(comm string) string {
	switch {
	case strings.HasPrefix(comm, "kube-controller"):
		return "kube-controller-manager"
	case strings.HasPrefix(comm, "containerd-shim"):
		return "containerd-shim (all pods)"
	case strings.HasPrefix(comm, "local-path"):
		return "local-path-provisioner"
	case strings.HasPrefix(comm, "systemd"):
		return "systemd, journald"
	}
	switch comm {
	case "etcd", "kube-apiserver", "kube-scheduler", "kubelet", "kube-proxy", "coredns", "metrics-server", "ckanet", "registry", "containerd":
		return comm
	}
	return "other (" + comm + ")"
}

func envDuration(key string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(os.Getenv(key)); err == nil {
		return d
	}
	return def
}
