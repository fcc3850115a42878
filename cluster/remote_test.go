package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	clusterimages "github.com/ckalab/ckalab/cluster-images"
	"github.com/ckalab/ckalab/grader"
	"github.com/ckalab/ckalab/labs"
)

// TestIntegrationRemoteEngine runs a cluster's whole life (create, a
// terminal, a Check, a Check after the student revoked kind's admin, delete) on a second Docker engine that is not the
// default one: a dockerd started here on its own socket and data root,
// reached only through cluster.Engine. Nothing may land on the default
// engine. Needs Docker and `make images`.
func TestIntegrationRemoteEngine(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs Docker and the node images (make images)")
	}
	image := "ckalab/node:v" + clusterimages.KubernetesVersion()
	if err := exec.Command("docker", "image", "inspect", image).Run(); err != nil {
		t.Fatalf("node image %s missing: build it with `make images` (%v)", image, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	host := startEngine(t)
	start := time.Now()
	load := exec.Command("sh", "-c", `docker save "$0" | DOCKER_HOST="$1" docker load -q`, image, host)
	if out, err := load.CombinedOutput(); err != nil {
		t.Fatalf("loading %s into the second engine: %v %s", image, err, out)
	}
	t.Logf("node image copied to the second engine in %s", time.Since(start).Round(100*time.Millisecond))

	// kind reads its engine from the environment: restore it afterwards.
	t.Setenv("DOCKER_HOST", os.Getenv("DOCKER_HOST"))
	log := slog.New(slog.NewTextHandler(testWriter{t}, nil))
	m, err := NewOn(log, t.TempDir(), Engine{Host: host})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Ready(ctx, image); err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("ckre-%d", time.Now().Unix()%100000)
	start = time.Now()
	// One node: this engine runs without iptables rules of its own (the
	// default engine owns them), so traffic between nodes is not forwarded.
	c, err := m.Create(ctx, Spec{Name: name, Image: image, WaitReady: 3 * time.Minute, Network: NetworkOf(name)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Delete(context.Background(), name) })
	t.Logf("BENCH remote engine: cluster create (1 node, to Ready): %s", time.Since(start).Round(100*time.Millisecond))
	if out, _ := exec.Command("env", "-u", "DOCKER_HOST", "docker", "ps", "-aq", "--filter", "label=io.x-k8s.kind.cluster="+name).Output(); len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("the cluster's containers are on the default engine: %s", out)
	}

	// A terminal: a shell in the node, through the second engine.
	t.Logf("BENCH remote engine: keystroke echo through docker exec, median of 20: %s", shellEcho(t, ctx, m, name, c.Nodes[0].Name))

	// A file read through the engine's archive API, after the student
	// replaced the node's cat and tar with liars: the true content comes out.
	node := c.Nodes[0].Name
	liar := "mkdir -p /opt/course/1 && echo real answer > /opt/course/1/answer.txt && " +
		"for b in /usr/bin/cat /usr/bin/tar /bin/cat /bin/tar; do [ -e $b ] && printf '#!/bin/sh\\necho fake\\n' > $b; done; true"
	if out, err := m.Exec(ctx, name, node, nil, "sh", "-c", liar); err != nil {
		t.Fatalf("replacing the node's binaries: %v %s", err, out)
	}
	if out, _ := m.Exec(ctx, name, node, nil, "cat", "/opt/course/1/answer.txt"); !strings.Contains(string(out), "fake") {
		t.Fatalf("the node's cat was not replaced: %q", out)
	}
	if got, err := m.ReadFile(ctx, name, node, "/opt/course/1/answer.txt", 1<<20); err != nil || string(got) != "real answer\n" {
		t.Fatalf("ReadFile: %q %v", got, err)
	}
	if _, err := m.ReadFile(ctx, name, node, "/opt/course/1/missing.txt", 1<<20); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a missing file: %v", err)
	}
	if _, err := m.ReadFile(ctx, name, node, "/etc/kubernetes/manifests/kube-apiserver.yaml", 10); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("a file over the limit: %v", err)
	}
	if _, err := m.ReadFile(ctx, name, node, "/opt/course", 1<<20); err == nil {
		t.Fatal("a directory read as a file")
	}
	if _, err := m.ReadFile(ctx, "another-cluster", node, "/etc/hostname", 1<<20); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a node read through another cluster's name: %v", err)
	}

	// A Check: the grader reaches the API server published by the engine.
	run := m.In(name)
	if _, err := run(ctx, c.Nodes[0].Name, nil, "kubectl", "--kubeconfig=/etc/kubernetes/admin.conf", "create", "namespace", "remote"); err != nil {
		t.Fatal(err)
	}
	yes := true
	lab := &labs.Lab{ID: "remote", Tasks: []labs.Task{{ID: "ns", Weight: 1, Checks: []labs.Check{{ID: "exists",
		Spec: &labs.ResourceCheck{APIVersion: "v1", Kind: "Namespace", Name: "remote", Exists: &yes}}}}}}
	rep := grader.New(log).Grade(ctx, lab, grader.Target{Kubeconfig: c.Kubeconfig, Nodes: map[string]string{"control-plane": c.Nodes[0].Name}, Exec: run})
	if rep.Score != rep.MaxScore || rep.MaxScore != 1 {
		t.Fatalf("Check on the remote engine: %+v", rep.Results)
	}

	// The check kinds that reach into a node, on a real cluster: dns and
	// http from a pod's network namespace, file and certificate through
	// the engine's archive API (the node's cat and tar still lie).
	if out, err := run(ctx, node, nil, "sh", "-c", "export KUBECONFIG=/etc/kubernetes/admin.conf; "+
		"kubectl -n remote run probe --image=busybox:1.35 -- sleep 3600 && kubectl -n remote wait --for=condition=Ready pod/probe --timeout=120s"); err != nil {
		t.Fatalf("probe pod: %v %s", err, out)
	}
	no := false
	kinds := &labs.Lab{ID: "kinds", Tasks: []labs.Task{{ID: "t", Weight: 6, Checks: []labs.Check{
		{ID: "dns", Spec: &labs.DNSCheck{FromNamespace: "remote", FromPod: "probe", Name: "kubernetes.default", AnswerMatches: `^10\.96\.0\.1$`}},
		{ID: "nxdomain", Spec: &labs.DNSCheck{FromNamespace: "remote", FromPod: "probe", Name: "nothere.remote", NXDomain: true}},
		{ID: "http", Spec: &labs.HTTPCheck{FromNamespace: "remote", FromPod: "probe", URL: "https://kubernetes.default.svc/livez", BodyMatches: "^ok$"}},
		{ID: "listening", Spec: &labs.ConnectivityCheck{FromNamespace: "remote", FromPod: "probe", Host: "kubernetes.default", Port: 443, Expect: "allowed"}},
		{ID: "file", Spec: &labs.FileCheck{Node: "control-plane", Path: "/etc/kubernetes/manifests/kube-apiserver.yaml", YAMLPath: "{.metadata.name}", Equals: ptr("kube-apiserver")}},
		{ID: "no-file", Spec: &labs.FileCheck{Node: "control-plane", Path: "/opt/course/1/missing.txt", Exists: &no}},
		{ID: "certificate", Spec: &labs.CertificateCheck{Node: "control-plane", Path: "/etc/kubernetes/pki/apiserver.crt", DNSNames: []string{"kubernetes.default.svc", "${control-plane}"}, IPAddresses: []string{"10.96.0.1"}, Issuer: "kubernetes"}},
	}}}}
	// Probes run beside the node with the image's own binaries: the
	// node's curl, dig, ss and crictl now lie too.
	liars := "for b in curl dig ss crictl nsenter; do printf '#!/bin/sh\\necho ckalab-status=200 ckalab-listen=yes\\n' > /usr/bin/$b; done"
	if out, err := m.Exec(ctx, name, node, nil, "sh", "-c", liars); err != nil {
		t.Fatalf("replacing the node's probe tools: %v %s", err, out)
	}
	target := grader.Target{Kubeconfig: c.Kubeconfig, Nodes: map[string]string{"control-plane": node}, Exec: run, ReadFile: m.FilesIn(name), Probe: m.ProbesIn(name)}
	if rep := grader.New(log).Grade(ctx, kinds, target); rep.Score != rep.MaxScore {
		for _, r := range rep.Results {
			if !r.Passed {
				t.Errorf("%s: %s (evidence %v)", r.CheckID, r.Message, r.Evidence)
			}
		}
	}

	// The student, root on the node, deletes the binding that makes kind's
	// admin an admin: that admin is locked out, the platform is not.
	if out, err := run(ctx, c.Nodes[0].Name, nil, "kubectl", "--kubeconfig=/etc/kubernetes/admin.conf", "delete", "clusterrolebinding", "kubeadm:cluster-admins"); err != nil {
		t.Fatalf("deleting kubeadm:cluster-admins: %v %s", err, out)
	}
	if out, err := run(ctx, c.Nodes[0].Name, nil, "kubectl", "--kubeconfig=/etc/kubernetes/admin.conf", "get", "namespace", "remote"); err == nil {
		t.Fatalf("kind's admin still reads namespaces without its binding: %s", out)
	}
	rep = grader.New(log).Grade(ctx, lab, grader.Target{Kubeconfig: c.Kubeconfig, Nodes: map[string]string{"control-plane": c.Nodes[0].Name}, Exec: run})
	if rep.Score != rep.MaxScore {
		t.Fatalf("the grader lost its access with kubeadm:cluster-admins: %+v", rep.Results)
	}

	if err := m.Delete(ctx, name); err != nil {
		t.Fatal(err)
	}
	if all, err := m.Summaries(ctx); err != nil || all[name] != nil {
		t.Fatalf("cluster still on the second engine after delete: %v %v", all[name], err)
	}
}

