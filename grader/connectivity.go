package grader

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ckalab/ckalab/labs"
)

// connectivity opens a TCP connection from inside a pod's network
// namespace (entered on its node, so it works whatever the pod's image
// holds) to a host and port, and compares with the expectation. Service
// names resolve through the API to their ClusterIP.
func (c *cluster) connectivity(ctx context.Context, n *labs.ConnectivityCheck) (bool, string, any, error) {
	pod, err := c.sourcePod(ctx, n.FromNamespace, n.FromPod, n.FromSelector)
	if err != nil {
		return false, err.Error(), nil, nil
	}
	ip, err := c.resolve(ctx, n.Host)
	if err != nil {
		return false, err.Error(), nil, nil
	}
	// A blocked connection proves a policy only when something listens:
	// deleting the target, or its Service's port, blocks nothing.
	if n.Expect == "blocked" {
		if err := c.servingOnce(ctx, n.Host, n.Port); err != nil {
			return false, fmt.Sprintf("%s, so a refused connection proves nothing", err), nil, nil
		}
	}
	// The pod's node comes from its spec, which the student writes: only a
	// node of this cluster is entered (the backend refuses others too).
	if !c.t.hasNode(pod.Spec.NodeName) {
		return false, fmt.Sprintf("pod %s/%s is not running on a node of this cluster (spec.nodeName %q)",
			pod.Namespace, pod.Name, pod.Spec.NodeName), nil, nil
	}
	// Values reach the node as arguments, never spliced into a script.
	// The wait covers the SYN's retries at 1 s and 3 s: a policy's verdict
	// (ckanet decides new flows in user space) can take seconds on a node
	// out of CPU, and a slow "allowed" is not "blocked". A policy drops
	// packets (the connection times out); a refusal comes from the
	// target's own stack (tried once more: a one-connection server between
	// two accepts), so it proves no policy.
	script := "set -e\n" + enterPod + `try() { nsenter -t "$pid" -n timeout "$1" bash -c '</dev/tcp/$0/$1' "$2" "$3" 2>/dev/null && r=0 || r=$?; }
try 6 "$2" "$3"; [ "$r" = 0 ] || [ "$r" = 124 ] || { sleep 1; try 6 "$2" "$3"; }
case $r in 0) echo ckalab-probe=open ;; 124) echo ckalab-probe=closed ;; *) echo ckalab-probe=refused ;; esac`
	out, err := c.probe(ctx, pod.Spec.NodeName, "bash", "-c", script, "probe", string(pod.UID), ip, strconv.Itoa(n.Port))
	text := string(out)
	ev := map[string]any{"from": pod.Namespace + "/" + pod.Name, "fromIP": pod.Status.PodIP, "to": net.JoinHostPort(ip, strconv.Itoa(n.Port)), "host": n.Host}
	var open bool
	switch {
	case strings.Contains(text, "ckalab-probe=open"):
		open = true
	case strings.Contains(text, "ckalab-probe=refused"):
		ev["refused"] = true
		if n.Expect == "blocked" {
			return false, fmt.Sprintf("%s/%s was refused by %s:%d: nothing accepted the connection there, and a NetworkPolicy drops rather than refuses, so this proves no policy",
				pod.Namespace, pod.Name, n.Host, n.Port), ev, nil
		}
	case strings.Contains(text, "ckalab-probe=closed"):
	case strings.Contains(text, "ckalab-probe=nosandbox"):
		return false, fmt.Sprintf("pod %s/%s is not running", pod.Namespace, pod.Name), ev, nil
	default:
		return false, "", ev, fmt.Errorf("probe from %s/%s failed: %v", pod.Namespace, pod.Name, err)
	}
	ev["connected"] = open
	target := fmt.Sprintf("%s:%d", n.Host, n.Port)
	switch {
	case open == (n.Expect == "allowed"):
		return true, "", ev, nil
	case open:
		return false, fmt.Sprintf("%s/%s can reach %s, which should be blocked", pod.Namespace, pod.Name, target), ev, nil
	default:
		return false, fmt.Sprintf("%s/%s cannot reach %s, which should be allowed", pod.Namespace, pod.Name, target), ev, nil
	}
}

