// Package doctor checks what a host needs to run ckalab: the database, the
// Docker engine and its node image, privileged containers, cgroups, the
// kernel limits kind clusters hit, memory, CPU, disk and clock. Each check
// gives one finding with what to do when it is not ok. `ckalab doctor`
// prints them; `ckalab serve` runs them at start. It reaches the engine
// through the cluster package only and must not import the HTTP layer.
package doctor

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/ckalab/ckalab/cluster"
	"github.com/ckalab/ckalab/config"
)

// Status is a finding's verdict.
type Status int

const (
	OK   Status = iota
	Warn        // works, but something will hurt: fix it before students come
	Fail        // ckalab cannot work this way
	Skip        // not checked: what it needs failed, or it cannot be measured from here
)

func (s Status) String() string {
	switch s {
	case OK:
		return "ok"
	case Warn:
		return "WARN"
	case Fail:
		return "FAIL"
	default:
		return "skip"
	}
}

// Check names, in the order findings are reported.
const (
	Database   = "database"
	Docker     = "docker"
	NodeImage  = "node image"
	Privileged = "privileged"
	Cgroup     = "cgroup"
	Inotify    = "inotify"
	PidMax     = "pid_max"
	Memory     = "memory"
	CPU        = "cpu"
	Disk       = "disk"
	Clock      = "clock"
)

var order = []string{Database, Docker, NodeImage, Privileged, Cgroup, Inotify, PidMax, Memory, CPU, Disk, Clock}

// Finding is the outcome of one check.
type Finding struct {
	Check   string
	Status  Status
	Summary string // what was found, one line
	Fix     string // for WARN and FAIL: what to do, a command or a flag
}

// Message is the finding on one line, for logs and for students.
func (f Finding) Message() string {
	if f.Fix == "" {
		return oneLine(f.Summary)
	}
	return oneLine(f.Summary) + " → " + f.Fix
}

// oneLine folds the lines of an error quoted in a summary (pgx lists each
// address it tried on its own line).
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// Report is every check's finding, in order.
type Report []Finding

// Failed reports whether any check failed.
func (r Report) Failed() bool {
	for _, f := range r {
		if f.Status == Fail {
			return true
		}
	}
	return false
}

// Find returns the finding of one check.
func (r Report) Find(check string) (Finding, bool) {
	for _, f := range r {
		if f.Check == check {
			return f, true
		}
	}
	return Finding{}, false
}

// EnvsDown is the first failure that keeps this host from running
// environments (engine, node image, privileged containers), if any.
func (r Report) EnvsDown() (Finding, bool) {
	for _, c := range []string{Docker, NodeImage, Privileged} {
		if f, ok := r.Find(c); ok && f.Status == Fail {
			return f, true
		}
	}
	return Finding{}, false
}

// Write prints one line per finding, the fix under each WARN and FAIL,
// and a closing count.
func (r Report) Write(w io.Writer) {
	count := map[Status]int{}
	for _, f := range r {
		count[f.Status]++
		fmt.Fprintf(w, "%-4s  %-10s  %s\n", f.Status, f.Check, oneLine(f.Summary))
		if f.Fix != "" && (f.Status == Warn || f.Status == Fail) {
			fmt.Fprintf(w, "%18s→ %s\n", "", f.Fix)
		}
	}
	fmt.Fprintf(w, "\n%d ok, %d WARN, %d FAIL, %d skipped", count[OK], count[Warn], count[Fail], count[Skip])
	switch {
	case count[Fail] > 0:
		fmt.Fprintln(w, ": fix every FAIL before serving students")
	case count[Warn] > 0:
		fmt.Fprintln(w, ": ckalab runs; fix the WARNs before a class")
	default:
		fmt.Fprintln(w, ": this host is ready")
	}
}

// Engine is what the checks need of the Docker engine; *cluster.Manager
// is the real one.
type Engine interface {
	Info(ctx context.Context) (cluster.HostInfo, error)
	ImageCreated(ctx context.Context, image string) (time.Time, error)
	RunPrivileged(ctx context.Context, name, image string, command ...string) ([]byte, error)
	FreeDisk(ctx context.Context) (int64, error)
}

// Options replace parts of the host, for tests; the zero value checks the
// real one.
type Options struct {
	// Engine is the Docker engine; nil: the one the configuration names.
	Engine Engine
	// Sysctl reads a kernel setting of this host by its dotted name; nil:
	// /proc/sys.
	Sysctl func(name string) (int64, error)
	// Now is the clock; nil: time.Now.
	Now func() time.Time
}

// Limits of the whole run and of each step: a host that does not answer
// costs at most about a minute.
const (
	runTimeout        = time.Minute
	databaseTimeout   = 10 * time.Second
	engineTimeout     = 15 * time.Second
	privilegedTimeout = 30 * time.Second
)

// Thresholds, from kind's known issues and docs/benchmarks.md.
const (
	inotifyInstances = 512    // kind: fs.inotify.max_user_instances
	inotifyWatches   = 524288 // kind: fs.inotify.max_user_watches
	inotifyPerNode   = 24     // instances one node container uses (19 measured)
	inotifyHost      = 64     // the host's own
	inotifySuggested = 8192
	pidMaxSuggested  = 4194304
	memPerEnv        = 0.6 // GiB, an idle 2-node cluster
	envsPerCPU       = 3
	diskPerEnv       = 3 // GiB
	nodesPerEnv      = 2
	skewWarn         = 30 * time.Second
	skewFail         = 5 * time.Minute // the grader's client certificates are backdated this much
)

// sysctls the privileged run reads on a remote engine's host, in order.
var sysctls = []string{"fs.inotify.max_user_instances", "fs.inotify.max_user_watches", "kernel.pid_max"}

// Run runs every check against the configured host, within a minute.
func Run(ctx context.Context, cfg config.Config, log *slog.Logger, opts Options) Report {
	ctx, cancel := context.WithTimeout(ctx, runTimeout)
	defer cancel()
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Sysctl == nil {
		opts.Sysctl = readSysctl
	}
	var db Finding
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		db = checkDatabase(ctx, cfg, log)
	}()
	found := map[string]Finding{}
	for _, f := range checkHost(ctx, cfg, log, opts) {
		found[f.Check] = f
	}
	wg.Wait()
	found[Database] = db
	var r Report
	for _, c := range order {
		if f, ok := found[c]; ok {
			r = append(r, f)
		}
	}
	return r
}
