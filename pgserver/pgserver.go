// Package pgserver runs a private PostgreSQL server from the machine's own
// initdb and postgres binaries, for a first run that needs nothing else and
// for tests. It listens on a Unix socket only, inside its directory.
// It must not import any other ckalab package.
package pgserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Options tune a server. The zero value is a durable server.
type Options struct {
	// Fast turns off fsync and similar safety for throwaway test servers.
	Fast bool
	// Database is created if missing; default "ckalab".
	Database string
}

// Server is a running PostgreSQL.
type Server struct {
	dir     string
	db      string
	cmd     *exec.Cmd
	done    chan error
	log     *slog.Logger
	logFile *os.File
	// adopted is the postmaster's PID of a server a dead ckalab process
	// left running, which this one now owns and stops.
	adopted int
}

// ownerFile holds the PID of the ckalab process that owns (and stops) the
// server running in a directory.
const ownerFile = "owner.pid"

// FindBinaries returns the directory holding initdb and postgres.
func FindBinaries() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		dir := filepath.Dir(p)
		if _, err := os.Stat(filepath.Join(dir, "postgres")); err == nil {
			return dir, nil
		}
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	sort.Strings(matches)
	if len(matches) > 0 {
		return filepath.Dir(matches[len(matches)-1]), nil
	}
	return "", errors.New("PostgreSQL binaries (initdb, postgres) not found: install PostgreSQL (e.g. apt-get install postgresql) or set CKALAB_DATABASE_URL")
}

