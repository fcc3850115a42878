package grader_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
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
	// The longest runs (hard labs: kubeadm-upgrade) start first, so that
	// two at a time do not end on one long run alone.
	rank := map[string]int{"hard": 0, "medium": 1, "easy": 2}
	slices.SortStableFunc(all, func(a, b *labs.Lab) int { return rank[a.Difficulty] - rank[b.Difficulty] })
	var mu sync.Mutex
	var timings []string
	// One run: a fresh cluster, the setup, the bot's steps, the grades.
	bot := func(t *testing.T, lab *labs.Lab, run botRun, name string) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
		defer cancel()
		version := lab.Topology.KubernetesVersion
		if version == "" {
			version = clusterimages.KubernetesVersion()
		}
		// The limits ckalab serve gives every node: each lab must pass within them.
		c, err := m.Create(ctx, cluster.Spec{Name: name, Image: "ckalab/node:v" + version, Workers: lab.Topology.Workers,
			WaitReady: 4 * time.Minute, Network: cluster.NetworkOf(name),
			Memory: defaults.NodeMemory, CPUs: defaults.NodeCPUs, Pids: defaults.NodePids})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Delete(context.Background(), name)
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
		// Grading time over repeated gradings, for docs/benchmarks.md.
		took := []time.Duration{after.Took}
		for range 4 {
			took = append(took, g.Grade(ctx, lab, target).Took)
		}
		slices.Sort(took)
		mu.Lock()
		timings = append(timings, fmt.Sprintf("%s p50 %s p95 %s", lab.ID, took[2].Round(time.Millisecond), took[4].Round(time.Millisecond)))
		mu.Unlock()
	}
	type job struct {
		lab  *labs.Lab
		run  botRun
		name string
	}
	var jobs []job
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
		for _, run := range runs {
			if kinds := os.Getenv("CKALAB_BOTS"); kinds != "" && !slices.Contains(strings.Split(kinds, ","), run.kind) {
				continue
			}
			jobs = append(jobs, job{lab, run, fmt.Sprintf("ckbot%d-%d", time.Now().UnixNano()%100000, len(jobs))})
		}
	}
	// Two runs at a time, in order (hard labs first): cluster creation and
	// waits overlap on a 2-core machine; a third would only queue for CPU.
	t.Run("labs", func(t *testing.T) {
		queue := make(chan job)
		var wg sync.WaitGroup
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range queue {
					t.Run(j.lab.ID+"/"+j.run.kind+"-"+j.run.bot.ID, func(t *testing.T) { bot(t, j.lab, j.run, j.name) })
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
	t.Logf("BENCH grading time per lab over 5 gradings: %s", strings.Join(timings, ", "))
}

// botRun is one scripted attempt on a fresh setup; full says whether it
// must reach full marks (solution, alternative) or stay below (shortcut).
type botRun struct {
	kind string
	bot  labs.Bot
	full bool
}
