package grader

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ckalab/ckalab/labs"
)

// dns queries the pod's nameserver (the cluster DNS Service's address when
// the pod's resolv.conf cannot be read) from inside the pod's network
// namespace, trying the pod's search domains in order (names with a
// trailing dot are tried as they are).
func (c *cluster) dns(ctx context.Context, d *labs.DNSCheck) (bool, string, any, error) {
	pod, err := c.sourcePod(ctx, d.FromNamespace, d.FromPod, d.FromSelector)
	if err != nil {
		return false, err.Error(), nil, nil
	}
	from := pod.Namespace + "/" + pod.Name
	if !c.t.hasNode(pod.Spec.NodeName) {
		return false, fmt.Sprintf("pod %s is not running on a node of this cluster (spec.nodeName %q)", from, pod.Spec.NodeName), nil, nil
	}
	svc, err := c.core.CoreV1().Services("kube-system").Get(ctx, "kube-dns", metav1.GetOptions{})
	if err != nil {
		return false, fmt.Sprintf("the cluster DNS Service kube-system/kube-dns: %v", err), nil, nil
	}
	qtype := d.Type
	if qtype == "" {
		qtype = "A"
	}
	names := searchNames(d.Name, pod.Namespace)
	// The pod's own nameserver (what it really asks), else kube-dns.
	script := enterPod + `server=$(awk '/^nameserver/ {print $2; exit}' "/proc/$pid/root/etc/resolv.conf" 2>/dev/null)
[ -n "$server" ] || server=$2
qtype=$3; shift 3
for n in "$@"; do
  echo "ckalab-query=$n"
  nsenter -t "$pid" -n dig +tries=2 +time=2 +noall +comments +answer "@$server" "$n" "$qtype" 2>&1
done`
	args := append([]string{"bash", "-c", script, "dns", string(pod.UID), svc.Spec.ClusterIP, qtype}, names...)
	out, err := c.probe(ctx, pod.Spec.NodeName, args...)
	text := string(out)
	if strings.Contains(text, "ckalab-probe=nosandbox") {
		return false, fmt.Sprintf("pod %s is not running", from), nil, nil
	}
	if !strings.Contains(text, "ckalab-query=") {
		return false, "", nil, fmt.Errorf("dig from %s: %v", from, err)
	}
	answer, resolved, status := "", "", ""
	for _, part := range strings.Split(text, "ckalab-query=")[1:] {
		name, body, _ := strings.Cut(part, "\n")
		st := digStatus(body)
		status = st
		if st != "NOERROR" && st != "NXDOMAIN" {
			// Inside the cluster's domain the cluster DNS must answer: a
			// broken one (no answer, SERVFAIL) proves no name absent.
			// Outside it, an upstream that fails is a name that does not
			// resolve, as the pod would see it.
			if strings.HasSuffix(name, ".cluster.local.") {
				if st == "" {
					st = "nothing"
				}
				return false, fmt.Sprintf("the cluster DNS (%s) answered %s for %s from %s", svc.Spec.ClusterIP, st, name, from), map[string]any{"dig": tailString(body, 500)}, nil
			}
			continue
		}
		if records := digRecords(body, qtype); st == "NOERROR" && records != "" {
			answer, resolved = records, name
			break
		}
	}
	ev := map[string]any{"from": from, "tried": names, "status": status, "answer": answer, "name": resolved}
	switch {
	case d.NXDomain && answer != "":
		return false, fmt.Sprintf("%s resolves from %s (%s: %s), and should not", d.Name, from, resolved, answer), ev, nil
	case d.NXDomain:
		return true, "", ev, nil
	case answer == "":
		return false, fmt.Sprintf("%s does not resolve from %s (%s)", d.Name, from, status), ev, nil
	case d.AnswerMatches != "" && !regexp.MustCompile(d.AnswerMatches).MatchString(answer):
		return false, fmt.Sprintf("%s resolves from %s to %s, which does not match %s", d.Name, from, answer, d.AnswerMatches), ev, nil
	}
	return true, "", ev, nil
}

// searchNames are the names a pod's resolver tries for name, in order
// (ClusterFirst: ndots 5 and the namespace's search domains).
func searchNames(name, namespace string) []string {
	if strings.HasSuffix(name, ".") {
		return []string{name}
	}
	search := []string{namespace + ".svc.cluster.local.", "svc.cluster.local.", "cluster.local."}
	var out []string
	if strings.Count(name, ".") >= 5 {
		out = append(out, name+".")
	}
	for _, s := range search {
		out = append(out, name+"."+s)
	}
	if strings.Count(name, ".") < 5 {
		out = append(out, name+".")
	}
	return out
}

// digStatus is the status of dig's header (NOERROR, NXDOMAIN …), "" when
// no server answered.
func digStatus(out string) string {
	i := strings.Index(out, "status: ")
	if i < 0 {
		return ""
	}
	s := out[i+len("status: "):]
	if j := strings.IndexAny(s, ", \n"); j >= 0 {
		s = s[:j]
	}
	return s
}

// digRecords are the data of dig's answer records of type qtype, one per line.
func digRecords(out, qtype string) string {
	var recs []string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 5 && !strings.HasPrefix(line, ";") && f[3] == qtype {
			recs = append(recs, strings.Join(f[4:], " "))
		}
	}
	return strings.Join(recs, "\n")
}