// startEngine starts a dockerd of its own (socket, data root, bridge, no
// iptables rules) and returns its address; it is stopped at cleanup.
//
// The engine gets a bridge of its own: `--bridge none` would make dockerd
// delete the default engine's docker0 at start-up ("stale bridge"), which
// broke every later `docker run` on the default bridge in the same CI run.
func startEngine(t *testing.T) string {
	dir, err := os.MkdirTemp("/var/tmp", "ckalab-engine-")
	if err != nil {
		t.Fatal(err)
	}
	hostBridge := exec.Command("ip", "link", "show", "docker0").Run() == nil
	bridge := fmt.Sprintf("ckre%d", os.Getpid()%100000)
	if out, err := exec.Command("sh", "-c", `ip link add name "$0" type bridge && ip addr add 172.31.254.1/24 dev "$0" && ip link set "$0" up`, bridge).CombinedOutput(); err != nil {
		t.Fatalf("bridge for the second engine: %v %s", err, out)
	}
	t.Cleanup(func() {
		_ = exec.Command("ip", "link", "delete", bridge).Run()
		if hostBridge && exec.Command("ip", "link", "show", "docker0").Run() != nil {
			t.Error("the second engine removed the default engine's docker0 bridge")
		}
	})
	sock := filepath.Join(dir, "docker.sock")
	args := []string{"--host", "unix://" + sock, "--data-root", filepath.Join(dir, "data"), "--exec-root", filepath.Join(dir, "exec"),
		"--pidfile", filepath.Join(dir, "docker.pid"), "--bridge", bridge, "--iptables=false", "--ip-masq=false"}
	// The host's privileged-container shim (../shared/ci/docker-up.sh), when the default engine uses one.
	if out, _ := exec.Command("docker", "info", "--format", "{{.DefaultRuntime}}").Output(); strings.TrimSpace(string(out)) == "capfilter" {
		args = append(args, "--add-runtime", "capfilter=/usr/local/libexec/runc-capfilter", "--default-runtime", "capfilter")
	}
	logf, err := os.Create(filepath.Join(dir, "dockerd.log"))
	if err != nil {
		t.Fatal(err)
	}
	d := exec.Command("dockerd", args...)
	d.Stdout, d.Stderr = logf, logf
	if err := d.Start(); err != nil {
		t.Fatalf("second dockerd: %v", err)
	}
	t.Cleanup(func() {
		_ = d.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = d.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = d.Process.Kill()
		}
		logf.Close()
		_ = exec.Command("sh", "-c", `umount $(grep "$0" /proc/mounts | cut -d' ' -f2 | sort -r) 2>/dev/null; rm -rf "$0"`, dir).Run()
	})
	host := "unix://" + sock
	for i := 0; ; i++ {
		if exec.Command("env", "DOCKER_HOST="+host, "docker", "info").Run() == nil {
			return host
		}
		if i == 60 {
			b, _ := os.ReadFile(filepath.Join(dir, "dockerd.log"))
			t.Fatalf("second dockerd did not answer: %s", tail(string(b), 2000))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// shellEcho opens a shell on the node, checks it runs there, and returns
// the median time a typed word takes to echo back (20 words).
func shellEcho(t *testing.T, ctx context.Context, m *Manager, cluster, node string) time.Duration {
	t.Helper()
	sh, err := m.Shell(ctx, cluster, node, fmt.Sprintf("echo-%d", time.Now().UnixNano()), 100, 30)
	if err != nil {
		t.Fatal(err)
	}
	defer sh.Close()
	out := &lockedBuffer{}
	go func() { _, _ = io.Copy(out, sh) }()
	waitFor := func(want string) time.Duration {
		t0 := time.Now()
		for !strings.Contains(out.String(), want) {
			if time.Since(t0) > 20*time.Second {
				t.Fatalf("terminal: waiting for %q, got %q", want, out.String())
			}
			time.Sleep(time.Millisecond)
		}
		return time.Since(t0)
	}
	if _, err := sh.Write([]byte("echo $((6*7))-$(hostname)\r")); err != nil {
		t.Fatal(err)
	}
	waitFor("42-" + node)
	var echoes []time.Duration
	for i := range 20 {
		marker := fmt.Sprintf("mark%03d", i)
		if _, err := sh.Write([]byte(marker)); err != nil {
			t.Fatal(err)
		}
		echoes = append(echoes, waitFor(marker))
		// Clear the line (Ctrl-U): a line longer than the terminal wraps,
		// and the wrap would split a later marker.
		if _, err := sh.Write([]byte("\x15")); err != nil {
			t.Fatal(err)
		}
	}
	return median(echoes).Round(100 * time.Microsecond)
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// lockedBuffer is a bytes.Buffer safe for one writer and one reader.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func ptr[T any](v T) *T { return &v }
