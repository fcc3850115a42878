package provision_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ckalab/ckalab/cluster"
	clusterimages "github.com/ckalab/ckalab/cluster-images"
	"github.com/ckalab/ckalab/pgserver/pgtest"
	"github.com/ckalab/ckalab/provision"
	"github.com/ckalab/ckalab/store"
)

// BenchmarkWarmClaim measures a student's Start on a warm cluster until
// the environment is in use: the claim in PostgreSQL, the setup worker
// waking, a one-call lab setup (kubectl create namespace) on a real
// 2-node cluster, and the start. Reports p50 and p95.
//
//	go test -run '^$' -bench WarmClaim -benchtime 20x ./provision
func BenchmarkWarmClaim(b *testing.B) {
	if testing.Short() {
		b.Skip("needs Docker and the node images")
	}
	ctx := context.Background()
	version := clusterimages.KubernetesVersion()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cm := cluster.New(log, b.TempDir())
	name := fmt.Sprintf("ckbench%d", time.Now().UnixNano()%10000)
	c, err := cm.Create(ctx, cluster.Spec{Name: name, Image: "ckalab/node:v" + version, Workers: 1, WaitReady: 3 * time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cm.Delete(context.Background(), name) })
	st, err := store.Open(ctx, log, pgtest.New(b))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	nodes := make([]store.EnvNode, len(c.Nodes))
	for i, n := range c.Nodes {
		nodes[i] = store.EnvNode{Name: n.Name, Role: n.Role, IP: n.IP}
	}
	nodesJSON, _ := json.Marshal(nodes)
	setup := func(ctx context.Context, env store.Environment) error {
		_, err := cm.Exec(ctx, env.ClusterName, env.Nodes[0].Name, nil, "kubectl", "--kubeconfig=/etc/kubernetes/admin.conf", "create", "namespace", "lab-"+env.ID.String()[:8])
		return err
	}
	p := provision.New(provision.Config{Prefix: "ckbench-none-", NodeImage: "ckalab/node", StateDir: b.TempDir(),
		MaxLive: 1000, MaxPerUser: 1, CreateTimeout: time.Minute, OrphanGrace: time.Hour, Poll: time.Second}, log, st, cm, setup)
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	go func() { _ = p.Run(runCtx) }()
	<-p.Reconciled()

	var took []time.Duration
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		// Each claim gets its own warm row; all of them point at the one real cluster.
		_, err := st.Pool().Exec(ctx, `INSERT INTO environments (id, state, topology, k8s_version, cluster_name, kubeconfig, nodes, pooled, ready_at)
			VALUES ($1, 'ready', '1cp-1w', $2, $3, 'kubeconfig', $4, true, now())`, uuid.New(), version, fmt.Sprintf("%s-%d", name, i), nodesJSON)
		if err != nil {
			b.Fatal(err)
		}
		u, err := st.CreateUser(ctx, fmt.Sprintf("s%d@example.com", i), "s", store.RoleStudent, "hash")
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		e, err := p.Start(ctx, provision.StartRequest{UserID: u.ID, LabID: "bench", Topology: provision.Topology{Workers: 1}, Version: version, TimeLimit: time.Hour})
		if err != nil || e.State != store.EnvReady {
			b.Fatalf("claim %d: %+v %v", i, e, err)
		}
		for {
			got, err := st.Environment(ctx, e.ID)
			if err != nil {
				b.Fatal(err)
			}
			if got.State == store.EnvInUse {
				break
			}
			if got.State == store.EnvFailed {
				b.Fatalf("claim %d failed: %s", i, got.Failure)
			}
			time.Sleep(2 * time.Millisecond)
		}
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Milliseconds()), "p50-ms")
	b.ReportMetric(float64(took[(len(took)*95+99)/100-1].Milliseconds()), "p95-ms")
}
