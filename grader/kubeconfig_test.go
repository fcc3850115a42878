package grader

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io/fs"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ckalab/ckalab/labs"
)

// clientCert makes a client certificate and key, PEM encoded.
func clientCert(t *testing.T, cn string, groups ...string) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn, Organization: groups},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

func TestKubeconfigSignsInToTheClusterNotTheFilesServer(t *testing.T) {
	// An API server that says who a client certificate or token is.
	api := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/apis/authentication.k8s.io/v1/selfsubjectreviews" {
			http.Error(w, "unexpected "+r.URL.Path, http.StatusNotFound)
			return
		}
		user, groups := "", []string{"system:authenticated"}
		switch {
		case r.TLS != nil && len(r.TLS.PeerCertificates) > 0:
			s := r.TLS.PeerCertificates[0].Subject
			user, groups = s.CommonName, append(groups, s.Organization...)
		case r.Header.Get("Authorization") == "Bearer tok-ci":
			user = "system:serviceaccount:dev:ci"
		default:
			http.Error(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Unauthorized","code":401}`, http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview",
			"status": map[string]any{"userInfo": map[string]any{"username": user, "groups": groups}}})
	}))
	api.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
	api.StartTLS()
	defer api.Close()
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: api.Certificate().Raw})
	clusterKubeconfig := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: %q, certificate-authority-data: %q}}]
users: [{name: admin, user: {token: admin-token}}]
contexts: [{name: c, context: {cluster: c, user: admin}}]
current-context: c
`, api.URL, b64(caPEM))

	cert, key := clientCert(t, "carol", "finance-team")
	other, otherKey := clientCert(t, "kubernetes-admin", "kubeadm:cluster-admins")
	// The student's file points at an address the test does not serve:
	// the grader must never dial it, only use the credentials.
	withCluster := func(cluster, users string) string {
		return `apiVersion: v1
kind: Config
clusters: [` + cluster + `]
users: [` + users + `]
contexts: [{name: carol, context: {cluster: x, user: carol}}, {name: admin, context: {cluster: x, user: admin}}]
current-context: carol
`
	}
	goodCluster := fmt.Sprintf(`{name: x, cluster: {server: "https://198.51.100.1:6443", certificate-authority-data: %q}}`, b64(caPEM))
	student := func(users string) string {
		return `apiVersion: v1
