package doctor

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/ckalab/ckalab/config"
	"github.com/ckalab/ckalab/pgserver"
	"github.com/ckalab/ckalab/store"
)

// checkDatabase checks an external database's schema; for the embedded
// one, what starting it needs, and its schema when another ckalab runs it.
func checkDatabase(ctx context.Context, cfg config.Config, log *slog.Logger) Finding {
	ctx, cancel := context.WithTimeout(ctx, databaseTimeout)
	defer cancel()
	if cfg.DatabaseURL != "" {
		f := checkSchema(ctx, log, cfg.DatabaseURL)
		if f.Status == Fail && f.Fix == "" {
			f.Fix = "check --database-url (CKALAB_DATABASE_URL) and that PostgreSQL runs and accepts this host"
		}
		return f
	}
	f := Finding{Check: Database}
	bin, err := pgserver.FindBinaries()
	if err != nil {
		f.Status, f.Summary = Fail, "embedded PostgreSQL: binaries initdb and postgres not found"
		f.Fix = "install PostgreSQL (sudo apt-get install postgresql), or use an external database with --database-url (CKALAB_DATABASE_URL)"
		return f
	}
	if err := writable(cfg.StateDir); err != nil {
		f.Status, f.Summary = Fail, fmt.Sprintf("state directory not writable: %v", err)
		f.Fix = fmt.Sprintf("choose another --state-dir (CKALAB_STATE_DIR), or give it to this user: sudo chown -R %d %s", os.Getuid(), cfg.StateDir)
		return f
	}
	if dir := closedParent(cfg.StateDir); dir != "" {
		f.Status, f.Summary = Fail, fmt.Sprintf("running as root, the embedded PostgreSQL runs as another account, which cannot enter %s", dir)
		f.Fix = "choose a state directory every account can reach (the root default is /var/lib/ckalab), or use --database-url (CKALAB_DATABASE_URL)"
		return f
	}
	// Reading a server that another ckalab runs is safe; starting one is
	// not (a serve may be about to own the directory).
	dir := filepath.Join(cfg.StateDir, "postgres")
	if pg := pgserver.Attach(ctx, log, dir, pgserver.Options{}); pg != nil {
		f = checkSchema(ctx, log, pg.URL())
		f.Summary = "embedded PostgreSQL (running): " + f.Summary
		return f
	}
	f.Summary = fmt.Sprintf("embedded PostgreSQL: binaries in %s, state directory %s writable; not running now (serve starts it)", bin, cfg.StateDir)
	return f
}

// checkSchema connects and compares the schema with this binary's.
func checkSchema(ctx context.Context, log *slog.Logger, url string) Finding {
	f := Finding{Check: Database}
	st, err := store.Open(ctx, log, url)
	if err != nil {
		f.Status, f.Summary = Fail, err.Error()
		return f
	}
	defer st.Close()
	s, err := st.Status(ctx)
	if err != nil {
		f.Status, f.Summary = Fail, fmt.Sprintf("PostgreSQL on %s answers, but its schema version cannot be read: %v", store.Host(url), err)
		return f
	}
	return schemaFinding(store.Host(url), s)
}

func schemaFinding(host string, s store.SchemaStatus) Finding {
	f := Finding{Check: Database, Summary: fmt.Sprintf("PostgreSQL on %s, %s", host, s)}
	switch {
	case s.Dirty:
		f.Status, f.Fix = Fail, fmt.Sprintf("repair the schema by hand, then run `ckalab migrate force %d`", s.Version)
	case s.Version > s.Latest:
		f.Status, f.Fix = Fail, "the database is newer than this ckalab: run a newer ckalab"
	case s.Version < s.Latest:
		f.Status, f.Fix = Warn, "run `ckalab migrate up` (ckalab serve applies pending migrations at start)"
	default:
		f.Summary = fmt.Sprintf("PostgreSQL on %s, schema version %d (up to date)", host, s.Version)
	}
	return f
}

// writable creates dir if needed and a file in it.
func writable(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".ckalab-doctor-*")
	if err != nil {
		return err
	}
	f.Close()
	return os.Remove(f.Name())
}

// closedParent is, when running as root, a parent of dir that other
// accounts cannot traverse (pgserver runs PostgreSQL as postgres or nobody).
func closedParent(dir string) string {
	if os.Geteuid() != 0 {
		return ""
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return ""
	}
	for p := filepath.Dir(abs); p != "/"; p = filepath.Dir(p) {
		if fi, err := os.Stat(p); err == nil && fi.Mode().Perm()&0o001 == 0 {
			return p
		}
	}
	return ""
}
