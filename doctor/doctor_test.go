package doctor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ckalab/ckalab/cluster"
	"github.com/ckalab/ckalab/config"
	"github.com/ckalab/ckalab/store"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// fakeEngine answers like a healthy local engine unless told otherwise.
type fakeEngine struct {
	infoErr, imageErr, runErr, diskErr error
	info                               cluster.HostInfo
	created                            time.Time
	free                               int64
	ran                                []string
}

func (f *fakeEngine) Info(context.Context) (cluster.HostInfo, error) { return f.info, f.infoErr }
func (f *fakeEngine) ImageCreated(context.Context, string) (time.Time, error) {
	return f.created, f.imageErr
}
func (f *fakeEngine) RunPrivileged(_ context.Context, name, image string, command ...string) ([]byte, error) {
	f.ran = append(f.ran, name)
	return []byte("1024\n1048576\n4194304\n"), f.runErr
}
func (f *fakeEngine) FreeDisk(context.Context) (int64, error) { return f.free, f.diskErr }

var now = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

func healthy() *fakeEngine {
	return &fakeEngine{
		info:    cluster.HostInfo{ServerVersion: "27.0.1", CgroupVersion: "2", CgroupDriver: "systemd", CPUs: 4, Memory: 16 << 30, DataRoot: "/var/lib/docker", Clock: now},
		created: now.Add(-24 * time.Hour),
		free:    100 << 30,
	}
}

func goodSysctl(name string) (int64, error) {
	return map[string]int64{"fs.inotify.max_user_instances": 8192, "fs.inotify.max_user_watches": 1048576, "kernel.pid_max": 4194304}[name], nil
}

func testConfig(t *testing.T) config.Config {
	t.Helper()
	cfg, err := config.Defaults()
	if err != nil {
		t.Fatal(err)
	}
	cfg.StateDir = stateDir(t)
	cfg.DatabaseURL = ""
	cfg.DockerHost = ""
	return cfg
}

// stateDir is a temporary state directory that PostgreSQL, run as another
// account when the tests run as root, could enter.
func stateDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func statuses(r Report) string {
	var b strings.Builder
	for _, f := range r {
		fmt.Fprintf(&b, "%s=%s ", f.Check, f.Status)
	}
	return strings.TrimSpace(b.String())
}

func TestRunWithFakes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(*fakeEngine)
		opts   Options
		want   string
		failed bool
	}{
		{name: "healthy", change: func(*fakeEngine) {},
			want: "database=ok docker=ok node image=ok privileged=ok cgroup=ok inotify=ok pid_max=ok memory=ok cpu=ok disk=ok clock=ok"},
		{name: "engine down", change: func(e *fakeEngine) { e.infoErr = errors.New("docker info: Cannot connect to the Docker daemon") },
			want:   "database=ok docker=FAIL node image=skip privileged=skip cgroup=skip inotify=ok pid_max=ok memory=skip cpu=skip disk=skip clock=skip",
			failed: true},
		{name: "image missing", change: func(e *fakeEngine) { e.imageErr = fmt.Errorf("image x: %w", cluster.ErrNotFound) },
			want:   "database=ok docker=ok node image=FAIL privileged=skip cgroup=ok inotify=ok pid_max=ok memory=ok cpu=ok disk=ok clock=ok",
			failed: true},
		{name: "privileged refused", change: func(e *fakeEngine) { e.runErr = errors.New("privileged mode is incompatible with user namespaces") },
			want:   "database=ok docker=ok node image=ok privileged=FAIL cgroup=ok inotify=ok pid_max=ok memory=ok cpu=ok disk=ok clock=ok",
			failed: true},
		{name: "small host", change: func(e *fakeEngine) {
			e.info.CgroupVersion, e.info.CPUs, e.info.Memory, e.free = "1", 1, 2<<30, 10<<30
		}, want: "database=ok docker=ok node image=ok privileged=ok cgroup=WARN inotify=ok pid_max=ok memory=WARN cpu=WARN disk=WARN clock=ok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := healthy()
			tt.change(e)
			opts := tt.opts
			opts.Engine, opts.Sysctl, opts.Now = e, goodSysctl, func() time.Time { return now }
			r := Run(context.Background(), testConfig(t), quiet, opts)
			if got := statuses(r); got != tt.want {
				t.Errorf("statuses\n got %s\nwant %s", got, tt.want)
			}
			if r.Failed() != tt.failed {
				t.Errorf("Failed() = %v", r.Failed())
			}
			for _, f := range r {
				if (f.Status == Warn || f.Status == Fail) && f.Fix == "" {
					t.Errorf("%s %s without a fix: %s", f.Status, f.Check, f.Summary)
				}
			}
			for _, name := range e.ran {
				if !strings.HasPrefix(name, "ckalab-doctor-") {
					t.Errorf("privileged container named %q", name)
				}
			}
		})
	}
}

