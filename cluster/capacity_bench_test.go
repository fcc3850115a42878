package cluster

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	clusterimages "github.com/ckalab/ckalab/cluster-images"
)

// BenchmarkIdleCapacity adds idle 2-node clusters one by one (each on its
// own network, 2g/4096 limits) and reports, after each, its create time,
// the API latency of the first cluster (kubectl get nodes) and the host's
// load and free memory: where these degrade is the host's capacity.
// CKALAB_CAPACITY_MAX bounds the count (default 10).
//
//	go test -run '^$' -bench IdleCapacity -benchtime 1x -timeout 60m ./cluster
func BenchmarkIdleCapacity(b *testing.B) {
	if testing.Short() {
		b.Skip("needs Docker and the node image")
	}
	max := 10
	if v, err := strconv.Atoi(os.Getenv("CKALAB_CAPACITY_MAX")); err == nil {
		max = v
	}
	ctx := context.Background()
	m := New(slog.New(slog.NewTextHandler(io.Discard, nil)), b.TempDir())
	image := "ckalab/node:v" + clusterimages.KubernetesVersion()
	prefix := fmt.Sprintf("ckcap%d-", time.Now().Unix()%10000)
	var names []string
	b.Cleanup(func() {
		for _, n := range names {
			_ = m.Delete(context.Background(), n)
		}
	})
	for b.Loop() {
		for i := 1; i <= max; i++ {
			name := fmt.Sprintf("%s%d", prefix, i)
			start := time.Now()
			_, err := m.Create(ctx, Spec{Name: name, Image: image, Workers: 1, WaitReady: 5 * time.Minute,
				Network: NetworkOf(name), Memory: "2g", Pids: 4096})
			created := time.Since(start)
			if err != nil {
				b.Logf("cluster %d failed after %s: %v", i, created.Round(time.Second), err)
				break
			}
			names = append(names, name)
			time.Sleep(20 * time.Second) // let it settle to idle
			t0 := time.Now()
			_, err = m.Exec(ctx, names[0], names[0]+"-control-plane", nil, "kubectl", "--kubeconfig=/etc/kubernetes/admin.conf", "get", "nodes")
			api := time.Since(t0)
			load, _ := os.ReadFile("/proc/loadavg")
			mem, _ := os.ReadFile("/proc/meminfo")
			avail := ""
			for _, l := range strings.Split(string(mem), "\n") {
				if strings.HasPrefix(l, "MemAvailable:") {
					avail = strings.Join(strings.Fields(l)[1:], " ")
				}
			}
			b.Logf("CAPACITY clusters=%d create=%s first-cluster-kubectl=%s (err=%v) load=%s mem-available=%s",
				i, created.Round(100*time.Millisecond), api.Round(time.Millisecond), err, strings.Join(strings.Fields(string(load))[:3], " "), avail)
		}
	}
}