// Start initialises dir on first use and starts PostgreSQL in it.
func Start(ctx context.Context, log *slog.Logger, dir string, opts Options) (*Server, error) {
	if opts.Database == "" {
		opts.Database = "ckalab"
	}
	bin, err := FindBinaries()
	if err != nil {
		return nil, err
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	data, sock := filepath.Join(dir, "data"), filepath.Join(dir, "run")
	if err := os.MkdirAll(sock, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", sock, err)
	}
	if s := attach(ctx, log, dir, opts.Database, true); s != nil {
		return s, nil
	}
	cred, err := runAs(dir)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(data, "PG_VERSION")); errors.Is(err, os.ErrNotExist) {
		log.Info("initialising embedded PostgreSQL", "dir", data)
		cmd := exec.CommandContext(ctx, filepath.Join(bin, "initdb"), "-D", data, "-U", "ckalab",
			"--auth=trust", "--encoding=UTF8", "--locale=C", "--no-instructions")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("initdb %s: %w: %s", data, err, strings.TrimSpace(string(out)))
		}
	}
	logFile, err := os.OpenFile(filepath.Join(dir, "postgres.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, err
	}
	args := []string{"-D", data, "-k", sock, "-c", "listen_addresses=", "-c", "unix_socket_permissions=0700",
		"-c", "max_connections=200", "-c", "shared_buffers=64MB"}
	if opts.Fast {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	cmd := exec.Command(filepath.Join(bin, "postgres"), args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setpgid: true}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	s := &Server{dir: dir, db: opts.Database, cmd: cmd, done: make(chan error, 1), log: log, logFile: logFile}
	go func() { s.done <- cmd.Wait() }()
	if err := s.waitReady(ctx); err != nil {
		_ = s.Stop(context.Background())
		return nil, err
	}
	s.writeOwner()
	log.Info("embedded PostgreSQL running", "socket", sock, "pid", cmd.Process.Pid)
	return s, nil
}

// Attach returns the server another process already runs in dir, or nil
// when none answers. It never starts, initialises or changes anything.
func Attach(ctx context.Context, log *slog.Logger, dir string, opts Options) *Server {
	if opts.Database == "" {
		opts.Database = "ckalab"
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil
	}
	return attach(ctx, log, dir, opts.Database, false)
}

// attach returns a server already running in dir (started by another
// ckalab process, e.g. `ckalab serve` while `ckalab user add` runs), or nil.
// With adopt, a server whose owner died (kill -9) becomes the caller's to
// stop, so it is not left running for ever.
func attach(ctx context.Context, log *slog.Logger, dir, db string, adopt bool) *Server {
	s := &Server{dir: dir, db: db, log: log}
	if _, err := os.Stat(filepath.Join(dir, "run", ".s.PGSQL.5432")); err != nil {
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	conn, err := pgx.Connect(cctx, s.urlFor("postgres"))
	if err != nil {
		return nil
	}
	conn.Close(cctx)
	if adopt && !alive(readPID(filepath.Join(dir, ownerFile))) {
		if pm := readPID(filepath.Join(dir, "data", "postmaster.pid")); pm > 0 {
			s.adopted = pm
			s.writeOwner()
			log.Info("adopted the embedded PostgreSQL a stopped ckalab process left running; this one stops it", "dir", dir, "pid", pm)
			return s
		}
	}
	log.Debug("using the embedded PostgreSQL another ckalab process runs", "dir", dir)
	return s
}

// readPID reads the number on the first line of a PID file; 0 if none.
func readPID(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	n, _ := strconv.Atoi(strings.TrimSpace(line))
	return n
}

// alive reports whether process pid exists.
func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

func (s *Server) writeOwner() {
	if err := os.WriteFile(filepath.Join(s.dir, ownerFile), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		s.log.Warn("cannot record the embedded PostgreSQL's owner", "err", err)
	}
}

// stopAdopted stops an adopted server, unless another process adopted it since.
func (s *Server) stopAdopted(ctx context.Context) error {
	if readPID(filepath.Join(s.dir, ownerFile)) != os.Getpid() {
		return nil
	}
	_ = syscall.Kill(s.adopted, syscall.SIGINT)
	for alive(s.adopted) {
		select {
		case <-ctx.Done():
			_ = syscall.Kill(s.adopted, syscall.SIGKILL)
			return fmt.Errorf("adopted postgres did not stop in time; killed: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	_ = os.Remove(filepath.Join(s.dir, ownerFile))
	s.log.Info("embedded PostgreSQL stopped")
	return nil
}

// runAs picks the account PostgreSQL runs as: the caller, or, when the
// caller is root (PostgreSQL refuses root), the postgres or nobody account.
func runAs(dir string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		err = filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			return os.Lchown(p, uid, gid)
		})
		if err != nil {
			return nil, fmt.Errorf("chown %s to %s: %w", dir, name, err)
		}
		// Every parent must be traversable by that account.
		for p := filepath.Dir(dir); p != "/"; p = filepath.Dir(p) {
			if fi, err := os.Stat(p); err == nil && fi.Mode().Perm()&0o001 == 0 {
				return nil, fmt.Errorf("PostgreSQL runs as %s, which cannot enter %s: choose a state directory it can reach, or set CKALAB_DATABASE_URL", name, p)
			}
		}
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
	}
	return nil, errors.New("running as root, and no postgres or nobody account to run PostgreSQL as")
}

func (s *Server) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(60 * time.Second)
	var lastErr error
	for time.Now().Before(deadline) {
		select {
		case err := <-s.done:
			s.done <- err
			return fmt.Errorf("postgres exited during start-up (%v); see %s", err, filepath.Join(s.dir, "postgres.log"))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		conn, err := pgx.Connect(ctx, s.urlFor("postgres"))
		if err != nil {
			lastErr = err
			continue
		}
		var exists bool
		err = conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", s.db).Scan(&exists)
		if err == nil && !exists {
			_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{s.db}.Sanitize())
		}
		conn.Close(ctx)
		return err
	}
	return fmt.Errorf("postgres did not accept connections within 60s: %v", lastErr)
}

func (s *Server) urlFor(db string) string {
	q := url.Values{"host": {filepath.Join(s.dir, "run")}, "user": {"ckalab"}, "sslmode": {"disable"}}
	return "postgres:///" + db + "?" + q.Encode()
}

// URL is the connection URL of the server's database.
func (s *Server) URL() string { return s.urlFor(s.db) }

// URLFor is the connection URL of another database on the same server.
func (s *Server) URLFor(db string) string { return s.urlFor(db) }

// Stop shuts PostgreSQL down (fast mode) and waits for it to exit.
func (s *Server) Stop(ctx context.Context) error {
	if s.cmd == nil {
		if s.adopted > 0 {
			return s.stopAdopted(ctx)
		}
		return nil // attached to another process's server
	}
	defer s.logFile.Close()
	if s.cmd.ProcessState != nil {
		return nil
	}
	_ = s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-s.done:
		_ = os.Remove(filepath.Join(s.dir, ownerFile))
		s.log.Info("embedded PostgreSQL stopped")
		return nil
	case <-ctx.Done():
		_ = s.cmd.Process.Kill()
		<-s.done
		return fmt.Errorf("postgres did not stop in time; killed: %w", ctx.Err())
	}
}

// LogTail returns the end of the server log, for error messages.
func (s *Server) LogTail() string {
	f, err := os.Open(filepath.Join(s.dir, "postgres.log"))
	if err != nil {
		return ""
	}
	defer f.Close()
	b, _ := io.ReadAll(f)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}