func TestEnvsDownAndFind(t *testing.T) {
	t.Parallel()
	r := Report{{Check: Database}, {Check: Docker}, {Check: NodeImage, Status: Fail, Summary: "node image x is missing", Fix: "make images"}, {Check: Disk, Status: Fail}}
	f, ok := r.EnvsDown()
	if !ok || f.Message() != "node image x is missing → make images" {
		t.Fatalf("EnvsDown = %v %q", ok, f.Message())
	}
	if _, ok := (Report{{Check: Disk, Status: Fail}}).EnvsDown(); ok {
		t.Error("a disk failure does not keep environments off")
	}
	if _, ok := r.Find(Clock); ok {
		t.Error("Find of an absent check")
	}
}

func TestWrite(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	Report{
		{Check: Database, Summary: "PostgreSQL on /run:5432, schema version 6 (up to date)"},
		{Check: PidMax, Status: Warn, Summary: "kernel.pid_max=32768", Fix: "sudo sysctl -w kernel.pid_max=4194304"},
		{Check: Docker, Status: Fail, Summary: "the local Docker engine does not answer", Fix: "start it"},
		{Check: Disk, Status: Skip, Summary: "remote"},
	}.Write(&b)
	want := `ok    database    PostgreSQL on /run:5432, schema version 6 (up to date)
WARN  pid_max     kernel.pid_max=32768
                  → sudo sysctl -w kernel.pid_max=4194304
FAIL  docker      the local Docker engine does not answer
                  → start it
skip  disk        remote

1 ok, 1 WARN, 1 FAIL, 1 skipped: fix every FAIL before serving students
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

func TestThresholds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		f    Finding
		want Status
		in   string // in the summary or the fix
	}{
		{"inotify ok", inotifyFinding(512, 524288, 6), OK, "max_user_instances=512"},
		{"inotify instances low", inotifyFinding(128, 524288, 6), Warn, "sudo sysctl -w fs.inotify.max_user_instances=8192;"},
		{"inotify both low", inotifyFinding(128, 8192, 6), Warn, "fs.inotify.max_user_instances=8192 fs.inotify.max_user_watches=524288"},
		{"inotify enough for kind, not for 16 environments", inotifyFinding(512, 524288, 16), Warn, "the 832/524288 that 16 environments need"},
		{"pid_max enough", pidMaxFinding(49152, 6, 4096), OK, "≥ 6 environments"},
		{"pid_max low", pidMaxFinding(32768, 6, 4096), Warn, "kernel.pid_max=4194304; to keep it"},
		{"pid_max low suggests node-pids", pidMaxFinding(32768, 6, 4096), Warn, "lower --node-pids to 2730"},
		{"pid_max no limit", pidMaxFinding(32768, 6, 0), OK, "no --node-pids"},
		{"memory ok", memoryFinding(4<<30, 6), OK, "need about 3.6 GiB"},
		{"memory low", memoryFinding(3<<30, 6), Warn, "lower --max-environments to 5"},
		{"cpu ok", cpuFinding(2, 6), OK, "2 CPUs for 6"},
		{"cpu low", cpuFinding(2, 7), Warn, "lower --max-environments to 6"},
		{"disk ok", diskFinding(23<<30, nil, "/d", 5, 6), OK, "23.0 GiB free on /d"},
		{"disk short", diskFinding(10<<30, nil, "/d", 5, 6), Warn, "lower --max-environments to 1"},
		{"disk below minimum", diskFinding(4<<30, nil, "/d", 5, 6), Fail, "stops environments at once"},
		{"disk no minimum", diskFinding(1<<30, nil, "/d", 0, 1), Warn, "free space on /d"},
		{"disk remote", diskFinding(0, fmt.Errorf("x: %w", cluster.ErrNotMeasurable), "/d", 5, 6), Skip, "remote"},
		{"cgroup v2", cgroupFinding("2", "systemd"), OK, "cgroup v2 (systemd driver)"},
		{"cgroup v1", cgroupFinding("1", "cgroupfs"), Warn, "systemd.unified_cgroup_hierarchy=1"},
		{"schema current", schemaFinding("h:5432", store.SchemaStatus{Version: 6, Latest: 6}), OK, "up to date"},
		{"schema pending", schemaFinding("h:5432", store.SchemaStatus{Version: 4, Latest: 6}), Warn, "ckalab migrate up"},
		{"schema dirty", schemaFinding("h:5432", store.SchemaStatus{Version: 5, Dirty: true, Latest: 6}), Fail, "ckalab migrate force 5"},
		{"schema newer", schemaFinding("h:5432", store.SchemaStatus{Version: 7, Latest: 6}), Fail, "run a newer ckalab"},
		{"image missing locally", imageFinding("ckalab/node:v1.34.4", "the local Docker engine", "1.34.4", cluster.ErrNotFound, time.Time{}), Fail, "`make images`"},
		{"image missing remotely", imageFinding("ckalab/node:v1.34.4", "the Docker engine at ssh://e", "1.34.4", cluster.ErrNotFound, time.Time{}), Fail, "docker save ckalab/node:v1.34.4 | ssh"},
		{"image of an unbuilt version", imageFinding("ckalab/node:v1.20.0", "the local Docker engine", "1.20.0", cluster.ErrNotFound, time.Time{}), Fail, "--kubernetes-version"},
		{"docker down", dockerDown("the local Docker engine", errors.New("docker info: Cannot connect")), Fail, "sudo systemctl start docker"},
		{"docker denied", dockerDown("the local Docker engine", errors.New("docker info: permission denied while trying to connect")), Fail, "usermod -aG docker"},
		{"docker remote down", dockerDown("the Docker engine at ssh://e", errors.New("docker info: ssh: connect")), Fail, "fix --docker-host"},
	}
	for _, tt := range tests {
		if tt.f.Status != tt.want || !strings.Contains(tt.f.Summary+" "+tt.f.Fix, tt.in) {
			t.Errorf("%s: %s %q → %q; want %s containing %q", tt.name, tt.f.Status, tt.f.Summary, tt.f.Fix, tt.want, tt.in)
		}
		if (tt.f.Status == Warn || tt.f.Status == Fail) && tt.f.Fix == "" {
			t.Errorf("%s: %s without a fix", tt.name, tt.f.Status)
		}
	}
}

func TestClock(t *testing.T) {
	t.Parallel()
	built := now.Add(-time.Hour)
	tests := []struct {
		name                    string
		asked, answered, engine time.Time
		built                   time.Time
		want                    Status
	}{
		{"agree", now, now.Add(time.Second), now.Add(500 * time.Millisecond), built, OK},
		{"slow answer is no skew", now, now.Add(10 * time.Second), now.Add(9 * time.Second), built, OK},
		{"engine a minute behind", now, now, now.Add(-time.Minute), built, Warn},
		{"engine an hour ahead", now, now, now.Add(time.Hour), built, Fail},
		{"clock before the image", now, now, now, now.Add(time.Hour), Fail},
		{"no image", now, now, now, time.Time{}, OK},
	}
	for _, tt := range tests {
		f := clockFinding(tt.asked, tt.answered, tt.engine, tt.built, "ckalab/node:v1.34.4")
		if f.Status != tt.want {
			t.Errorf("%s: %s %q", tt.name, f.Status, f.Summary)
		}
	}
}

func TestRemoteEngineKernelThroughPrivilegedRun(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.DockerHost = "ssh://ckalab@engine.example"
	e := healthy()
	r := Run(context.Background(), cfg, quiet, Options{Engine: e, Now: func() time.Time { return now },
		Sysctl: func(string) (int64, error) { t.Error("read this host's kernel for a remote engine"); return 0, nil }})
	if f, _ := r.Find(PidMax); f.Status != OK || !strings.Contains(f.Summary, "4194304") {
		t.Errorf("pid_max from the privileged run: %+v", f)
	}
	e.imageErr = cluster.ErrNotFound // no privileged run then
	r = Run(context.Background(), cfg, quiet, Options{Engine: e, Now: func() time.Time { return now }})
	if f, _ := r.Find(Inotify); f.Status != Skip {
		t.Errorf("remote inotify without a privileged run: %+v", f)
	}
}

func TestDatabase(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.StateDir = "/proc/ckalab-cannot-write-here"
	if f := checkDatabase(context.Background(), cfg, quiet); f.Status != Fail || !strings.Contains(f.Fix, "--state-dir") {
		t.Errorf("unwritable state dir: %+v", f)
	}
	if os.Geteuid() == 0 {
		closed := filepath.Join(t.TempDir(), "closed")
		if err := os.Mkdir(closed, 0o700); err != nil {
			t.Fatal(err)
		}
		cfg.StateDir = filepath.Join(closed, "state")
		if f := checkDatabase(context.Background(), cfg, quiet); f.Status != Fail || !strings.Contains(f.Summary, "cannot enter") {
			t.Errorf("state dir PostgreSQL cannot reach: %+v", f)
		}
	}
	cfg.DatabaseURL = "postgres://u:secretpw@127.0.0.1:1/db?connect_timeout=2"
	f := checkDatabase(context.Background(), cfg, quiet)
	if f.Status != Fail || !strings.Contains(f.Summary, "127.0.0.1:1") || strings.Contains(f.Message(), "secretpw") || !strings.Contains(f.Fix, "--database-url") {
		t.Errorf("unreachable database: %+v", f)
	}
}
