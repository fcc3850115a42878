package grader

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/ckalab/ckalab/labs"
)

// http runs curl on the node, inside the source pod's network namespace
// when the check starts from a pod. Values reach the node as arguments.
func (c *cluster) http(ctx context.Context, h *labs.HTTPCheck) (bool, string, any, error) {
	target := c.expand(h.URL)
	u, err := url.Parse(target)
	if err != nil {
		return false, "", nil, err
	}
	args := []string{"-s", "-k", "-m", "5", "-o", "-", "-w", "\nckalab-status=%{http_code}", "--max-filesize", "1048576"}
	if h.Host != "" {
		args = append(args, "-H", "Host: "+h.Host)
	}
	// Cluster names resolve through the API: nsenter enters only the pod's
	// network, so the node's resolver would not know them.
	if ip, ok := c.clusterName(ctx, u.Hostname()); ok {
		port := u.Port()
		if port == "" {
			port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
		}
		args = append(args, "--resolve", net.JoinHostPort(u.Hostname(), port)+":"+ip)
	}
	args = append(args, "--", target)
	node, netns, from, err := c.httpSource(ctx, h)
	if err != nil {
		return false, err.Error(), nil, nil
	}
	script := `if [ -n "$1" ]; then
` + enterPod + `  shift; exec nsenter -t "$pid" -n curl "$@"
fi
shift; exec curl "$@"`
	out, err := c.probe(ctx, node, append([]string{"bash", "-c", script, "http", netns}, args...)...)
	text := string(out)
	ev := map[string]any{"from": from, "url": target}
	if strings.Contains(text, "ckalab-probe=nosandbox") {
		return false, fmt.Sprintf("%s is not running", from), ev, nil
	}
	i := strings.LastIndex(text, "ckalab-status=")
	if i < 0 {
		return false, "", ev, fmt.Errorf("curl from %s: %v", from, err)
	}
	status, _ := strconv.Atoi(strings.TrimSpace(text[i+len("ckalab-status="):]))
	body := strings.TrimSuffix(text[:i], "\n") // the newline -w adds
	ev["status"], ev["body"] = status, tailString(body, 500)
	want := h.Status
	if want == 0 {
		want = 200
	}
	what := target
	if h.Host != "" {
		what += " (Host: " + h.Host + ")"
	}
	switch {
	case status == 0:
		return false, fmt.Sprintf("%s got no answer from %s", from, what), ev, nil
	case status != want:
		return false, fmt.Sprintf("%s answered %d to %s, want %d", what, status, from, want), ev, nil
	case h.BodyMatches != "" && !regexp.MustCompile(h.BodyMatches).MatchString(body):
		return false, fmt.Sprintf("the answer of %s does not match %s", what, h.BodyMatches), ev, nil
	}
	return true, "", ev, nil
}

// httpSource is where a request starts: the node to run on, the pod
// (namespace/name, empty for the node itself) and how to name it.
func (c *cluster) httpSource(ctx context.Context, h *labs.HTTPCheck) (node, netns, from string, err error) {
	if h.FromNode != "" {
		n, ok := c.t.Nodes[h.FromNode]
		if !ok {
			return "", "", "", fmt.Errorf("no node %s in this cluster", h.FromNode)
		}
		return n, "", "node " + h.FromNode, nil
	}
	pod, err := c.sourcePod(ctx, h.FromNamespace, h.FromPod, h.FromSelector)
	if err != nil {
		return "", "", "", err
	}
	from = "pod " + pod.Namespace + "/" + pod.Name
	if !c.t.hasNode(pod.Spec.NodeName) {
		return "", "", "", fmt.Errorf("%s is not running on a node of this cluster (spec.nodeName %q)", from, pod.Spec.NodeName)
	}
	return pod.Spec.NodeName, string(pod.UID), from, nil
}

// clusterName resolves svc.ns, svc.ns.svc[.cluster.local] and pod.ns.pod
// through the API; other names are left to the node.
func (c *cluster) clusterName(ctx context.Context, host string) (string, bool) {
	if _, ok := parseClusterHost(host); !ok {
		return "", false
	}
	ip, err := c.resolve(ctx, host)
	return ip, err == nil && ip != ""
}
