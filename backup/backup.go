// Package backup copies ckalab's database to a file and back with
// PostgreSQL's own pg_dump and pg_restore (custom-format archives), for the
// embedded server and an external one alike. It owns finding those tools
// and checking an archive before it replaces anything; queries stay in
// store. It must not import the HTTP layer.
package backup

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ckalab/ckalab/store"
)

var (
	// ErrNoTools means pg_dump or pg_restore of a fitting version is missing.
	ErrNoTools = errors.New("PostgreSQL client tools missing")
	// ErrNotBackup means the file is not a readable ckalab backup.
	ErrNotBackup = errors.New("not a ckalab backup")
	// ErrNewerSchema means the backup comes from a newer ckalab.
	ErrNewerSchema = errors.New("backup is newer than this ckalab")
	// ErrNotEmpty means the target database already holds accounts.
	ErrNotEmpty = errors.New("database not empty")
	// ErrInUse means other clients are connected to the target database.
	ErrInUse = errors.New("database in use")
)

// appRestore names restore's own connections, to tell them from others.
const appRestore = "ckalab-restore"

// Report describes a backup written or restored.
type Report struct {
	File   string
	Size   int64
	Schema uint // schema version inside the backup
	// Migrated is the schema version after a restore migrated it up.
	Migrated uint
	Totals   store.Totals
}

// DefaultName is a backup's file name for time t, e.g.
// ckalab-backup-20261207T1340Z.dump.
func DefaultName(t time.Time) string {
	return "ckalab-backup-" + t.UTC().Format("20060102T1504Z") + ".dump"
}

// Dump writes a backup of the database at dbURL to path, mode 0600 (it
// holds password hashes and kubeconfigs). The file appears whole or not at
// all, and an existing file is never overwritten.
func Dump(ctx context.Context, log *slog.Logger, dbURL, path string) (Report, error) {
	rep := Report{File: path}
	if _, err := os.Stat(path); err == nil {
		return rep, fmt.Errorf("%s already exists: choose another file", path)
	}
	st, err := store.Open(ctx, log, dbURL)
	if err != nil {
		return rep, err
	}
	defer st.Close()
	status, err := st.Status(ctx)
	if err != nil {
		return rep, err
	}
	if status.Version == 0 {
		return rep, errors.New("the database holds no ckalab schema yet: nothing to back up (wrong --state-dir or --database-url?)")
	}
	if status.Dirty {
		log.Warn("backing up a database whose last migration failed half-way", "schema", status.Version)
	}
	if rep.Totals, err = st.Totals(ctx); err != nil {
		return rep, err
	}
	tools, err := toolsFor(ctx, log, st)
	if err != nil {
		return rep, err
	}
	conn, password, err := conninfo(dbURL)
	if err != nil {
		return rep, err
	}

	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".partial-*")
	if err != nil {
		return rep, fmt.Errorf("create backup file: %w", err)
	}
	defer os.Remove(tmp.Name()) // after the rename, a no-op
	log.Info("backing up", "tool", tools.Dump, "server", store.Host(dbURL), "file", path)
	cmd := exec.CommandContext(ctx, tools.Dump, "--format=custom", "--no-owner", "--no-privileges", "--dbname="+conn)
	cmd.Env = toolEnv(password, "ckalab-backup")
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = tmp, &stderr
	err = cmd.Run()
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return rep, fmt.Errorf("pg_dump: %w: %s", err, toolOutput(&stderr, password))
	}
	// Read it back whole: a backup that cannot be restored is worse than none.
	if rep.Schema, _, err = archiveVersion(ctx, tools, tmp.Name()); err != nil {
		return rep, fmt.Errorf("check the new backup: %w", err)
	}
	if _, err := os.Stat(path); err == nil {
		return rep, fmt.Errorf("%s already exists: choose another file", path)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return rep, fmt.Errorf("save backup: %w", err)
	}
	syncDir(filepath.Dir(path))
	fi, err := os.Stat(path)
	if err != nil {
		return rep, err
	}
	rep.Size = fi.Size()
	return rep, nil
}

