package cluster

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"strings"
	"testing"
	"time"

	clusterimages "github.com/ckalab/ckalab/cluster-images"
)

// harness runs commands in one test cluster.
type harness struct {
	t      *testing.T
	ctx    context.Context
	m      *Manager
	name   string // the cluster
	cp, wk string // control-plane and worker node names
}

// sh runs a shell script on a node and fails the test if it fails.
func (h *harness) sh(node, script string) string {
	h.t.Helper()
	out, err := h.m.Exec(h.ctx, h.name, node, nil, "bash", "-c", script)
	if err != nil {
		h.t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

// kubectl runs kubectl as the cluster admin on the control plane.
func (h *harness) kubectl(stdin string, args ...string) (string, error) {
	cmd := append([]string{"kubectl", "--kubeconfig=/etc/kubernetes/admin.conf"}, args...)
	var in io.Reader
	if stdin != "" {
		in = strings.NewReader(stdin)
	}
	out, err := h.m.Exec(h.ctx, h.name, h.cp, in, cmd...)
	return strings.TrimSpace(string(out)), err
}

func (h *harness) mustKubectl(stdin string, args ...string) string {
	h.t.Helper()
	out, err := h.kubectl(stdin, args...)
	if err != nil {
		h.t.Fatal(err)
	}
	return out
}

// fetch makes an HTTP request from a pod: the page, or an error.
func (h *harness) fetch(ns, pod, url string) (string, error) {
	// Debian's busybox-static wget crashes with -T: time out with timeout(1).
	return h.kubectl("", "exec", "-n", ns, pod, "--", "timeout", "4", "wget", "-qO-", url)
}

// eventually retries check until it returns nil or the timeout passes.
func (h *harness) eventually(what string, timeout time.Duration, check func() error) {
	h.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("%s: still failing after %s: %v", what, timeout, err)
		}
		time.Sleep(time.Second)
	}
}

func (h *harness) reaches(ns, pod, url string) {
	h.t.Helper()
	h.eventually(pod+" reaches "+url, 30*time.Second, func() error {
		body, err := h.fetch(ns, pod, url)
		if err != nil {
			return err
		}
		if !strings.Contains(body, "hello-from-web") {
			return fmt.Errorf("unexpected page %q", body)
		}
		return nil
	})
}

func (h *harness) blocked(ns, pod, url string) {
	h.t.Helper()
	h.eventually(pod+" is blocked from "+url, 30*time.Second, func() error {
		if body, err := h.fetch(ns, pod, url); err == nil {
			return fmt.Errorf("request succeeded: %q", body)
		}
		return nil
	})
	// Blocked twice in a row: not a transient failure.
	if body, err := h.fetch(ns, pod, url); err == nil {
		h.t.Fatalf("%s reached %s after being blocked: %q", pod, url, body)
	}
}

