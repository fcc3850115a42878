package grader

import (
	"context"
	"io"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/ckalab/ckalab/labs"
)

// A student's pod names another cluster's node in spec.nodeName: the
// connectivity check must fail without running anything on that node.
func TestConnectivityRefusesAPodOnAForeignNode(t *testing.T) {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "hop", Namespace: "default", UID: "uid-hop"},
		Spec:       corev1.PodSpec{NodeName: "ckalab-other-control-plane"},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.244.0.9"},
	}
	var ran []string
	exec := func(_ context.Context, node string, _ io.Reader, _ ...string) ([]byte, error) {
		ran = append(ran, node)
		return []byte("ckalab-probe=open"), nil
	}
	c := &cluster{
		t:    Target{Nodes: map[string]string{"control-plane": "ckalab-mine-control-plane", "worker": "ckalab-mine-worker"}, Exec: exec},
		core: fake.NewSimpleClientset(pod),
	}
	check := &labs.ConnectivityCheck{FromNamespace: "default", FromPod: "hop", Host: "10.96.0.1", Port: 443, Expect: "allowed"}
	passed, msg, _, err := c.connectivity(context.Background(), check)
	if err != nil || passed {
		t.Fatalf("passed=%v err=%v, want a failed check", passed, err)
	}
	if len(ran) != 0 {
		t.Fatalf("ran a probe on %v", ran)
	}
	if !strings.Contains(msg, "not running on a node of this cluster") {
		t.Fatalf("message %q", msg)
	}

	// The same pod on one of the cluster's own nodes is probed there.
	pod.Spec.NodeName = "ckalab-mine-worker"
	c.core = fake.NewSimpleClientset(pod)
	if passed, msg, _, err := c.connectivity(context.Background(), check); err != nil || !passed {
		t.Fatalf("own node: passed=%v msg=%q err=%v", passed, msg, err)
	}
	if len(ran) != 1 || ran[0] != "ckalab-mine-worker" {
		t.Fatalf("probed on %v", ran)
	}
}

// A blocked probe counts only when the target serves: deleting the db's
// pod, its Service port, or what listens in it must not pass as a
// NetworkPolicy.
func TestBlockedNeedsALiveTarget(t *testing.T) {
	src := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "frontend", Namespace: "shop", UID: "uid-frontend"},
		Spec: corev1.PodSpec{NodeName: "n"}, Status: corev1.PodStatus{Phase: corev1.PodRunning}}
	db := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "shop", UID: "uid-db"},
		Spec: corev1.PodSpec{NodeName: "n"}, Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.244.1.5"}}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "shop"},
		Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.7", Ports: []corev1.ServicePort{{Port: 5432}}}}
	ready, notReady := true, false
	sliceOf := func(r *bool, managedBy, addr string) *discoveryv1.EndpointSlice {
		port := int32(5432)
		return &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: "db-x", Namespace: "shop",
			Labels: map[string]string{discoveryv1.LabelServiceName: "db", discoveryv1.LabelManagedBy: managedBy}},
			Ports: []discoveryv1.EndpointPort{{Port: &port}},
			Endpoints: []discoveryv1.Endpoint{{Addresses: []string{addr}, Conditions: discoveryv1.EndpointConditions{Ready: r},
				TargetRef: &corev1.ObjectReference{Kind: "Pod", Name: "db", Namespace: "shop"}}}}
	}
	slice := func(r *bool) *discoveryv1.EndpointSlice {
		return sliceOf(r, "endpointslice-controller.k8s.io", "10.244.1.5")
	}
	listens, probeSays := true, ""
	exec := func(_ context.Context, _ string, _ io.Reader, cmd ...string) ([]byte, error) {
		if cmd[3] == "listen" {
			if cmd[4] != "uid-db" || cmd[5] != "5432" {
				t.Errorf("listener looked up in %q", cmd[3:])
			}
			if listens {
				return []byte("ckalab-listen=yes"), nil
			}
			return []byte("ckalab-listen=no"), nil
		}
		return []byte(probeSays), nil
	}
	check := &labs.ConnectivityCheck{FromNamespace: "shop", FromPod: "frontend", Host: "db.shop", Port: 5432, Expect: "blocked"}
	for _, tc := range []struct {
		name    string
		objs    []runtime.Object
		listens bool
		pass    bool
		why     string
		probe   string // what the probe says, when not closed
	}{
		{"serving", []runtime.Object{src, db, svc, slice(&ready)}, true, true, "", ""},
		// A policy drops: a refusal is the target's stack (a one-connection server between accepts).
		{"refused", []runtime.Object{src, db, svc, slice(&ready)}, true, false, "a NetworkPolicy drops rather than refuses", "ckalab-probe=refused"},
		{"nothing listens", []runtime.Object{src, db, svc, slice(&ready)}, false, false, "nothing in pod shop/db listens on port 5432", ""},
		{"no ready pod", []runtime.Object{src, db, svc, slice(&notReady)}, true, false, "no ready endpoints", ""},
		{"no endpoints", []runtime.Object{src, svc}, true, false, "no ready endpoints", ""},
		{"a hand-made slice", []runtime.Object{src, db, svc, sliceOf(&ready, "me", "10.244.1.5")}, true, false, "no ready endpoints", ""},
		{"an address not the pod's", []runtime.Object{src, db, svc, sliceOf(&ready, "endpointslice-controller.k8s.io", "192.0.2.1")}, true, false, "no ready endpoints", ""},
		{"port removed", []runtime.Object{src, db, &corev1.Service{ObjectMeta: svc.ObjectMeta, Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.7", Ports: []corev1.ServicePort{{Port: 5433}}}}, slice(&ready)}, true, false, "has no port 5432", ""},
		{"headless", []runtime.Object{src, db, &corev1.Service{ObjectMeta: svc.ObjectMeta, Spec: corev1.ServiceSpec{ClusterIP: "None", Ports: []corev1.ServicePort{{Port: 5432}}}}, slice(&ready)}, true, false, "has no cluster IP", ""},
	} {
		listens, probeSays = tc.listens, "ckalab-probe=closed"
		if tc.probe != "" {
			probeSays = tc.probe
		}
		c := &cluster{t: Target{Nodes: map[string]string{"worker": "n"}, Exec: exec}, core: fake.NewSimpleClientset(tc.objs...)}
		passed, msg, _, err := c.connectivity(context.Background(), check)
		if err != nil || passed != tc.pass || !strings.Contains(msg, tc.why) {
			t.Errorf("%s: passed=%v msg=%q err=%v", tc.name, passed, msg, err)
		}
	}
}
