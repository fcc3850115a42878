package grader_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ckalab/ckalab/cluster"
	clusterimages "github.com/ckalab/ckalab/cluster-images"
	"github.com/ckalab/ckalab/config"
	"github.com/ckalab/ckalab/grader"
	"github.com/ckalab/ckalab/labs"
)

// TestSolutionBots proves every shipped lab on real clusters, each run on
// a fresh setup: right after setup a lab scores exactly 0; its solution
// and each alternative reach full marks; each shortcut stays below them.
// Labs confined to namespaces (topology.namespaces) share clusters, one
// run of each such lab per cluster, side by side, as exam questions do:
// a lab that reaches outside its namespaces fails its neighbours here.
// CKALAB_LABS=a,b limits the run to some labs, CKALAB_BOTS=solution,… to
// some kinds of run (solution, shortcut, alternative).
func TestSolutionBots(t *testing.T) {
	if testing.Short() {
		t.Skip("solution bots need Docker and the node images")
	}
	all, err := labs.LoadAll("../labs")
	if err != nil {
		t.Fatal(err)
	}
	only := map[string]bool{}
	for _, id := range strings.Split(os.Getenv("CKALAB_LABS"), ",") {
		if id != "" {
			only[id] = true
		}
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	m := cluster.New(log, t.TempDir())
	defaults, err := config.Defaults()
	if err != nil {
		t.Fatal(err)
	}
	g := grader.New(log)
	var mu sync.Mutex
	var timings []string

	// attempt is one bot's run on a cluster set up for it.
	attempt := func(t *testing.T, c *cluster.Cluster, lab *labs.Lab, run botRun) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
		defer cancel()
		roles := map[string]string{}
		for _, n := range c.Nodes {
			roles[n.Name] = n.Role
		}
		nodes := labs.NodeNamesByRole(roles)
		cp := nodes["control-plane"]
		// What a failed step leaves behind, for the log.
		diagnose := func() {
			out, _ := m.In(c.Name)(context.Background(), cp, nil, "sh", "-c",
				"export KUBECONFIG=/etc/kubernetes/admin.conf; kubectl get nodes -o wide; kubectl get pods -A -o wide; "+
					"kubectl get events -A --sort-by=.lastTimestamp | tail -40")
			t.Logf("cluster state:\n%s", out)
		}
		if err := lab.RunSteps(ctx, lab.Setup, nodes, m.In(c.Name)); err != nil {
			diagnose()
			t.Fatalf("setup: %v", err)
		}
		target := grader.Target{Kubeconfig: c.Kubeconfig, Nodes: nodes, Exec: m.In(c.Name), ReadFile: m.FilesIn(c.Name), Probe: m.ProbesIn(c.Name), SetupDone: time.Now()}
		// Zero before work: no check counts on a fresh setup.
		if before := g.Grade(ctx, lab, target); before.Score != 0 {
			for _, r := range before.Results {
				if r.Passed {
					t.Errorf("%s/%s counts right after setup: %s", r.TaskID, r.CheckID, r.Message)
				}
			}
		}
		if err := lab.RunSteps(ctx, run.bot.Steps, nodes, m.In(c.Name)); err != nil {
			diagnose()
			t.Fatalf("%s %s: %v", run.kind, run.bot.ID, err)
		}
		// Controllers need a moment after the steps: grade until all
		// pass, or (a shortcut) for long enough to know they do not.
		var after grader.Report
		deadline := time.Now().Add(2 * time.Minute)
		if !run.full {
			deadline = time.Now().Add(10 * time.Second)
		}
		for time.Now().Before(deadline) {
			after = g.Grade(ctx, lab, target)
			if after.Score == after.MaxScore {
				break
			}
			time.Sleep(2 * time.Second)
		}
		if !run.full {
			if after.Score == after.MaxScore {
				t.Errorf("shortcut %s (%s) gets full marks: the checks do not prove the skill", run.bot.ID, run.bot.Description)
			} else {
				t.Logf("shortcut %s scores %.2f of %.0f", run.bot.ID, after.Score, after.MaxScore)
			}
			return
		}
		for _, r := range after.Results {
			if !r.Passed {
				t.Errorf("after the %s, %s/%s fails: %s (evidence %v)", run.kind, r.TaskID, r.CheckID, r.Message, r.Evidence)
			}
		}
		if run.kind != "solution" {
			return
		}
		// Grading time over repeated gradings, for docs/benchmarks.md:
		// CKALAB_GRADINGS=5 grades five times (a probing lab's grading takes
		// seconds, so CI keeps to the one above).
		took := []time.Duration{after.Took}
		n, _ := strconv.Atoi(os.Getenv("CKALAB_GRADINGS"))
		for len(took) < n {
			took = append(took, g.Grade(ctx, lab, target).Took)
		}
		slices.Sort(took)
		mu.Lock()
		timings = append(timings, fmt.Sprintf("%s p50 %s max %s (%d)", lab.ID, took[len(took)/2].Round(time.Millisecond), took[len(took)-1].Round(time.Millisecond), len(took)))
		mu.Unlock()
	}

	// job is one fresh cluster and the runs on it: one run of a lab that
	// needs its own cluster, or one run of each of several confined labs.
	type job struct {
		topology labs.Topology
		runs     []labRun
		rank     int
	}
	// The longest runs (hard labs: kubeadm-upgrade) start first, so that
	// two at a time do not end on one long run alone; shared clusters,
	// which hold several runs, count as hard.
	rank := map[string]int{"hard": 0, "medium": 1, "easy": 2}
	var jobs []job
	shared := map[string][]job{} // topology and group -> the k-th shared cluster's job
	sharing := map[string]int{}  // topology -> confined labs seen
	const maxShared = 8
	for _, lab := range all {
		if len(only) > 0 && !only[lab.ID] {
			continue
		}
		runs := []botRun{{kind: "solution", bot: labs.Bot{ID: "solution", Steps: lab.Solution}, full: true}}
		for _, b := range lab.Shortcuts {
			runs = append(runs, botRun{kind: "shortcut", bot: b})
		}
		for _, b := range lab.Alternatives {
			runs = append(runs, botRun{kind: "alternative", bot: b, full: true})
		}
		runs = slices.DeleteFunc(runs, func(r botRun) bool {
			kinds := os.Getenv("CKALAB_BOTS")
			return kinds != "" && !slices.Contains(strings.Split(kinds, ","), r.kind)
		})
		if !lab.Topology.Shareable() {
			for _, r := range runs {
				jobs = append(jobs, job{topology: lab.Topology, runs: []labRun{{lab, r}}, rank: rank[lab.Difficulty]})
			}
			continue
		}
		// At most maxShared labs per cluster: their setups and probes share
		// a 1-CPU worker.
		topo := fmt.Sprintf("%d/%s", lab.Topology.Workers, lab.Topology.KubernetesVersion)
		key := fmt.Sprintf("%s/%d", topo, sharing[topo]/maxShared)
		sharing[topo]++
		for k, r := range runs {
			if k == len(shared[key]) {
				shared[key] = append(shared[key], job{topology: lab.Topology})
			}
			shared[key][k].runs = append(shared[key][k].runs, labRun{lab, r})
		}
	}
	for _, js := range shared {
		jobs = append(jobs, js...)
	}
	slices.SortStableFunc(jobs, func(a, b job) int { return a.rank - b.rank })

	// Two clusters at a time, in order: cluster creation and waits overlap
	// on a 2-core machine; a third would only queue for CPU.
	t.Run("labs", func(t *testing.T) {
		queue := make(chan job)
		var wg sync.WaitGroup
		var next atomic.Int64
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range queue {
					name := fmt.Sprintf("ckbot%d-%d", time.Now().UnixNano()%100000, next.Add(1)-1)
					runCluster(t, m, defaults, name, j.topology, j.runs, attempt)
				}
			}()
		}
		for _, j := range jobs {
			queue <- j
		}
		close(queue)
		wg.Wait()
	})
	slices.Sort(timings)
	t.Logf("BENCH grading time per lab (gradings): %s", strings.Join(timings, ", "))
}