// Restore loads the backup at path into the database at dbURL and migrates
// it to this binary's schema. It refuses a database that holds accounts
// unless replace is set, and one other clients are connected to. Whatever
// the database held before is dropped first.
func Restore(ctx context.Context, log *slog.Logger, dbURL, path string, replace bool) (Report, error) {
	rep := Report{File: path}
	if err := CheckFile(path); err != nil {
		return rep, err
	}
	st, err := store.Open(ctx, log, withAppName(dbURL, appRestore))
	if err != nil {
		return rep, err
	}
	defer st.Close()
	tools, err := toolsFor(ctx, log, st)
	if err != nil {
		return rep, err
	}
	version, dirty, err := archiveVersion(ctx, tools, path)
	if err != nil {
		return rep, err
	}
	rep.Schema = version
	if latest := store.LatestMigration(); version > latest {
		return rep, fmt.Errorf("%w: %s is at schema version %d, this ckalab knows up to %d: restore it with a ckalab at least as new as the one that wrote it",
			ErrNewerSchema, path, version, latest)
	}
	if dirty {
		return rep, fmt.Errorf("%w: %s was taken while migration %d had failed half-way; restore it by hand with pg_restore, repair it, then run `ckalab migrate force`",
			ErrNotBackup, path, version)
	}
	n, err := st.Accounts(ctx)
	if err != nil {
		return rep, err
	}
	if n > 0 && !replace {
		return rep, fmt.Errorf("%w: it already holds %d account(s)", ErrNotEmpty, n)
	}
	others, err := st.OtherSessions(ctx, appRestore)
	if err != nil {
		return rep, err
	}
	if others > 0 {
		return rep, fmt.Errorf("%w: %d other connection(s) to the database (is ckalab serve running?): stop them first", ErrInUse, others)
	}
	conn, password, err := conninfo(dbURL)
	if err != nil {
		return rep, err
	}

	if err := st.Wipe(ctx); err != nil {
		return rep, err
	}
	log.Info("restoring", "tool", tools.Restore, "server", store.Host(dbURL), "file", path, "schema", version)
	cmd := exec.CommandContext(ctx, tools.Restore, "--no-owner", "--no-privileges", "--exit-on-error",
		"--single-transaction", "--dbname="+conn, path)
	cmd.Env = toolEnv(password, appRestore)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return rep, fmt.Errorf("pg_restore (the database is left empty): %w: %s", err, toolOutput(&out, password))
	}
	status, err := st.MigrateUp(ctx)
	if err != nil {
		return rep, fmt.Errorf("migrate the restored database: %w", err)
	}
	rep.Migrated = status.Version
	if rep.Totals, err = st.Totals(ctx); err != nil {
		return rep, err
	}
	if fi, err := os.Stat(path); err == nil {
		rep.Size = fi.Size()
	}
	return rep, nil
}

func toolsFor(ctx context.Context, log *slog.Logger, st *store.Store) (Tools, error) {
	major, err := st.ServerMajor(ctx)
	if err != nil {
		return Tools{}, err
	}
	t, err := FindTools(ctx, major)
	if err != nil {
		return t, err
	}
	if t.Major != major {
		log.Warn("no PostgreSQL client tools of the server's version; using newer ones", "server", major, "tools", t.Major, "dir", filepath.Dir(t.Dump))
	}
	return t, nil
}

// CheckFile refuses, cheaply, what is not a pg_dump custom-format archive;
// Restore reads the whole file before it changes anything.
func CheckFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open backup: %w", err)
	}
	defer f.Close()
	magic := make([]byte, 5)
	n, err := io.ReadFull(f, magic)
	switch {
	case errors.Is(err, io.EOF):
		return fmt.Errorf("%w: %s is empty", ErrNotBackup, path)
	case err != nil && err != io.ErrUnexpectedEOF:
		return fmt.Errorf("read backup: %w", err)
	case string(magic[:n]) != "PGDMP":
		return fmt.Errorf("%w: %s is not a pg_dump custom-format archive, as `ckalab backup` writes", ErrNotBackup, path)
	}
	return nil
}

// archiveVersion reads the whole archive, proving it can be restored, and
// returns the schema version recorded in it.
func archiveVersion(ctx context.Context, tools Tools, path string) (uint, bool, error) {
	if err := CheckFile(path); err != nil {
		return 0, false, err
	}
	cmd := exec.CommandContext(ctx, tools.Restore, "--file=-", path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return 0, false, err
	}
	if err := cmd.Start(); err != nil {
		return 0, false, fmt.Errorf("run pg_restore: %w", err)
	}
	var row string
	found, inCopy := false, false
	r := bufio.NewReader(stdout)
	for {
		line, err := r.ReadString('\n')
		line = strings.TrimRight(line, "\n")
		switch {
		case inCopy && line == `\.`:
			inCopy = false
		case inCopy && row == "":
			row = line
		case strings.HasPrefix(line, "COPY ") && strings.Contains(line, "schema_migrations (version, dirty)"):
			inCopy, found = true, true
		}
		if err != nil {
			break
		}
	}
	if err := cmd.Wait(); err != nil {
		return 0, false, fmt.Errorf("%w: %s cannot be read: %s", ErrNotBackup, path, toolOutput(&stderr, ""))
	}
	if !found {
		return 0, false, fmt.Errorf("%w: %s holds no ckalab schema (no schema_migrations table)", ErrNotBackup, path)
	}
	version, dirty, ok := strings.Cut(row, "\t")
	v, err := strconv.ParseUint(version, 10, 32)
	if !ok || err != nil {
		return 0, false, fmt.Errorf("%w: %s records no schema version", ErrNotBackup, path)
	}
	return uint(v), dirty == "t", nil
}

// toolOutput is the end of a tool's messages, without the password.
func toolOutput(b *bytes.Buffer, password string) string {
	s := strings.TrimSpace(b.String())
	if len(s) > 2000 {
		s = "…" + s[len(s)-2000:]
	}
	if password != "" {
		s = strings.ReplaceAll(s, password, "xxxxx")
	}
	return s
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}
