package cluster

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	clusterimages "github.com/ckalab/ckalab/cluster-images"
)

// BenchmarkThaw pauses an idle 2-node cluster, measures what it uses while
// paused, thaws it after CKALAB_THAW_PAUSE (default 2m) and logs, for two
// minutes, every change of its API, node conditions, leases and taints.
//
//	go test -run '^$' -bench Thaw -benchtime 1x -timeout 20m -v ./cluster
func BenchmarkThaw(b *testing.B) {
	if testing.Short() {
		b.Skip("needs Docker and the node image")
	}
	pause := envDuration("CKALAB_THAW_PAUSE", 2*time.Minute)
	ctx := context.Background()
	m := New(slog.New(slog.NewTextHandler(io.Discard, nil)), b.TempDir())
	name := fmt.Sprintf("ckthaw%d", time.Now().Unix()%10000)
	b.Cleanup(func() { _ = m.Unpause(context.Background(), name); _ = m.Delete(context.Background(), name) })
	for b.Loop() {
		c, err := m.Create(ctx, Spec{Name: name, Image: "ckalab/node:v" + clusterimages.KubernetesVersion(), Workers: 1,
			WaitReady: 5 * time.Minute, Network: NetworkOf(name), Memory: "2g", Pids: 4096})
		if err != nil {
			b.Fatal(err)
		}
		cp := c.Nodes[0].Name
		for _, n := range c.Nodes {
			if n.Role == "control-plane" {
				cp = n.Name
			}
		}
		time.Sleep(30 * time.Second)
		t0 := time.Now()
		if err := m.Pause(ctx, name); err != nil {
			b.Fatal(err)
		}
		b.Logf("THAW pause took %s", time.Since(t0).Round(time.Millisecond))
		before, err := m.cgroupCPU(ctx, c)
		if err != nil {
			b.Fatal(err)
		}
		time.Sleep(pause)
		after, _ := m.cgroupCPU(ctx, c)
		b.Logf("THAW CPU while paused %.2f millicores over %s", float64(after-before)/1e6/pause.Seconds(), pause)
		since := time.Now().UTC()
		if err := m.Unpause(ctx, name); err != nil {
			b.Fatal(err)
		}
		b.Logf("THAW unpause took %s", time.Since(since).Round(time.Millisecond))
		last := ""
		for time.Since(since) < 2*time.Minute {
			out, _ := m.Exec(ctx, name, cp, nil, "sh", "-c", thawWatch, "sh", since.Format("2006-01-02T15:04:05.000000Z"))
			if s := strings.TrimSpace(string(out)); s != last {
				b.Logf("THAW +%s %s", time.Since(since).Round(10*time.Millisecond), s)
				last = s
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}

// thawWatch prints the API's readiness and, per node, its Ready status,
// whether its lease was renewed after $1, and its taints.
const thawWatch = `export KUBECONFIG=/etc/kubernetes/admin.conf
r=$(kubectl get --raw /readyz 2>&1 | head -c 40)
l=$(kubectl get lease -n kube-node-lease -o json | jq -r --arg s "$1" '[.items[] | "\(.metadata.name | sub(".*-"; ""))=\(if .spec.renewTime >= $s then "renewed" else "stale" end)"] | join(" ")')
n=$(kubectl get nodes -o json | jq -r '[.items[] | "\(.metadata.name | sub(".*-"; ""))=\(.status.conditions[] | select(.type=="Ready") | .status) taints=\([.spec.taints[]? | .key | sub(".*/"; "")] | join(","))"] | join(" ")')
echo "readyz=$r leases[$l] nodes[$n]"`

// cgroupCPU is the CPU time (ns) all the cluster's node containers used.
func (m *Manager) cgroupCPU(ctx context.Context, c *Cluster) (uint64, error) {
	var sum uint64
	for _, n := range c.Nodes {
		v, err := m.nodeCPU(ctx, n.Name)
		if err != nil {
			return 0, err
		}
		sum += v
	}
	return sum, nil
}