// runCluster creates one cluster of a topology with the limits ckalab
// serve gives every node (each lab must pass within them), runs each run
// on it side by side as its own subtest, and deletes it.
func runCluster(t *testing.T, m *cluster.Manager, defaults config.Config, name string, topo labs.Topology, runs []labRun,
	attempt func(*testing.T, *cluster.Cluster, *labs.Lab, botRun)) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	version := topo.KubernetesVersion
	if version == "" {
		version = clusterimages.KubernetesVersion()
	}
	start := time.Now()
	c, err := m.Create(ctx, cluster.Spec{Name: name, Image: "ckalab/node:v" + version, Workers: topo.Workers,
		WaitReady: 4 * time.Minute, Network: cluster.NetworkOf(name),
		Memory: defaults.NodeMemory, CPUs: defaults.NodeCPUs, Pids: defaults.NodePids})
	defer m.Delete(context.Background(), name)
	var ids []string
	for _, r := range runs {
		ids = append(ids, r.lab.ID+"/"+r.run.kind+"-"+r.run.bot.ID)
	}
	if err != nil {
		t.Errorf("cluster %s for %s: %v", name, strings.Join(ids, ", "), err)
		return
	}
	t.Logf("cluster %s ready in %s for %s", name, time.Since(start).Round(time.Second), strings.Join(ids, ", "))
	var wg sync.WaitGroup
	for i, r := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t.Run(ids[i], func(t *testing.T) { attempt(t, c, r.lab, r.run) })
		}()
	}
	wg.Wait()
}

// labRun is one bot of one lab.
type labRun struct {
	lab *labs.Lab
	run botRun
}

// botRun is one scripted attempt on a fresh setup; full says whether it
// must reach full marks (solution, alternative) or stay below (shortcut).
type botRun struct {
	kind string
	bot  labs.Bot
	full bool
}
