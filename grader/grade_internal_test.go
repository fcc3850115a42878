package grader

import (
	"context"
	"strings"
	"testing"

	authv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/kubernetes/scheme"
	k8stesting "k8s.io/client-go/testing"

	"github.com/ckalab/ckalab/labs"
)

// fakeCluster is a cluster backed by client-go's fakes, holding objs.
func fakeCluster(t *testing.T, objs ...runtime.Object) *cluster {
	t.Helper()
	mapper := meta.NewDefaultRESTMapper(nil)
	for _, k := range []string{"Pod", "ConfigMap", "Node", "Service"} {
		scope := meta.RESTScopeNamespace
		if k == "Node" {
			scope = meta.RESTScopeRoot
		}
		mapper.Add(schema.GroupVersionKind{Version: "v1", Kind: k}, scope)
	}
	return &cluster{
		core:   fake.NewSimpleClientset(objs...),
		dyn:    dynamicfake.NewSimpleDynamicClient(scheme.Scheme, objs...),
		mapper: mapper,
	}
}

func ptr[T any](v T) *T { return &v }

func pod(name, phase string, labels map[string]string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: labels},
		Status: corev1.PodStatus{Phase: corev1.PodPhase(phase)}}
}

func res(r labs.ResourceCheck) *labs.ResourceCheck {
	if r.APIVersion == "" {
		r.APIVersion, r.Kind, r.Namespace = "v1", "Pod", "default"
	}
	return &r
}

func TestGradeWeightsAndRequirements(t *testing.T) {
	c := fakeCluster(t, pod("web", "Running", map[string]string{"app": "web"}))
	lab := &labs.Lab{Tasks: []labs.Task{
		{ID: "run", Weight: 4, Checks: []labs.Check{
			{ID: "web", Description: "web runs", Weight: 3, Spec: res(labs.ResourceCheck{Name: "web", JSONPath: "{.status.phase}", Equals: ptr("Running")})},
			{ID: "db", Description: "db runs", Spec: res(labs.ResourceCheck{Name: "db"})},
		}},
		{ID: "clean", Weight: 2, Checks: []labs.Check{
			// Passes on its own, but counts only once run/db passes.
			{ID: "no-old", Description: "no old pods", Requires: []string{"run/db"}, Spec: res(labs.ResourceCheck{Selector: "app=old", Count: ptr(0)})},
			{ID: "still-web", Description: "web still there", Requires: []string{"no-old"}, Spec: res(labs.ResourceCheck{Name: "web"})},
		}},
	}}
	rep := c.grade(context.Background(), lab, nil)
	if rep.MaxScore != 6 || rep.Score != 3 {
		t.Fatalf("score %v/%v, want 3/6 (web's 3 of the run task's 4): %+v", rep.Score, rep.MaxScore, rep.Results)
	}
	want := map[string]float64{"web": 3, "db": 1, "no-old": 1, "still-web": 1}
	for _, r := range rep.Results {
		if r.Weight != want[r.CheckID] {
			t.Errorf("%s weighs %v, want %v", r.CheckID, r.Weight, want[r.CheckID])
		}
	}
	noOld := rep.Results[2]
	if noOld.Passed || len(noOld.WaitingFor) != 1 || noOld.WaitingFor[0] != "run/db" || !strings.Contains(noOld.Message, "counts only once run/db passes") {
		t.Fatalf("a check whose requirement fails must not count: %+v", noOld)
	}
	// still-web waits for no-old, which found what it wanted but does not
	// count: requirements are transitive.
	if r := rep.Results[3]; r.Passed || len(r.WaitingFor) != 1 || r.WaitingFor[0] != "clean/no-old" {
		t.Fatalf("still-web: %+v", r)
	}

	c = fakeCluster(t, pod("web", "Running", nil), pod("db", "Running", nil))
	if rep := c.grade(context.Background(), lab, nil); rep.Score != rep.MaxScore {
		t.Fatalf("with db, every check counts: %+v", rep.Results)
	}
}

