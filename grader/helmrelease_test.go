package grader

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/ckalab/ckalab/labs"
)

// releaseSecret is a release stored the way Helm 3 stores it.
func releaseSecret(t *testing.T, name string, rev int, status, chartVersion string, values map[string]any) *corev1.Secret {
	t.Helper()
	rec := map[string]any{"name": name, "version": rev, "namespace": "apps",
		"info":   map[string]any{"status": status},
		"chart":  map[string]any{"metadata": map[string]any{"name": "web", "version": chartVersion}},
		"config": values}
	js, _ := json.Marshal(rec)
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write(js)
	w.Close()
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("sh.helm.release.v1.%s.v%d", name, rev), Namespace: "apps",
			Labels: map[string]string{"owner": "helm", "name": name, "status": status}},
		Type: "helm.sh/release.v1",
		Data: map[string][]byte{"release": []byte(base64.StdEncoding.EncodeToString(gz.Bytes()))},
	}
}

func TestHelmReleaseCheck(t *testing.T) {
	objs := []runtime.Object{
		releaseSecret(t, "shop", 1, "superseded", "1.0.0", map[string]any{"replicaCount": 1}),
		releaseSecret(t, "shop", 2, "deployed", "1.1.0", map[string]any{"replicaCount": 3, "image": map[string]any{"tag": "1.26"}}),
	}
	c := &cluster{core: fake.NewSimpleClientset(objs...)}
	for _, tc := range []struct {
		name string
		h    labs.HelmReleaseCheck
		pass bool
		why  string
	}{
		{"upgraded", labs.HelmReleaseCheck{Namespace: "apps", Release: "shop", Chart: "web", ChartVersion: "1.1.0", MinRevision: 2,
			Values: map[string]string{"{.replicaCount}": "3", "{.image.tag}": "1.26"}}, true, ""},
		{"old version", labs.HelmReleaseCheck{Namespace: "apps", Release: "shop", ChartVersion: "1.0.0"}, false, "runs chart version 1.1.0"},
		{"value", labs.HelmReleaseCheck{Namespace: "apps", Release: "shop", Values: map[string]string{"{.replicaCount}": "5"}}, false, `is "3", want "5"`},
		{"not yet upgraded", labs.HelmReleaseCheck{Namespace: "apps", Release: "shop", MinRevision: 3}, false, "revision 2"},
		{"absent", labs.HelmReleaseCheck{Namespace: "apps", Release: "blog"}, false, "no Helm release blog"},
	} {
		passed, msg, _, err := c.helmRelease(context.Background(), &tc.h)
		if err != nil || passed != tc.pass || !strings.Contains(msg, tc.why) {
			t.Errorf("%s: passed=%v msg=%q err=%v", tc.name, passed, msg, err)
		}
	}
	// A rollback makes a new revision, deployed, with the old chart.
	c.core = fake.NewSimpleClientset(append(objs, releaseSecret(t, "shop", 3, "deployed", "1.0.0", map[string]any{"replicaCount": 1}))...)
	if passed, msg, _, _ := c.helmRelease(context.Background(), &labs.HelmReleaseCheck{Namespace: "apps", Release: "shop", ChartVersion: "1.0.0", MinRevision: 3}); !passed {
		t.Fatalf("rollback: %s", msg)
	}
}
