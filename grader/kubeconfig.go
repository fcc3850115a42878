package grader

import (
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"

	authnv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/ckalab/ckalab/labs"
)

// maxKubeconfigBytes bounds a kubeconfig and each credential file read.
const maxKubeconfigBytes = 256 << 10

// kubeconfig signs in to the graded cluster with a kubeconfig's
// credentials and compares who the API server says they belong to.
func (c *cluster) kubeconfig(ctx context.Context, k *labs.KubeconfigCheck) (bool, string, any, error) {
	ev := map[string]any{"node": k.Node, "path": k.Path}
	raw, err := c.readNodeFile(ctx, k.Node, k.Path, maxKubeconfigBytes)
	if errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Sprintf("there is no file %s on %s", k.Path, k.Node), ev, nil
	}
	if err != nil {
		return false, "", ev, err
	}
	cfg, err := clientcmd.RESTConfigFromKubeConfig(c.t.Kubeconfig)
	if err != nil {
		return false, "", ev, fmt.Errorf("the cluster's kubeconfig: %w", err)
	}
	creds, context, err := kubeconfigCredentials(raw, k.Context, path.Dir(k.Path), cfg.CAData, func(p string) ([]byte, error) {
		return c.readNodeFile(ctx, k.Node, p, maxKubeconfigBytes)
	})
	ev["context"] = context
	if creds.Server != "" {
		ev["server"] = creds.Server
	}
	if err != nil {
		return false, fmt.Sprintf("%s on %s: %v", k.Path, k.Node, err), ev, nil
	}
	// The cluster's own endpoint and CA, the file's credentials only. A
	// Proxy function, even one that says "none", keeps client-go from
	// caching a transport per credential forever.
	cfg = rest.AnonymousClientConfig(cfg)
	cfg.Proxy = noProxy
	cfg.CertData, cfg.KeyData, cfg.BearerToken = creds.CertData, creds.KeyData, creds.BearerToken
	cfg.Timeout = DefaultTimeout
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { return boundedBodies{rt} }
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return false, fmt.Sprintf("the credentials of context %q cannot be used: %v", context, err), ev, nil
	}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	defer hc.CloseIdleConnections()
	client, err := kubernetes.NewForConfigAndClient(cfg, hc)
	if err != nil {
		return false, "", ev, err
	}
	review, err := client.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authnv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		return false, fmt.Sprintf("the API server refused the credentials of context %q: %v", context, err), ev, nil
	}
	who := review.Status.UserInfo
	ev["user"], ev["groups"] = who.Username, who.Groups
	if who.Username != k.User {
		return false, fmt.Sprintf("context %q signs in as %q, not %q", context, who.Username, k.User), ev, nil
	}
	for _, g := range k.Groups {
		if !slices.Contains(who.Groups, g) {
			return false, fmt.Sprintf("context %q signs in as %s without group %q (groups %v)", context, who.Username, g, who.Groups), ev, nil
		}
	}
	return true, "", ev, nil
}

// noProxy sends requests straight to the cluster.
func noProxy(*http.Request) (*url.URL, error) { return nil, nil }

// credentials are what a kubeconfig user signs in with, and the server
// its context names (shown, never dialled).
type credentials struct {
	CertData, KeyData []byte
	BearerToken       string
	Server            string
}

// kubeconfigCredentials picks a context (the current one when name is
// empty) and returns its user's credentials. The context's cluster must
// be usable as it is: a server over https and the cluster's CA (caData),
// verified. Files it names are read with read, relative to dir. Exec
// plugins and auth providers would run programs: they are refused.
func kubeconfigCredentials(raw []byte, name, dir string, caData []byte, read func(string) ([]byte, error)) (credentials, string, error) {
	cfg, err := clientcmd.Load(raw)
	if err != nil {
		return credentials{}, name, fmt.Errorf("not a kubeconfig: %v", err)
	}
	if name == "" {
		name = cfg.CurrentContext
	}
	if name == "" {
		return credentials{}, name, errors.New("no current-context")
	}
	ctx, ok := cfg.Contexts[name]
	if !ok {
		return credentials{}, name, fmt.Errorf("no context %q", name)
	}
	var cr credentials
	cl, ok := cfg.Clusters[ctx.Cluster]
	switch {
	case !ok:
		return cr, name, fmt.Errorf("context %q names cluster %q, which the file does not define", name, ctx.Cluster)
	case !strings.HasPrefix(cl.Server, "https://"):
		return cr, name, fmt.Errorf("cluster %q has server %q: the API server answers on https://…:6443", ctx.Cluster, cl.Server)
	case cl.InsecureSkipTLSVerify:
		return cr, name, fmt.Errorf("cluster %q skips TLS verification: name the cluster's CA instead", ctx.Cluster)
	}
	cr.Server = cl.Server
	file := func(p string) ([]byte, error) {
		if !path.IsAbs(p) {
			p = path.Join(dir, p)
		}
		data, err := read(p)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %v", p, err)
		}
		return data, nil
	}
	ca := cl.CertificateAuthorityData
	if len(ca) == 0 && cl.CertificateAuthority != "" {
		if ca, err = file(cl.CertificateAuthority); err != nil {
			return cr, name, fmt.Errorf("cluster %q: %v", ctx.Cluster, err)
		}
	}
	if !samePEM(ca, caData) {
		return cr, name, fmt.Errorf("cluster %q does not carry the cluster's CA certificate (/etc/kubernetes/pki/ca.crt)", ctx.Cluster)
	}
	user, ok := cfg.AuthInfos[ctx.AuthInfo]
	if !ok {
		return credentials{}, name, fmt.Errorf("context %q names user %q, which the file does not define", name, ctx.AuthInfo)
	}
	if user.Exec != nil || user.AuthProvider != nil {
		return credentials{}, name, fmt.Errorf("user %q signs in through a program; use a client certificate or a token", ctx.AuthInfo)
	}
	cr.CertData, cr.KeyData, cr.BearerToken = user.ClientCertificateData, user.ClientKeyData, user.Token
	if len(cr.CertData) == 0 && user.ClientCertificate != "" {
		if cr.CertData, err = file(user.ClientCertificate); err != nil {
			return credentials{}, name, err
		}
	}
	if len(cr.KeyData) == 0 && user.ClientKey != "" {
		if cr.KeyData, err = file(user.ClientKey); err != nil {
			return credentials{}, name, err
		}
	}
	if cr.BearerToken == "" && user.TokenFile != "" {
		tok, err := file(user.TokenFile)
		if err != nil {
			return credentials{}, name, err
		}
		cr.BearerToken = strings.TrimSpace(string(tok))
	}
	cr.BearerToken = strings.TrimSpace(cr.BearerToken)
	if (len(cr.CertData) == 0) != (len(cr.KeyData) == 0) {
		return credentials{}, name, fmt.Errorf("user %q has a client certificate without its key, or a key without its certificate", ctx.AuthInfo)
	}
	if len(cr.CertData) == 0 && cr.BearerToken == "" {
		return credentials{}, name, fmt.Errorf("user %q has no client certificate and no token", ctx.AuthInfo)
	}
	return cr, name, nil
}

// samePEM says whether two PEM texts hold the same certificates, whatever
// their spacing.
func samePEM(a, b []byte) bool {
	der := func(data []byte) [][]byte {
		var out [][]byte
		for {
			var blk *pem.Block
			blk, data = pem.Decode(data)
			if blk == nil {
				return out
			}
			out = append(out, blk.Bytes)
		}
	}
	da, db := der(a), der(b)
	return len(da) > 0 && slices.EqualFunc(da, db, bytes.Equal)
}