kind: Config
clusters: [` + goodCluster + `]
users: [` + users + `]
contexts: [{name: carol, context: {cluster: x, user: carol}}, {name: admin, context: {cluster: x, user: admin}}]
current-context: carol
`
	}
	embedded := fmt.Sprintf(`{name: carol, user: {client-certificate-data: %q, client-key-data: %q}}, {name: admin, user: {client-certificate-data: %q, client-key-data: %q}}`,
		b64(cert), b64(key), b64(other), b64(otherKey))
	files := map[string][]byte{
		"/opt/course/csr/embedded":  []byte(student(embedded)),
		"/opt/course/csr/paths":     []byte(student(`{name: carol, user: {client-certificate: carol.crt, client-key: /opt/course/csr/carol.key}}`)),
		"/opt/course/csr/carol.crt": cert, "/opt/course/csr/carol.key": key,
		"/opt/course/csr/no-key":     []byte(student(fmt.Sprintf(`{name: carol, user: {client-certificate-data: %q}}`, b64(cert)))),
		"/opt/course/csr/exec":       []byte(student(`{name: carol, user: {exec: {apiVersion: client.authentication.k8s.io/v1, command: /bin/true}}}`)),
		"/opt/course/csr/token":      []byte(student(`{name: carol, user: {tokenFile: tok}}`)),
		"/opt/course/csr/tok":        []byte("tok-ci\n"),
		"/opt/course/csr/ca.crt":     caPEM,
		"/opt/course/csr/insecure":   []byte(withCluster(`{name: x, cluster: {server: "https://198.51.100.1:6443", insecure-skip-tls-verify: true}}`, embedded)),
		"/opt/course/csr/ca-file":    []byte(withCluster(`{name: x, cluster: {server: "https://cp:6443", certificate-authority: ca.crt}}`, embedded)),
		"/opt/course/csr/other-ca":   []byte(withCluster(fmt.Sprintf(`{name: x, cluster: {server: "https://cp:6443", certificate-authority-data: %q}}`, b64(other)), embedded)),
		"/opt/course/csr/no-ca":      []byte(withCluster(`{name: x, cluster: {server: "https://cp:6443"}}`, embedded)),
		"/opt/course/csr/http":       []byte(withCluster(fmt.Sprintf(`{name: x, cluster: {server: "http://cp:8080", certificate-authority-data: %q}}`, b64(caPEM)), embedded)),
		"/opt/course/csr/no-cluster": []byte(withCluster(`{name: other, cluster: {server: "https://cp:6443"}}`, embedded)),
		"/opt/course/csr/garbage":    []byte("{not yaml"),
	}
	read := func(_ context.Context, node, p string, _ int64) ([]byte, error) {
		if node != "cp-node" {
			t.Errorf("read from %s", node)
		}
		if b, ok := files[p]; ok {
			return b, nil
		}
		return nil, fs.ErrNotExist
	}
	c := &cluster{t: Target{Kubeconfig: []byte(clusterKubeconfig), Nodes: map[string]string{"control-plane": "cp-node"}, ReadFile: read}}
	for _, tc := range []struct {
		name  string
		check labs.KubeconfigCheck
		pass  bool
		why   string
	}{
		{"embedded", labs.KubeconfigCheck{Path: "/opt/course/csr/embedded", User: "carol", Groups: []string{"finance-team"}}, true, ""},
		{"files beside it", labs.KubeconfigCheck{Path: "/opt/course/csr/paths", User: "carol"}, true, ""},
		{"another context", labs.KubeconfigCheck{Path: "/opt/course/csr/embedded", Context: "admin", User: "carol"}, false, `signs in as "kubernetes-admin", not "carol"`},
		{"missing group", labs.KubeconfigCheck{Path: "/opt/course/csr/embedded", User: "carol", Groups: []string{"ops"}}, false, `without group "ops"`},
		{"no key", labs.KubeconfigCheck{Path: "/opt/course/csr/no-key", User: "carol"}, false, "without its key"},
		{"exec plugin", labs.KubeconfigCheck{Path: "/opt/course/csr/exec", User: "carol"}, false, "through a program"},
		{"token file", labs.KubeconfigCheck{Path: "/opt/course/csr/token", User: "system:serviceaccount:dev:ci"}, true, ""},
		{"no file", labs.KubeconfigCheck{Path: "/opt/course/csr/none", User: "carol"}, false, "there is no file"},
		{"not a kubeconfig", labs.KubeconfigCheck{Path: "/opt/course/csr/garbage", User: "carol"}, false, "not a kubeconfig"},
		{"CA in a file beside it", labs.KubeconfigCheck{Path: "/opt/course/csr/ca-file", User: "carol"}, true, ""},
		{"TLS not verified", labs.KubeconfigCheck{Path: "/opt/course/csr/insecure", User: "carol"}, false, "skips TLS verification"},
		{"another CA", labs.KubeconfigCheck{Path: "/opt/course/csr/other-ca", User: "carol"}, false, "does not carry the cluster's CA"},
		{"no CA", labs.KubeconfigCheck{Path: "/opt/course/csr/no-ca", User: "carol"}, false, "does not carry the cluster's CA"},
		{"plain http", labs.KubeconfigCheck{Path: "/opt/course/csr/http", User: "carol"}, false, "https://"},
		{"no cluster", labs.KubeconfigCheck{Path: "/opt/course/csr/no-cluster", User: "carol"}, false, `names cluster "x", which the file does not define`},
		{"no such context", labs.KubeconfigCheck{Path: "/opt/course/csr/embedded", Context: "dave", User: "carol"}, false, `no context "dave"`},
	} {
		tc.check.Node = "control-plane"
		passed, msg, _, err := c.kubeconfig(context.Background(), &tc.check)
		if err != nil || passed != tc.pass || !strings.Contains(msg, tc.why) {
			t.Errorf("%s: passed=%v msg=%q err=%v", tc.name, passed, msg, err)
		}
	}
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
