package grader

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// A student's fake API server can neither send the grader elsewhere with
// a redirect nor flood it with an endless answer.
func TestConnectRefusesRedirectsAndFloods(t *testing.T) {
	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { elsewhere.Add(1) }))
	defer other.Close()
	api := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v1/namespaces/moved":
			http.Redirect(w, r, other.URL+"/latest/meta-data/", http.StatusFound)
		case "/api/v1/namespaces/big":
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"kind":"Namespace","apiVersion":"v1","metadata":{"name":"`))
			chunk := []byte(strings.Repeat("x", 1<<20))
			for range 40 {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		default:
			http.NotFound(w, r)
		}
	}))
	defer api.Close()
	kubeconfig := `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "` + api.URL + `", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`
	c, err := connect(Target{Kubeconfig: []byte(kubeconfig)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.core.CoreV1().Namespaces().Get(context.Background(), "moved", metav1.GetOptions{}); err == nil {
		t.Fatal("a redirect answered as a namespace")
	}
	if elsewhere.Load() != 0 {
		t.Fatal("the grader followed the API server's redirect")
	}
	if _, err := c.core.CoreV1().Namespaces().Get(context.Background(), "big", metav1.GetOptions{}); err == nil || !strings.Contains(err.Error(), "over") {
		t.Fatalf("a 40 MiB answer: %v", err)
	}
}
