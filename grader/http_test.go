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

func TestHTTPCheck(t *testing.T) {
	client := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "client", Namespace: "web", UID: "uid-client"},
		Spec: corev1.PodSpec{NodeName: "c-worker"}, Status: corev1.PodStatus{Phase: corev1.PodRunning}}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: "web"}, Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.20"}}
	var node string
	var args []string
	answer := "ckalab app 1.0\nckalab-status=200"
	c := &cluster{core: fake.NewSimpleClientset(client, svc), t: Target{
		Nodes: map[string]string{"control-plane": "c-control-plane", "worker": "c-worker"},
		Exec: func(_ context.Context, n string, _ io.Reader, cmd ...string) ([]byte, error) {
			node, args = n, cmd
			return []byte(answer), nil
		},
	}}
	h := &labs.HTTPCheck{FromNamespace: "web", FromPod: "client", URL: "http://api.web/healthz", BodyMatches: `app 1\.0`}
	passed, msg, _, err := c.http(context.Background(), h)
	if !passed || err != nil {
		t.Fatalf("%s %v", msg, err)
	}
	joined := strings.Join(args, " ")
	if node != "c-worker" || args[4] != "uid-client" || !strings.Contains(joined, "--resolve api.web:80:10.96.0.20") || !strings.HasSuffix(joined, "-- http://api.web/healthz") {
		t.Fatalf("ran on %s: %q", node, args)
	}

	answer = "not found\nckalab-status=404"
	if passed, msg, _, _ := c.http(context.Background(), h); passed || !strings.Contains(msg, "answered 404") {
		t.Fatalf("404: %v %s", passed, msg)
	}
	answer = "ckalab app 2.0\nckalab-status=200"
	if passed, msg, _, _ := c.http(context.Background(), h); passed || !strings.Contains(msg, "does not match") {
		t.Fatalf("body: %v %s", passed, msg)
	}
	answer = "ckalab-status=000"
	if passed, msg, _, _ := c.http(context.Background(), h); passed || !strings.Contains(msg, "got no answer") {
		t.Fatalf("no answer: %v %s", passed, msg)
	}

	// From a node, with a Host header; an outside name is left to the node.
	answer = "Welcome to nginx!\nckalab-status=200"
	fromNode := &labs.HTTPCheck{FromNode: "control-plane", URL: "http://c-control-plane:30080/", Host: "shop.example", BodyMatches: "Welcome"}
	if passed, msg, _, _ := c.http(context.Background(), fromNode); !passed || node != "c-control-plane" || args[4] != "" ||
		strings.Contains(strings.Join(args, " "), "--resolve") || !strings.Contains(strings.Join(args, " "), "-H Host: shop.example") {
		t.Fatalf("from node: %v %s %q", passed, msg, args)
	}

	// A pod the student pinned to another cluster's node is not probed.
	client.Spec.NodeName = "other-worker"
	c.core = fake.NewSimpleClientset(client, svc)
	node = ""
	if passed, msg, _, _ := c.http(context.Background(), h); passed || node != "" || !strings.Contains(msg, "not running on a node of this cluster") {
		t.Fatalf("foreign node: %v %s ran on %q", passed, msg, node)
	}
}