// enterPod starts a probe script run on a pod's node: it finds the pod's
// sandbox by the pod's UID ($1, from the API: never a name a student could
// make match another pod) and sets $pid to a process in its network
// namespace, or reports that the pod is not running.
const enterPod = `id=$(crictl pods --label "io.kubernetes.pod.uid=$1" --state ready -q | head -n1)
[ -n "$id" ] || { echo "ckalab-probe=nosandbox"; exit 0; }
pid=$(crictl inspectp -o go-template --template '{{.info.pid}}' "$id")
`

// sourcePod is the pod a probe starts from: by name, or the first running
// pod of a selector.
func (c *cluster) sourcePod(ctx context.Context, namespace, name, selector string) (*corev1.Pod, error) {
	pods := c.core.CoreV1().Pods(namespace)
	if name != "" {
		p, err := pods.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("source pod %s/%s: %v", namespace, name, err)
		}
		if p.UID == "" {
			return nil, fmt.Errorf("source pod %s/%s has no UID", namespace, name)
		}
		return p, nil
	}
	list, err := pods.List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, err
	}
	for i := range list.Items {
		if list.Items[i].Status.Phase == corev1.PodRunning && list.Items[i].UID != "" {
			return &list.Items[i], nil
		}
	}
	return nil, fmt.Errorf("no running pod with labels %s in %s", selector, namespace)
}

// clusterHost is a host named inside the cluster: a Service written
// <name>.<namespace>[.svc[.cluster.local]], or a pod <name>.<namespace>.pod.
type clusterHost struct {
	name, namespace string
	pod             bool
}

// parseClusterHost reads a cluster host; IPs and other names are not one.
func parseClusterHost(host string) (clusterHost, bool) {
	if net.ParseIP(host) != nil {
		return clusterHost{}, false
	}
	parts := strings.Split(strings.TrimSuffix(strings.TrimSuffix(host, ".cluster.local"), ".svc"), ".")
	switch {
	case len(parts) == 3 && parts[2] == "pod":
		return clusterHost{parts[0], parts[1], true}, true
	case len(parts) == 2:
		return clusterHost{parts[0], parts[1], false}, true
	}
	return clusterHost{}, false
}

// resolve turns an IP or a cluster host into an IP.
func (c *cluster) resolve(ctx context.Context, host string) (string, error) {
	if net.ParseIP(host) != nil {
		return host, nil
	}
	h, ok := parseClusterHost(host)
	switch {
	case !ok:
		return "", fmt.Errorf("host %q: use an IP, <service>.<namespace> or <pod>.<namespace>.pod", host)
	case h.pod:
		p, err := c.core.CoreV1().Pods(h.namespace).Get(ctx, h.name, metav1.GetOptions{})
		if err != nil || p.Status.PodIP == "" {
			return "", fmt.Errorf("pod %s/%s has no IP (%v)", h.namespace, h.name, err)
		}
		return p.Status.PodIP, nil
	}
	svc, err := c.core.CoreV1().Services(h.namespace).Get(ctx, h.name, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("service %s/%s: %v", h.namespace, h.name, err)
	}
	if net.ParseIP(svc.Spec.ClusterIP) == nil {
		return "", fmt.Errorf("service %s/%s has no cluster IP (%q)", h.namespace, h.name, svc.Spec.ClusterIP)
	}
	return svc.Spec.ClusterIP, nil
}

// servingOnce is serving, looked up once per grading: several checks ask
// about the same target, and each lookup starts a probe container.
func (c *cluster) servingOnce(ctx context.Context, host string, port int) error {
	v, _ := c.served.LoadOrStore(net.JoinHostPort(host, strconv.Itoa(port)),
		sync.OnceValue(func() error { return c.serving(ctx, host, port) }))
	return v.(func() error)()
}

