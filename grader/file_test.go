package grader

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"testing"

	"github.com/ckalab/ckalab/labs"
)

// fakeFiles is a node filesystem for file checks; Exec fails the test, so
// nothing a student could replace on the node takes part.
func fakeFiles(t *testing.T, files map[string]string) *cluster {
	return &cluster{t: Target{
		Nodes: map[string]string{"control-plane": "c-control-plane", "worker": "c-worker"},
		Exec: func(context.Context, string, io.Reader, ...string) ([]byte, error) {
			t.Error("a file check ran a command on the node")
			return nil, nil
		},
		ReadFile: func(_ context.Context, node, path string, limit int64) ([]byte, error) {
			data, ok := files[node+":"+path]
			if !ok {
				return nil, fmt.Errorf("%s: %w", path, fs.ErrNotExist)
			}
			return []byte(data), nil
		},
	}}
}

func TestFileCheck(t *testing.T) {
	manifest := "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: kube-apiserver\n    image: registry.k8s.io/kube-apiserver:v1.35.4\n    command: [kube-apiserver, --anonymous-auth=false]\n"
	c := fakeFiles(t, map[string]string{
		"c-control-plane:/etc/kubernetes/manifests/kube-apiserver.yaml": manifest,
		"c-worker:/opt/course/1/answer.txt":                             "pod: web-7d\n",
		"c-control-plane:/opt/course/1/nodes.json":                      `{"items":[{"name":"c-worker"}]}`,
	})
	no := false
	for _, tc := range []struct {
		name string
		f    labs.FileCheck
		pass bool
		why  string
	}{
		{"exists", labs.FileCheck{Node: "worker", Path: "/opt/course/1/answer.txt"}, true, ""},
		{"missing", labs.FileCheck{Node: "control-plane", Path: "/opt/course/1/answer.txt"}, false, "there is no file"},
		{"absent as asked", labs.FileCheck{Node: "control-plane", Path: "/etc/kubernetes/manifests/kube-scheduler.yaml", Exists: &no}, true, ""},
		{"still there", labs.FileCheck{Node: "worker", Path: "/opt/course/1/answer.txt", Exists: &no}, false, "still exists"},
		{"content", labs.FileCheck{Node: "worker", Path: "/opt/course/1/answer.txt", Matches: `(?m)^pod: web-`}, true, ""},
		{"wrong content", labs.FileCheck{Node: "worker", Path: "/opt/course/1/answer.txt", Matches: `db`}, false, "does not match"},
		{"yamlPath", labs.FileCheck{Node: "control-plane", Path: "/etc/kubernetes/manifests/kube-apiserver.yaml", YAMLPath: "{.spec.containers[0].image}", Matches: `:v1\.35\.4$`}, true, ""},
		{"yamlPath equals", labs.FileCheck{Node: "control-plane", Path: "/etc/kubernetes/manifests/kube-apiserver.yaml", YAMLPath: "{.spec.containers[0].command[1]}", Equals: ptr("--anonymous-auth=true")}, false, `is "--anonymous-auth=false"`},
		{"jsonPath with a node name", labs.FileCheck{Node: "control-plane", Path: "/opt/course/1/nodes.json", JSONPath: "{.items[0].name}", Equals: ptr("${worker}")}, true, ""},
		{"a missing key is empty", labs.FileCheck{Node: "worker", Path: "/opt/course/1/answer.txt", JSONPath: "{.x}", Equals: ptr("")}, true, ""},
	} {
		passed, msg, _, err := c.file(context.Background(), &tc.f)
		if err != nil || passed != tc.pass || !strings.Contains(msg, tc.why) {
			t.Errorf("%s: passed=%v msg=%q err=%v", tc.name, passed, msg, err)
		}
	}
}
