package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/ckalab/ckalab/config"
	"github.com/ckalab/ckalab/pgserver"
	"github.com/ckalab/ckalab/store"
)

const usage = `ckalab — self-hosted CKA training labs on real Kubernetes clusters

Usage:
  ckalab serve [flags]                 run the server (ckalab serve --help lists every option)
  ckalab doctor [flags]                check this host for serve's flags: one ok/WARN/FAIL line each, exit 1 on a FAIL
  ckalab migrate up|down|status|force  manage the database schema
  ckalab user add --email E --role R   create an account (student, instructor or admin)
  ckalab labs validate [DIR]           check lab folders (default labs/); every error with file and line
  ckalab backup [--out FILE|DIR]       write a backup of the database (pg_dump archive)
  ckalab restore --in FILE [--replace] load a backup into the database, then migrate it
  ckalab version                       print the version
`

// version is set with -ldflags "-X main.version=…" by the Makefile.
var version = ""

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

type cli struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := &cli{stdin: stdin, stdout: stdout, stderr: stderr}
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch args[0] {
	case "serve":
		err = c.serve(ctx, args[1:])
	case "doctor":
		err = c.doctor(ctx, args[1:])
	case "migrate":
		err = c.migrate(ctx, args[1:])
	case "user":
		err = c.user(ctx, args[1:])
	case "labs":
		err = c.labs(args[1:])
	case "backup":
		err = c.backup(ctx, args[1:])
	case "restore":
		err = c.restore(ctx, args[1:])
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "ckalab", versionString())
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "ckalab: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "ckalab: %v\n", err)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "ckalab: %v\n", err)
		return 1
	}
	return 0
}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// flags declares the shared configuration on a new flag set.
func (c *cli) flags(name, synopsis string) (*flag.FlagSet, *config.Config, func() error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	cfg := &config.Config{}
	_, envErr := cfg.Register(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: %s\n\nOptions (each also read from its environment variable):\n", synopsis)
		fs.PrintDefaults()
	}
	return fs, cfg, envErr
}

func (c *cli) parse(fs *flag.FlagSet, cfg *config.Config, envErr func() error, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := envErr(); err != nil {
		return usageError{err.Error()}
	}
	if err := cfg.Validate(); err != nil {
		return usageError{err.Error()}
	}
	return nil
}

func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// openStore connects to the configured database, starting the embedded
// one when no URL is set. The returned function stops what was started.
func openStore(ctx context.Context, cfg *config.Config, log *slog.Logger) (*store.Store, func(), error) {
	url, stop, err := database(ctx, cfg, log)
	if err != nil {
		return nil, nil, err
	}
	st, err := store.Open(ctx, log, url)
	if err != nil {
		stop()
		if cfg.DatabaseURL != "" {
			err = fmt.Errorf("%w (check CKALAB_DATABASE_URL and that the server is running)", err)
		}
		return nil, nil, err
	}
	return st, func() { st.Close(); stop() }, nil
}

// database returns the configured database's URL, starting the embedded
// server when no URL is set and no other ckalab process runs it. The
// returned function stops what was started.
func database(ctx context.Context, cfg *config.Config, log *slog.Logger) (string, func(), error) {
	if err := os.MkdirAll(cfg.StateDir, 0o755); err != nil {
		return "", nil, fmt.Errorf("create state directory: %w", err)
	}
	if cfg.DatabaseURL != "" {
		return cfg.DatabaseURL, func() {}, nil
	}
	pg, err := pgserver.Start(ctx, log, filepath.Join(cfg.StateDir, "postgres"), pgserver.Options{})
	if err != nil {
		return "", nil, fmt.Errorf("embedded database: %w", err)
	}
	return pg.URL(), func() { _ = pg.Stop(context.Background()) }, nil
}

func trimLine(s string) string { return strings.TrimRight(s, "\r\n") }
