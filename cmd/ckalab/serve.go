package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ckalab/ckalab/cluster"
	"github.com/ckalab/ckalab/config"
	"github.com/ckalab/ckalab/grader"
	"github.com/ckalab/ckalab/provision"
	"github.com/ckalab/ckalab/server"
	"github.com/ckalab/ckalab/store"
	"github.com/ckalab/ckalab/terminal"
	"github.com/ckalab/ckalab/web"
)

func (c *cli) serve(ctx context.Context, args []string) error {
	fs, cfg, envErr := c.flags("serve", "ckalab serve [options]")
	if err := c.parse(fs, cfg, envErr, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("serve takes no arguments, got %q", fs.Args())}
	}
	log := newLogger(cfg, c.stderr)
	log.Info("starting ckalab", "version", versionString(), "state_dir", cfg.StateDir, "web_embedded", web.Embedded)
	envsDown, err := checkHost(ctx, cfg, log)
	if err != nil {
		return err
	}
	st, stop, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer stop()
	status, err := st.MigrateUp(ctx)
	if err != nil {
		return err
	}
	log.Info("database ready", "schema", status.Version)

	catalog, err := loadLabs(cfg)
	if err != nil {
		return fmt.Errorf("lab catalog: %w", err)
	}
	log.Info("labs loaded", "count", len(catalog))
	deps := server.Deps{Store: st, Web: web.FS(), Labs: catalog}
	deps.Metrics = prometheus.NewRegistry() // the server's and the provisioner's series
	if cfg.OIDCIssuer != "" {
		if deps.SSO, err = newSSO(cfg, log); err != nil {
			return err
		}
		log.Info("single sign-on on", "issuer", cfg.OIDCIssuer, "password_login", !cfg.NoPasswordLogin)
	}
	prov, clusters, err := provisionerUnless(ctx, envsDown, cfg, log, st, catalog)
	if err != nil {
		log.Warn("labs cannot start environments on this host", "reason", err)
		deps.EnvsDown = err.Error()
	} else {
		deps.Envs, deps.Terminals, deps.Grade, deps.Health = runEnvironments(ctx, cfg, log, prov, clusters, deps.Metrics)
	}

	srv := server.New(*cfg, log, deps)
	if deps.Envs == nil {
		// The node image may still be building (make images): look again
		// until environments can run, then turn them on without a restart.
		go func() {
			prov, clusters, ok := waitForHost(ctx, cfg, log, st, catalog)
			if ok {
				srv.EnableEnvironments(runEnvironments(ctx, cfg, log, prov, clusters, deps.Metrics))
			}
		}()
	}
	if cfg.MetricsListen != "" {
		mln, err := net.Listen("tcp", cfg.MetricsListen)
		if err != nil {
			return fmt.Errorf("listen on %s: %w (choose another --metrics-listen)", cfg.MetricsListen, err)
		}
		log.Info("serving metrics", "url", "http://"+mln.Addr().String()+"/metrics", "token", cfg.MetricsToken != "")
		go func() {
			if err := srv.ServeMetrics(ctx, mln); err != nil {
				log.Error("metrics listener stopped", "err", err)
			}
		}()
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (is another ckalab running? choose another --listen)", cfg.Listen, err)
	}
	log.Info("serving", "url", "http://"+ln.Addr().String())
	return srv.Serve(ctx, ln)
}

// runEnvironments starts the provisioner and the terminal manager and
// returns what the server needs of them.
func runEnvironments(ctx context.Context, cfg *config.Config, log *slog.Logger, prov *provision.Provisioner, clusters *cluster.Manager, reg *prometheus.Registry) (server.Environments, *terminal.Manager, server.GradeFunc, server.HealthFunc) {
	prov.Instrument(reg)
	g := grader.New(log.With("component", "grader"))
	health := func(ctx context.Context, env store.Environment) grader.Health {
		return g.Health(ctx, grader.Target{Kubeconfig: []byte(env.Kubeconfig), Nodes: nodeNames(env), Exec: clusters.In(env.ClusterName), ReadFile: clusters.FilesIn(env.ClusterName), Probe: clusters.ProbesIn(env.ClusterName)})
	}
	go func() {
		if err := prov.Run(ctx); err != nil {
			log.Error("provisioner stopped", "err", err)
		}
	}()
	terminals := terminal.NewManager(log.With("component", "terminal"), shellLauncher(clusters), cfg.TerminalIdle, cfg.TerminalPerUser)
	go terminals.Run(ctx)
	return prov, terminals, gradeWith(g, clusters), health
}