// TestIntegrationNodeImage proves the node image: a 1+1 cluster from it
// networks, enforces NetworkPolicy, provisions storage, snapshots etcd and
// lets nodes ssh to each other. Its kubeadm upgrade to the next minor is
// proven by the kubeadm-upgrade lab's bots (grader), not again here.
// Needs Docker and `make images`.
func TestIntegrationNodeImage(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs Docker and the node images (make images)")
	}
	base := clusterimages.KubernetesVersion()
	image := "ckalab/node:v" + base
	if err := exec.Command("docker", "image", "inspect", image).Run(); err != nil {
		t.Fatalf("node image %s missing: build it with `make images` (%v)", image, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	log := slog.New(slog.NewTextHandler(testWriter{t}, nil))
	m := New(log, t.TempDir())
	name := fmt.Sprintf("ckit-%d", time.Now().Unix()%100000)

	start := time.Now()
	c, err := m.Create(ctx, Spec{Name: name, Image: image, Workers: 1, WaitReady: 3 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	created := time.Since(start)
	deleted := false
	t.Cleanup(func() {
		if !deleted {
			_ = m.Delete(context.Background(), name)
		}
	})
	h := &harness{t: t, ctx: ctx, m: m, name: name, cp: name + "-control-plane", wk: name + "-worker"}
	if len(c.Nodes) != 2 {
		t.Fatalf("want 2 nodes, got %+v", c.Nodes)
	}
	t.Logf("BENCH cluster create (1 control plane + 1 worker, to Ready): %s", created.Round(100*time.Millisecond))

	h.mustKubectl("", "wait", "--for=condition=Ready", "node", "--all", "--timeout=180s")
	h.mustKubectl("", "-n", "kube-system", "rollout", "status", "daemonset/ckanet", "--timeout=180s")
	h.mustKubectl("", "-n", "kube-system", "rollout", "status", "deployment/coredns", "--timeout=180s")
	memory(t, name)

	t.Logf("BENCH local engine: keystroke echo through docker exec, median of 20: %s", shellEcho(t, ctx, m, name, h.cp))
	t.Run("network", func(t *testing.T) { h.t = t; testNetwork(h) })
	t.Run("storage", func(t *testing.T) { h.t = t; testStorage(h) })
	t.Run("etcd snapshot", func(t *testing.T) {
		h.t = t
		out := h.sh(h.cp, `set -e
export ETCDCTL_API=3
etcdctl --endpoints=https://127.0.0.1:2379 --cacert=/etc/kubernetes/pki/etcd/ca.crt \
  --cert=/etc/kubernetes/pki/etcd/server.crt --key=/etc/kubernetes/pki/etcd/server.key \
  snapshot save /tmp/snap.db >/dev/null
etcdutl snapshot status /tmp/snap.db -w json`)
		if !strings.Contains(out, `"totalKey"`) {
			t.Fatalf("snapshot status: %s", out)
		}
	})
	t.Run("ssh between nodes", func(t *testing.T) {
		h.t = t
		if got := h.sh(h.cp, "ssh -o BatchMode=yes "+h.wk+" hostname"); got != h.wk {
			t.Fatalf("ssh %s hostname = %q", h.wk, got)
		}
		if got := h.sh(h.wk, "ssh -o BatchMode=yes "+h.cp+" hostname"); got != h.cp {
			t.Fatalf("ssh %s hostname = %q", h.cp, got)
		}
	})
	t.Run("exam tooling", func(t *testing.T) {
		h.t = t
		h.sh(h.cp, `set -e; for b in kubectl etcdctl etcdutl crictl jq vim nano less curl tmux ssh; do command -v $b >/dev/null || { echo "missing $b"; exit 1; }; done
bash -ic 'type k' | grep -q kubectl`)
	})
	t.Run("add-ons", func(t *testing.T) { h.t = t; testAddons(h, start) })

	h.t = t
	if err := m.Delete(ctx, name); err != nil {
		t.Fatal(err)
	}
	deleted = true
	if out, _ := exec.Command("docker", "ps", "-aq", "--filter", "label=io.x-k8s.kind.cluster="+name).Output(); len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("containers left after delete: %s", out)
	}
	if _, err := m.Get(ctx, name); err == nil {
		t.Fatal("cluster still listed after delete")
	}
}

func testNetwork(h *harness) {
	h.mustKubectl(webManifest(h.cp, h.wk), "apply", "-f", "-")
	h.mustKubectl("", "wait", "-n", "netpol", "--for=condition=Ready", "pod", "--all", "--timeout=120s")
	h.mustKubectl("", "wait", "-n", "ops", "--for=condition=Ready", "pod", "--all", "--timeout=120s")
	webIP := h.mustKubectl("", "get", "pod", "-n", "netpol", "web", "-o", "jsonpath={.status.podIP}")
	byIP := "http://" + webIP + ":8080/"
	bySvc := "http://web.netpol.svc.cluster.local/"

	h.eventually("DNS", 30*time.Second, func() error {
		_, err := h.kubectl("", "exec", "-n", "netpol", "client", "--", "nslookup", "kubernetes.default.svc.cluster.local")
		return err
	})
	h.reaches("netpol", "client", byIP) // worker -> control plane, by pod IP
	h.reaches("netpol", "client", bySvc)
	h.reaches("netpol", "client", "http://web/") // short name through the search path
	h.reaches("ops", "ops", bySvc)

	h.mustKubectl(`apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny, namespace: netpol}
spec:
  podSelector: {}
  policyTypes: [Ingress]
`, "apply", "-f", "-")
	h.blocked("netpol", "client", byIP)
	h.blocked("netpol", "client", bySvc)
	h.blocked("ops", "ops", bySvc)

	h.mustKubectl(`apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-from-client-and-ops, namespace: netpol}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Ingress]
  ingress:
  - from:
    - podSelector: {matchLabels: {app: client}}
    - namespaceSelector: {matchLabels: {team: ops}}
    ports:
    - {protocol: TCP, port: 8080}
`, "apply", "-f", "-")
	h.reaches("netpol", "client", byIP)
	h.reaches("netpol", "client", bySvc)
	h.reaches("ops", "ops", bySvc) // namespaceSelector
	h.blocked("netpol", "other", bySvc)

	// Egress: the client may only resolve names, then only reach web by ipBlock.
	h.mustKubectl(`apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: client-egress, namespace: netpol}
spec:
  podSelector: {matchLabels: {app: client}}
  policyTypes: [Egress]
  egress:
  - ports:
    - {protocol: UDP, port: 53}
    - {protocol: TCP, port: 53}
`, "apply", "-f", "-")
	h.blocked("netpol", "client", bySvc)
	h.blocked("netpol", "client", byIP)
	h.mustKubectl(fmt.Sprintf(`apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: client-egress-web, namespace: netpol}
spec:
  podSelector: {matchLabels: {app: client}}
  policyTypes: [Egress]
  egress:
  - to:
    - ipBlock: {cidr: %s/32}
    ports:
    - {protocol: TCP, port: 8080}
`, webIP), "apply", "-f", "-")
	h.reaches("netpol", "client", byIP)
	h.reaches("netpol", "client", bySvc)
	h.mustKubectl("", "delete", "namespace", "netpol", "ops", "--wait=true", "--timeout=120s")
}

func webManifest(cp, wk string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Namespace
metadata: {name: netpol}
---
apiVersion: v1
kind: Namespace
metadata: {name: ops, labels: {team: ops}}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: netpol, labels: {app: web}}
spec:
  nodeSelector: {kubernetes.io/hostname: %[1]s}
  tolerations: [{key: node-role.kubernetes.io/control-plane, operator: Exists, effect: NoSchedule}]
  containers:
  - name: web
    image: busybox:1.35
    command: [sh, -c, "mkdir -p /www && echo hello-from-web > /www/index.html && exec httpd -f -p 8080 -h /www"]
    readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 2}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: netpol}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
