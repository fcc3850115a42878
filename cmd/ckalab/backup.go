package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ckalab/ckalab/backup"
)

func (c *cli) backup(ctx context.Context, args []string) error {
	fs, cfg, envErr := c.flags("backup", "ckalab backup [--out FILE|DIR] [options]\n\nWrites a pg_dump archive of the database (embedded or --database-url), mode 0600:\nit holds password hashes and kubeconfigs. Safe while `ckalab serve` runs.")
	out := fs.String("out", "", "file to write, or a directory to write ckalab-backup-<UTC time>.dump into (default: that name in the current directory)")
	if err := c.parse(fs, cfg, envErr, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("backup takes no arguments (got %q); use --out", fs.Arg(0))}
	}
	path := *out
	name := backup.DefaultName(time.Now())
	switch fi, err := os.Stat(path); {
	case path == "":
		path = name
	case err == nil && fi.IsDir():
		path = filepath.Join(path, name)
	case strings.HasSuffix(path, string(os.PathSeparator)):
		if err := os.MkdirAll(path, 0o700); err != nil {
			return fmt.Errorf("create backup directory: %w", err)
		}
		path = filepath.Join(path, name)
	}
	if cfg.DatabaseURL == "" {
		// Never back up a new, empty embedded database by mistake.
		data := filepath.Join(cfg.StateDir, "postgres", "data", "PG_VERSION")
		if _, err := os.Stat(data); err != nil {
			return fmt.Errorf("no embedded database in %s: set --state-dir (CKALAB_STATE_DIR) or --database-url to the one to back up",
				filepath.Join(cfg.StateDir, "postgres"))
		}
	}
	log := newLogger(cfg, c.stderr)
	url, stop, err := database(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer stop()
	rep, err := backup.Dump(ctx, log, url, path)
	if err != nil {
		return err
	}
	t := rep.Totals
	fmt.Fprintf(c.stdout, "wrote %s (%s, schema version %d): %d accounts, %d cohorts, %d environments, %d graded attempts\n",
		rep.File, size(rep.Size), rep.Schema, t.Users, t.Cohorts, t.Environments, t.CheckRuns)
	return nil
}

func (c *cli) restore(ctx context.Context, args []string) error {
	fs, cfg, envErr := c.flags("restore", "ckalab restore --in FILE [--replace] [options]\n\nLoads a backup from `ckalab backup` into the database (embedded or --database-url),\nthen migrates it to this binary's schema. Stop `ckalab serve` first.")
	in := fs.String("in", "", "backup file to restore (required)")
	replace := fs.Bool("replace", false, "drop everything the database holds first, even when it has accounts")
	if err := c.parse(fs, cfg, envErr, args); err != nil {
		return err
	}
	if *in == "" || fs.NArg() > 0 {
		return usageError{"usage: ckalab restore --in FILE [--replace]"}
	}
	if err := backup.CheckFile(*in); err != nil {
		return err
	}
	log := newLogger(cfg, c.stderr)
	url, stop, err := database(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer stop()
	rep, err := backup.Restore(ctx, log, url, *in, *replace)
	if errors.Is(err, backup.ErrNotEmpty) {
		return fmt.Errorf("%w; restore refuses to overwrite them: run it again with --replace to drop everything in the database first (back it up before)", err)
	}
	if err != nil {
		return err
	}
	t := rep.Totals
	fmt.Fprintf(c.stdout, "restored %s (schema version %d, now %d)\n", rep.File, rep.Schema, rep.Migrated)
	fmt.Fprintf(c.stdout, "accounts %d, cohorts %d (%d members), environments %d, graded attempts %d (%d check results)\n",
		t.Users, t.Cohorts, t.Members, t.Environments, t.CheckRuns, t.CheckResults)
	if t.Environments > 0 {
		fmt.Fprintln(c.stdout, "clusters are not in a backup: on start, ckalab marks environments whose cluster is gone as failed; students start new ones")
	}
	return nil
}

// size is n bytes for people.
func size(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
