package grader

import (
	"context"
	"io"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/ckalab/ckalab/labs"
)

const digNX = ";; ->>HEADER<<- opcode: QUERY, status: NXDOMAIN, id: 52307\n;; flags: qr aa rd; QUERY: 1, ANSWER: 0\n"

func digA(name, ip string) string {
	return ";; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: 1410\n;; ANSWER SECTION:\n" + name + " 30 IN A\t" + ip + "\n"
}

func TestDNSCheck(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "client", Namespace: "shop", UID: "uid-client"},
		Spec: corev1.PodSpec{NodeName: "c-worker"}, Status: corev1.PodStatus{Phase: corev1.PodRunning}}
	dnsSvc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "kube-dns", Namespace: "kube-system"}, Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.10"}}
	// The cluster knows db.shop.svc.cluster.local and api.example.com.
	known := map[string]string{"db.shop.svc.cluster.local.": "10.96.5.5", "api.example.com.": "10.0.0.7"}
	var asked []string
	c := &cluster{core: fake.NewSimpleClientset(pod, dnsSvc), t: Target{
		Nodes: map[string]string{"worker": "c-worker"},
		Exec: func(_ context.Context, node string, _ io.Reader, cmd ...string) ([]byte, error) {
			if node != "c-worker" || cmd[5] != "10.96.0.10" || cmd[4] != "uid-client" {
				t.Errorf("ran %q on %s", cmd, node)
			}
			asked = cmd[7:]
			var out strings.Builder
			for _, n := range cmd[7:] {
				out.WriteString("ckalab-query=" + n + "\n")
				if strings.HasPrefix(n, "broken.") {
					out.WriteString(";; ->>HEADER<<- opcode: QUERY, status: SERVFAIL, id: 1\n")
				} else if ip, ok := known[n]; ok {
					out.WriteString(digA(n, ip))
				} else {
					out.WriteString(digNX)
				}
			}
			return []byte(out.String()), nil
		},
	}}
	for _, tc := range []struct {
		name string
		d    labs.DNSCheck
		pass bool
		why  string
	}{
		{"short name through the search list", labs.DNSCheck{FromNamespace: "shop", FromPod: "client", Name: "db", AnswerMatches: `^10\.96\.5\.5$`}, true, ""},
		{"stub domain", labs.DNSCheck{FromNamespace: "shop", FromPod: "client", Name: "api.example.com", AnswerMatches: `10\.0\.0\.7`}, true, ""},
		{"wrong answer", labs.DNSCheck{FromNamespace: "shop", FromPod: "client", Name: "db", AnswerMatches: `10\.96\.9\.9`}, false, "does not match"},
		{"does not resolve", labs.DNSCheck{FromNamespace: "shop", FromPod: "client", Name: "cache"}, false, "does not resolve from shop/client (NXDOMAIN)"},
		{"must not resolve", labs.DNSCheck{FromNamespace: "shop", FromPod: "client", Name: "cache", NXDomain: true}, true, ""},
		{"a broken DNS proves nothing absent", labs.DNSCheck{FromNamespace: "shop", FromPod: "client", Name: "broken", NXDomain: true}, false, "answered SERVFAIL"},
		{"resolves but must not", labs.DNSCheck{FromNamespace: "shop", FromPod: "client", Name: "db", NXDomain: true}, false, "and should not"},
	} {
		passed, msg, _, err := c.dns(context.Background(), &tc.d)
		if err != nil || passed != tc.pass || !strings.Contains(msg, tc.why) {
			t.Errorf("%s: passed=%v msg=%q err=%v", tc.name, passed, msg, err)
		}
	}
	_, _, _, _ = c.dns(context.Background(), &labs.DNSCheck{FromNamespace: "shop", FromPod: "client", Name: "db"})
	if strings.Join(asked, " ") != "db.shop.svc.cluster.local. db.svc.cluster.local. db.cluster.local. db." {
		t.Fatalf("search order %q", asked)
	}
}
