package cluster

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/keyutil"
)

// GraderUser is the identity of the platform's own credential.
const GraderUser = "ckalab:grader"

// platformKubeconfig turns kind's admin kubeconfig into the platform's own
// credential: a client certificate in group system:masters, signed by the
// cluster's CA read from the control plane at creation. kind's admin
// (kubernetes-admin) gets its rights from the kubeadm:cluster-admins
// binding, which the student can delete; the API server's authorizer lets
// system:masters through whatever RBAC holds.
func (m *Manager) platformKubeconfig(ctx context.Context, c *Cluster, admin []byte) ([]byte, error) {
	var cp string
	for _, n := range c.Nodes {
		if n.Role == "control-plane" {
			cp = n.Name
		}
	}
	if cp == "" {
		return nil, fmt.Errorf("cluster %s has no control-plane node", c.Name)
	}
	caCert, err := m.Exec(ctx, c.Name, cp, nil, "cat", "/etc/kubernetes/pki/ca.crt")
	if err != nil {
		return nil, fmt.Errorf("reading the cluster CA: %w", err)
	}
	caKey, err := m.Exec(ctx, c.Name, cp, nil, "cat", "/etc/kubernetes/pki/ca.key")
	if err != nil {
		return nil, fmt.Errorf("reading the cluster CA key: %w", err)
	}
	certPEM, keyPEM, err := signClientCert(caCert, caKey, GraderUser, []string{"system:masters"}, time.Now())
	if err != nil {
		return nil, fmt.Errorf("cluster %s: %w", c.Name, err)
	}
	return withClientCert(admin, GraderUser, certPEM, keyPEM)
}

// signClientCert makes a client certificate for user in groups, signed by
// the CA, valid for a year from now.
func signClientCert(caCertPEM, caKeyPEM []byte, user string, groups []string, now time.Time) (certPEM, keyPEM []byte, err error) {
	cas, err := cert.ParseCertsPEM(caCertPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("cluster CA certificate: %w", err)
	}
	parsed, err := keyutil.ParsePrivateKeyPEM(caKeyPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("cluster CA key: %w", err)
	}
	signer, ok := parsed.(crypto.Signer)
	if !ok {
		return nil, nil, fmt.Errorf("cluster CA key of type %T cannot sign", parsed)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: user, Organization: groups},
		NotBefore:    now.Add(-5 * time.Minute),
		NotAfter:     now.Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, cas[0], key.Public(), signer)
	if err != nil {
		return nil, nil, fmt.Errorf("signing the client certificate: %w", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), nil
}

// withClientCert is kubeconfig with its current user replaced by user,
// authenticated by the certificate and key.
func withClientCert(kubeconfig []byte, user string, certPEM, keyPEM []byte) ([]byte, error) {
	cfg, err := clientcmd.Load(kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	ctx, ok := cfg.Contexts[cfg.CurrentContext]
	if !ok {
		return nil, fmt.Errorf("kubeconfig has no current context")
	}
	cfg.AuthInfos = map[string]*clientcmdapi.AuthInfo{user: {ClientCertificateData: certPEM, ClientKeyData: keyPEM}}
	ctx.AuthInfo = user
	cfg.Contexts = map[string]*clientcmdapi.Context{cfg.CurrentContext: ctx}
	return clientcmd.Write(*cfg)
}