// serving says why host:port would refuse connections whatever the
// policies: a Service without the port or without ready endpoints, a pod
// that is not Ready. Bare IPs are taken as serving.
func (c *cluster) serving(ctx context.Context, host string, port int) error {
	h, ok := parseClusterHost(host)
	if !ok {
		return nil
	}
	ns, name := h.namespace, h.name
	if h.pod {
		p, err := c.core.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("pod %s/%s: %v", ns, name, err)
		}
		for _, cond := range p.Status.Conditions {
			if cond.Type == corev1.PodReady && cond.Status == corev1.ConditionTrue {
				return c.listening(ctx, p, port)
			}
		}
		return fmt.Errorf("pod %s/%s is not Ready", ns, name)
	}
	svc, err := c.core.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("service %s/%s: %v", ns, name, err)
	}
	portName, hasPort := "", false
	for _, p := range svc.Spec.Ports {
		if int(p.Port) == port {
			portName, hasPort = p.Name, true
		}
	}
	if !hasPort {
		return fmt.Errorf("service %s/%s has no port %d", ns, name, port)
	}
	// Only the controller's slices: a hand-made one could name a pod that
	// listens while sending traffic to an address that does not.
	list, err := c.core.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{
		LabelSelector: discoveryv1.LabelServiceName + "=" + name + "," + discoveryv1.LabelManagedBy + "=endpointslice-controller.k8s.io"})
	if err != nil {
		return err
	}
	var last error = fmt.Errorf("service %s/%s has no ready endpoints", ns, name)
	for _, sl := range list.Items {
		target := 0
		for _, p := range sl.Ports {
			if p.Port != nil && (p.Name == nil && portName == "" || p.Name != nil && *p.Name == portName) {
				target = int(*p.Port)
			}
		}
		for _, e := range sl.Endpoints {
			if (e.Conditions.Ready != nil && !*e.Conditions.Ready) || e.TargetRef == nil || e.TargetRef.Kind != "Pod" ||
				(e.TargetRef.Namespace != "" && e.TargetRef.Namespace != ns) || target == 0 {
				continue
			}
			p, err := c.core.CoreV1().Pods(ns).Get(ctx, e.TargetRef.Name, metav1.GetOptions{})
			if err != nil {
				last = fmt.Errorf("endpoint pod %s/%s: %v", ns, e.TargetRef.Name, err)
				continue
			}
			if !slices.Contains(e.Addresses, p.Status.PodIP) || p.UID != e.TargetRef.UID && e.TargetRef.UID != "" {
				continue // the endpoint's address is not that pod's
			}
			// One serving endpoint is enough: the probe would reach it.
			if last = c.listening(ctx, p, target); last == nil {
				return nil
			}
		}
	}
	return last
}

// listening says whether something in the pod listens on TCP port,
// looked up in the pod's network namespace on its node.
func (c *cluster) listening(ctx context.Context, p *corev1.Pod, port int) error {
	if !c.t.hasNode(p.Spec.NodeName) || p.UID == "" {
		return fmt.Errorf("pod %s/%s is not running on a node of this cluster", p.Namespace, p.Name)
	}
	script := enterPod + `if nsenter -t "$pid" -n ss -Hltn "sport = :$2" | grep -q .; then echo ckalab-listen=yes; else echo ckalab-listen=no; fi`
	out, err := c.probe(ctx, p.Spec.NodeName, "bash", "-c", script, "listen", string(p.UID), strconv.Itoa(port))
	switch text := string(out); {
	case strings.Contains(text, "ckalab-listen=yes"):
		return nil
	case strings.Contains(text, "ckalab-listen=no"):
		return fmt.Errorf("nothing in pod %s/%s listens on port %d", p.Namespace, p.Name, port)
	case strings.Contains(text, "ckalab-probe=nosandbox"):
		return fmt.Errorf("pod %s/%s is not running", p.Namespace, p.Name)
	default:
		return fmt.Errorf("looking for a listener in pod %s/%s: %v", p.Namespace, p.Name, err)
	}
}
