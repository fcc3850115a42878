package grader

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"slices"

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
	creds, context, err := kubeconfigCredentials(raw, k.Context, path.Dir(k.Path), func(p string) ([]byte, error) {
		return c.readNodeFile(ctx, k.Node, p, maxKubeconfigBytes)
	})
	ev["context"] = context
	if err != nil {
		return false, fmt.Sprintf("%s on %s: %v", k.Path, k.Node, err), ev, nil
	}
	// The cluster's own endpoint and CA, the file's credentials only.
	cfg, err := clientcmd.RESTConfigFromKubeConfig(c.t.Kubeconfig)
	if err != nil {
		return false, "", ev, fmt.Errorf("the cluster's kubeconfig: %w", err)
	}
	cfg = rest.AnonymousClientConfig(cfg)
	cfg.CertData, cfg.KeyData, cfg.BearerToken = creds.CertData, creds.KeyData, creds.BearerToken
	cfg.Timeout = DefaultTimeout
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { return boundedBodies{rt} }
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return false, fmt.Sprintf("the credentials of context %q cannot be used: %v", context, err), ev, nil
	}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
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

// credentials are what a kubeconfig user signs in with.
type credentials struct {
	CertData, KeyData []byte
	BearerToken       string
}

// kubeconfigCredentials picks a context (the current one when name is
// empty) and returns its user's credentials. Files it names are read with
// read, relative to dir. Exec plugins and auth providers would run
// programs: they are refused.
func kubeconfigCredentials(raw []byte, name, dir string, read func(string) ([]byte, error)) (credentials, string, error) {
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
	user, ok := cfg.AuthInfos[ctx.AuthInfo]
	if !ok {
		return credentials{}, name, fmt.Errorf("context %q names user %q, which the file does not define", name, ctx.AuthInfo)
	}
	if user.Exec != nil || user.AuthProvider != nil {
		return credentials{}, name, fmt.Errorf("user %q signs in through a program; use a client certificate or a token", ctx.AuthInfo)
	}
	file := func(p string) ([]byte, error) {
		if !path.IsAbs(p) {
			p = path.Join(dir, p)
		}
		data, err := read(p)
		if err != nil {
			return nil, fmt.Errorf("user %q: reading %s: %v", ctx.AuthInfo, p, err)
		}
		return data, nil
	}
	var cr credentials
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
		cr.BearerToken = string(tok)
	}
	if (len(cr.CertData) == 0) != (len(cr.KeyData) == 0) {
		return credentials{}, name, fmt.Errorf("user %q has a client certificate without its key, or a key without its certificate", ctx.AuthInfo)
	}
	if len(cr.CertData) == 0 && cr.BearerToken == "" {
		return credentials{}, name, fmt.Errorf("user %q has no client certificate and no token", ctx.AuthInfo)
	}
	return cr, name, nil
}
