package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/ckalab/ckalab/cluster"
	"github.com/ckalab/ckalab/config"
	"github.com/ckalab/ckalab/grader"
	"github.com/ckalab/ckalab/labs"
	"github.com/ckalab/ckalab/provision"
	"github.com/ckalab/ckalab/server"
	"github.com/ckalab/ckalab/store"
	"github.com/ckalab/ckalab/terminal"
)

// newProvisioner builds the provisioner from the configuration, or says
// why environments cannot run on this host (no Docker, no node image).
func newProvisioner(ctx context.Context, cfg *config.Config, log *slog.Logger, st *store.Store, catalog []*labs.Lab) (*provision.Provisioner, *cluster.Manager, error) {
	var pools []provision.Pool
	for _, name := range strings.Split(cfg.PoolTopologies, ",") {
		topo, err := provision.ParseTopology(strings.TrimSpace(name))
		if err != nil {
			return nil, nil, fmt.Errorf("--pool-topologies: %w", err)
		}
		pools = append(pools, provision.Pool{Topology: topo, Version: cfg.K8sVersion, Size: cfg.PoolSize, Hot: cfg.PoolHot})
	}
	clusters, err := cluster.NewOn(log.With("component", "cluster"), filepath.Join(cfg.StateDir, "kind"),
		cluster.Engine{Host: cfg.DockerHost, CertPath: cfg.DockerCertPath, APIAddress: cfg.EngineAPIAddress})
	if err != nil {
		return nil, nil, err
	}
	if err := clusters.Ready(ctx, cfg.NodeImage+":v"+cfg.K8sVersion); err != nil {
		return nil, nil, err
	}
	setup := func(ctx context.Context, env store.Environment) error {
		l := findLab(catalog, env.LabID)
		if l == nil {
			return nil // the playground has no setup
		}
		return l.RunSteps(ctx, l.Setup, nodeNames(env), clusters.In(env.ClusterName))
	}
	return provision.New(provision.Config{
		Prefix: cfg.ClusterPrefix, NodeImage: cfg.NodeImage, StateDir: cfg.StateDir, Pools: pools,
		MaxLive: cfg.MaxEnvs, MaxActive: cfg.MaxActiveEnvs, MaxPerUser: cfg.MaxEnvsPerUser, Memory: cfg.NodeMemory, CPUs: cfg.NodeCPUs, Pids: cfg.NodePids, MinFreeDisk: int64(cfg.MinFreeDiskGiB) << 30,
		CreateTimeout: cfg.CreateTimeout, OrphanGrace: cfg.OrphanGrace,
		FreezePool: cfg.FreezePool, SleepAfter: cfg.SleepAfter,
	}, log.With("component", "provision"), st, clusters, setup), clusters, nil
}

// loadLabs reads the lab catalog: --labs-dir, or the labs built in.
func loadLabs(cfg *config.Config) ([]*labs.Lab, error) {
	if cfg.LabsDir != "" {
		return labs.LoadAll(cfg.LabsDir)
	}
	return labs.Builtin()
}

func findLab(catalog []*labs.Lab, id string) *labs.Lab {
	for _, l := range catalog {
		if l.ID == id {
			return l
		}
	}
	return nil
}

// nodeNames maps a lab's node names to an environment's node containers.
func nodeNames(env store.Environment) map[string]string {
	roles := map[string]string{}
	for _, n := range env.Nodes {
		roles[n.Name] = n.Role
	}
	return labs.NodeNamesByRole(roles)
}

// shellLauncher starts terminals' shells through the cluster backend, in
// the target environment's own nodes only.
func shellLauncher(clusters cluster.Backend) terminal.Launcher {
	return terminal.LauncherFunc(func(ctx context.Context, id string, t terminal.Target, cols, rows uint16) (terminal.Process, error) {
		return clusters.Shell(ctx, t.Cluster, t.Node, id, cols, rows)
	})
}

// gradeWith grades environments with the platform's credentials: the
// environment's admin kubeconfig (kept by the server) and docker exec.
func gradeWith(g *grader.Grader, clusters *cluster.Manager) server.GradeFunc {
	return func(ctx context.Context, l *labs.Lab, env store.Environment) grader.Report {
		t := grader.Target{Kubeconfig: []byte(env.Kubeconfig), Nodes: nodeNames(env), Exec: clusters.In(env.ClusterName), ReadFile: clusters.FilesIn(env.ClusterName), Probe: clusters.ProbesIn(env.ClusterName)}
		if env.StartedAt != nil {
			t.SetupDone = *env.StartedAt // set up, then handed over
		}
		return g.Grade(ctx, l, t)
	}
}
