package main

import (
	"context"
	"fmt"
	"log/slog"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/ckalab/ckalab/cluster"
	"github.com/ckalab/ckalab/config"
	"github.com/ckalab/ckalab/provision"
	"github.com/ckalab/ckalab/store"
)

// newProvisioner builds the provisioner from the configuration, or says
// why environments cannot run on this host (no Docker, no node image).
func newProvisioner(ctx context.Context, cfg *config.Config, log *slog.Logger, st *store.Store) (*provision.Provisioner, error) {
	var pools []provision.Pool
	for _, name := range strings.Split(cfg.PoolTopologies, ",") {
		topo, err := provision.ParseTopology(strings.TrimSpace(name))
		if err != nil {
			return nil, fmt.Errorf("--pool-topologies: %w", err)
		}
		pools = append(pools, provision.Pool{Topology: topo, Version: cfg.K8sVersion, Size: cfg.PoolSize})
	}
	if out, err := exec.CommandContext(ctx, "docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("no Docker engine answers (%s): start one, then restart ckalab", strings.TrimSpace(string(out)))
	}
	image := cfg.NodeImage + ":v" + cfg.K8sVersion
	if err := exec.CommandContext(ctx, "docker", "image", "inspect", image).Run(); err != nil {
		return nil, fmt.Errorf("node image %s is missing: build it with `make images`", image)
	}
	clusters := cluster.New(log.With("component", "cluster"), filepath.Join(cfg.StateDir, "kind"))
	return provision.New(provision.Config{
		Prefix: cfg.ClusterPrefix, NodeImage: cfg.NodeImage, StateDir: cfg.StateDir, Pools: pools,
		MaxLive: cfg.MaxEnvs, MaxPerUser: cfg.MaxEnvsPerUser, Memory: cfg.NodeMemory, Pids: cfg.NodePids,
		CreateTimeout: cfg.CreateTimeout, OrphanGrace: cfg.OrphanGrace,
	}, log.With("component", "provision"), st, clusters, nil), nil
}
