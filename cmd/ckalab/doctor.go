package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ckalab/ckalab/cluster"
	"github.com/ckalab/ckalab/config"
	"github.com/ckalab/ckalab/doctor"
	"github.com/ckalab/ckalab/labs"
	"github.com/ckalab/ckalab/provision"
	"github.com/ckalab/ckalab/store"
)

// errDoctorFailed makes `ckalab doctor` exit 1 once its report is printed.
var errDoctorFailed = errors.New("a check failed: see the FAIL lines above")

func (c *cli) doctor(ctx context.Context, args []string) error {
	fs, cfg, envErr := c.flags("doctor", "ckalab doctor [options]  (the options of ckalab serve: the host is checked for that configuration)")
	if err := c.parse(fs, cfg, envErr, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("doctor takes no arguments, got %q", fs.Args())}
	}
	log := newLogger(cfg, c.stderr).With("component", "doctor")
	report := doctor.Run(ctx, *cfg, log, doctor.Options{})
	report.Write(c.stdout)
	if report.Failed() {
		return errDoctorFailed
	}
	return nil
}

// checkHost runs the doctor at serve's start. A database failure stops
// the server (returned as an error); a missing engine, node image or
// privileged run leaves it up without environments (the returned reason);
// every other problem is logged.
func checkHost(ctx context.Context, cfg *config.Config, log *slog.Logger) (envsDown string, err error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	start := time.Now()
	// Every check, the privileged run too: it costs one container start,
	// measured at 1.1–1.9 s on 2 busy cores (an image build beside it),
	// and catches an engine that refuses kind's nodes before a student
	// waits on a create that cannot work.
	report := doctor.Run(ctx, *cfg, log, doctor.Options{})
	for _, f := range report {
		switch f.Status {
		case doctor.Warn, doctor.Fail:
			log.Warn("host check", "check", f.Check, "status", f.Status.String(), "problem", f.Summary, "fix", f.Fix)
		}
	}
	log.Info("host checked", "took", time.Since(start).Round(time.Millisecond), "see", "ckalab doctor")
	if f, ok := report.Find(doctor.Database); ok && f.Status == doctor.Fail {
		return "", fmt.Errorf("database: %s", f.Message())
	}
	if f, ok := report.EnvsDown(); ok {
		return f.Message(), nil
	}
	return "", nil
}

// provisionerUnless builds the provisioner, unless the host check at start
// found that this host cannot run environments: its message says why.
func provisionerUnless(ctx context.Context, envsDown string, cfg *config.Config, log *slog.Logger, st *store.Store, catalog []*labs.Lab) (*provision.Provisioner, *cluster.Manager, error) {
	if envsDown != "" {
		return nil, nil, errors.New(envsDown)
	}
	return newProvisioner(ctx, cfg, log, st, catalog)
}

// hostRecheck spaces the host checks of a server that started without
// environments.
const hostRecheck = 30 * time.Second

// waitForHost checks the host again every hostRecheck until it can run
// environments, then builds the provisioner; ok is false once ctx ends.
func waitForHost(ctx context.Context, cfg *config.Config, log *slog.Logger, st *store.Store, catalog []*labs.Lab) (*provision.Provisioner, *cluster.Manager, bool) {
	quiet := slog.New(slog.DiscardHandler)
	t := time.NewTicker(hostRecheck)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, nil, false
		case <-t.C:
		}
		down, err := checkHost(ctx, cfg, quiet)
		if err != nil || down != "" {
			continue
		}
		prov, clusters, err := newProvisioner(ctx, cfg, log, st, catalog)
		if err != nil {
			log.Warn("the host can run environments now, but the provisioner did not start", "err", err)
			continue
		}
		log.Info("the host can run environments now", "see", "ckalab doctor")
		return prov, clusters, true
	}
}