`, cp) + sleeper("netpol", "client", wk) + sleeper("netpol", "other", wk) + sleeper("ops", "ops", wk)
}

// sleeper is a pod labelled app=<name> on a given node, to exec into.
func sleeper(ns, name, node string) string {
	return fmt.Sprintf(`---
apiVersion: v1
kind: Pod
metadata: {name: %[2]s, namespace: %[1]s, labels: {app: %[2]s}}
spec:
  nodeSelector: {kubernetes.io/hostname: %[3]s}
  containers: [{name: c, image: busybox:1.35, command: [sleep, "3600"]}]
`, ns, name, node)
}

func testStorage(h *harness) {
	h.mustKubectl(`apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data, namespace: default}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 64Mi}}
---
apiVersion: v1
kind: Pod
metadata: {name: writer, namespace: default}
spec:
  restartPolicy: Never
  containers:
  - name: w
    image: busybox:1.35
    command: [sh, -c, "echo persisted > /data/f && cat /data/f"]
    volumeMounts: [{name: data, mountPath: /data}]
  volumes: [{name: data, persistentVolumeClaim: {claimName: data}}]
`, "apply", "-f", "-")
	h.mustKubectl("", "wait", "--for=jsonpath={.status.phase}=Succeeded", "pod/writer", "--timeout=120s")
	if phase := h.mustKubectl("", "get", "pvc", "data", "-o", "jsonpath={.status.phase}"); phase != "Bound" {
		h.t.Fatalf("pvc phase %q", phase)
	}
	if sc := h.mustKubectl("", "get", "pvc", "data", "-o", "jsonpath={.spec.storageClassName}"); sc != "standard" {
		h.t.Fatalf("pvc storage class %q, want the default 'standard'", sc)
	}
	if logs := h.mustKubectl("", "logs", "writer"); logs != "persisted" {
		h.t.Fatalf("writer logs %q", logs)
	}
	h.mustKubectl("", "delete", "pod", "writer")
	h.mustKubectl("", "delete", "pvc", "data")
}

// memory logs each node container's memory use (for docs/benchmarks.md).
func memory(t *testing.T, cluster string) {
	out, err := exec.Command("docker", "stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}}").Output()
	if err != nil {
		t.Logf("docker stats: %v", err)
		return
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if strings.HasPrefix(line, cluster+"-") {
			t.Logf("BENCH node memory: %s", line)
		}
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
