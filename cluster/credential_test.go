package cluster

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"
)

func TestPlatformCertificateIsASystemMastersClientCert(t *testing.T) {
	// A CA as kubeadm makes it: RSA, PKCS#1 key.
	caKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kubernetes"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(10 * 365 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(caKey)})

	certPEM, clientKey, err := signClientCert(caPEM, keyPEM, GraderUser, []string{"system:masters"}, now)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(certPEM)
	crt, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	if _, err := crt.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("the API server would refuse it: %v", err)
	}
	if crt.Subject.CommonName != GraderUser || len(crt.Subject.Organization) != 1 || crt.Subject.Organization[0] != "system:masters" {
		t.Fatalf("subject %v", crt.Subject)
	}

	if _, _, err := signClientCert(caPEM, []byte("not a key"), GraderUser, nil, now); err == nil {
		t.Fatal("a broken CA key must fail")
	}

	admin := []byte(`apiVersion: v1
kind: Config
clusters: [{name: kind-x, cluster: {server: "https://127.0.0.1:6443", certificate-authority-data: ` + "Zm9v" + `}}]
users: [{name: kind-x, user: {client-certificate-data: YWRtaW4=, client-key-data: YWRtaW4=}}]
contexts: [{name: kind-x, context: {cluster: kind-x, user: kind-x}}]
current-context: kind-x
`)
	out, err := withClientCert(admin, GraderUser, certPEM, clientKey)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.RESTConfigFromKubeConfig(out)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host != "https://127.0.0.1:6443" || string(cfg.CertData) != string(certPEM) || string(cfg.KeyData) != string(clientKey) {
		t.Fatalf("config %+v", cfg)
	}
	parsed, _ := clientcmd.Load(out)
	if len(parsed.AuthInfos) != 1 {
		t.Fatalf("kind's admin credential must not be kept beside it: %v", parsed.AuthInfos)
	}
}