func TestSelectorWithNoObjectsFailsItsAssertions(t *testing.T) {
	c := fakeCluster(t)
	for _, r := range []labs.ResourceCheck{
		{Selector: "app=web", JSONPath: "{.status.phase}", Equals: ptr("Running")},
		{Selector: "app=web", Condition: "Ready"},
		{Selector: "app=web", Exists: ptr(true)},
		{Selector: "app=web", Count: ptr(1)},
	} {
		passed, msg, _, err := c.resource(context.Background(), res(r))
		if passed || err != nil {
			t.Errorf("%+v passed on no objects (%s, %v)", r, msg, err)
		}
	}
	if passed, msg, _, _ := c.resource(context.Background(), res(labs.ResourceCheck{Selector: "app=web", Count: ptr(0)})); !passed {
		t.Errorf("count: 0 on no objects: %s", msg)
	}
}

func TestUnreachableFailsEveryCheck(t *testing.T) {
	lab := &labs.Lab{Tasks: []labs.Task{{ID: "a", Weight: 1, Checks: []labs.Check{{ID: "x", Spec: res(labs.ResourceCheck{Name: "x"})}}}}}
	var c *cluster
	rep := c.grade(context.Background(), lab, context.DeadlineExceeded)
	if rep.Score != 0 || rep.Results[0].Passed || !strings.Contains(rep.Results[0].Message, "did not answer") {
		t.Fatalf("%+v", rep)
	}
}

func TestAccessProbesTheWholeMatrix(t *testing.T) {
	c := fakeCluster(t)
	// jane may list pods and create deployments, nothing else: the
	// shortcut a two-pair check would accept.
	c.core.(*fake.Clientset).PrependReactor("create", "subjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		sar := a.(k8stesting.CreateAction).GetObject().(*authv1.SubjectAccessReview)
		ra := sar.Spec.ResourceAttributes
		sar.Status.Allowed = sar.Spec.User == "jane" && ((ra.Verb == "list" && ra.Resource == "pods") || (ra.Verb == "create" && ra.Resource == "deployments" && ra.Group == "apps"))
		return true, sar, nil
	})
	pairs := &labs.AccessCheck{User: "jane", Namespace: "dev", Allowed: true, Verbs: []string{"list"}, Resource: "pods"}
	if passed, msg, _, err := c.access(context.Background(), pairs); !passed || err != nil {
		t.Fatalf("list pods: %s %v", msg, err)
	}
	matrix := &labs.AccessCheck{User: "jane", Namespace: "dev", Allowed: true,
		Verbs: []string{"get", "list", "create"}, Resources: []string{"pods", "deployments.apps"}}
	passed, msg, ev, err := c.access(context.Background(), matrix)
	if passed || err != nil || !strings.Contains(msg, "get pods") || !strings.Contains(msg, "create pods") || strings.Contains(msg, "list pods") {
		t.Fatalf("the matrix must fail on the pairs not granted: %v %q %v", passed, msg, err)
	}
	if len(ev.(map[string]any)) != 6 {
		t.Fatalf("evidence has every pair: %v", ev)
	}
	denied := &labs.AccessCheck{User: "jane", Namespace: "dev", Verb: "get", Resources: []string{"secrets", "configmaps"}}
	if passed, msg, _, _ := c.access(context.Background(), denied); !passed {
		t.Fatalf("denied pairs: %s", msg)
	}
}

// Every kind of check a lab may name has a checker, and nothing else does.
func TestEveryCheckKindRuns(t *testing.T) {
	run := checkers()
	for _, k := range labs.CheckKinds() {
		if run[k] == nil {
			t.Errorf("labs knows check kind %q, the grader cannot run it", k)
		}
	}
	if len(run) != len(labs.CheckKinds()) {
		t.Errorf("the grader runs %d kinds, labs knows %d", len(run), len(labs.CheckKinds()))
	}
}
