package grader

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/ckalab/ckalab/labs"
)

func testCert(t *testing.T, cn string, dns []string, ips []net.IP, notBefore, notAfter time.Time) string {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kubernetes"}, NotBefore: notBefore, NotAfter: notAfter.Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: cn}, DNSNames: dns, IPAddresses: ips, NotBefore: notBefore, NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func TestCertificateCheck(t *testing.T) {
	now := time.Now()
	setup := now.Add(-time.Hour)
	year := 365 * 24 * time.Hour
	created := setup.Add(-10 * time.Minute) // the cluster, before setup
	original := testCert(t, "kube-apiserver", []string{"kubernetes", "c-control-plane"}, []net.IP{net.ParseIP("10.96.0.1")}, created, created.Add(year))
	renewedKubeadm := testCert(t, "kube-apiserver", []string{"kubernetes"}, nil, created, now.Add(year)) // kubeadm keeps the CA's NotBefore
	soon := testCert(t, "shop.example", []string{"shop.example"}, nil, now.Add(-time.Minute), now.Add(24*time.Hour))
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "shop-tls", Namespace: "web"}, Data: map[string][]byte{"tls.crt": []byte(soon)}}
	c := fakeFiles(t, map[string]string{
		"c-control-plane:/etc/kubernetes/pki/apiserver.crt": original,
		"c-control-plane:/tmp/renewed.crt":                  "junk before\n" + renewedKubeadm,
	})
	c.core = fake.NewSimpleClientset(secret)
	c.t.SetupDone = setup
	for _, tc := range []struct {
		name string
		cc   labs.CertificateCheck
		pass bool
		why  string
	}{
		{"names", labs.CertificateCheck{Node: "control-plane", Path: "/etc/kubernetes/pki/apiserver.crt", DNSNames: []string{"${control-plane}"}, IPAddresses: []string{"10.96.0.1"}, Subject: "kube-apiserver", Issuer: "kubernetes"}, true, ""},
		{"missing SAN", labs.CertificateCheck{Node: "control-plane", Path: "/etc/kubernetes/pki/apiserver.crt", DNSNames: []string{"api.example"}}, false, "does not name api.example"},
		{"not renewed", labs.CertificateCheck{Node: "control-plane", Path: "/etc/kubernetes/pki/apiserver.crt", RenewedAfterSetup: true}, false, "not renewed"},
		{"renewed by kubeadm", labs.CertificateCheck{Node: "control-plane", Path: "/tmp/renewed.crt", RenewedAfterSetup: true}, true, ""},
		{"secret expires soon", labs.CertificateCheck{Namespace: "web", Secret: "shop-tls", ValidFor: labs.Duration{Duration: 30 * 24 * time.Hour}}, false, "within 720h"},
		{"secret", labs.CertificateCheck{Namespace: "web", Secret: "shop-tls", DNSNames: []string{"shop.example"}, ValidFor: labs.Duration{Duration: time.Hour}}, true, ""},
		{"no secret", labs.CertificateCheck{Namespace: "web", Secret: "none"}, false, "not found"},
		{"wrong issuer", labs.CertificateCheck{Namespace: "web", Secret: "shop-tls", Issuer: "letsencrypt"}, false, "issued by"},
	} {
		passed, msg, _, err := c.certificate(context.Background(), &tc.cc)
		if err != nil || passed != tc.pass || !strings.Contains(msg, tc.why) {
			t.Errorf("%s: passed=%v msg=%q err=%v", tc.name, passed, msg, err)
		}
	}
}
