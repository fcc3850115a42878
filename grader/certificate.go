package grader

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"slices"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ckalab/ckalab/labs"
)

// kubeadmCertLifetime is how long kubeadm's leaf certificates last.
const kubeadmCertLifetime = 365 * 24 * time.Hour

// certificate checks the first certificate of a PEM file or a TLS Secret.
func (c *cluster) certificate(ctx context.Context, cc *labs.CertificateCheck) (bool, string, any, error) {
	where := fmt.Sprintf("%s on %s", cc.Path, cc.Node)
	var data []byte
	if cc.Secret != "" {
		where = fmt.Sprintf("Secret %s/%s", cc.Namespace, cc.Secret)
		s, err := c.core.CoreV1().Secrets(cc.Namespace).Get(ctx, cc.Secret, metav1.GetOptions{})
		if err != nil {
			return false, fmt.Sprintf("%s: %v", where, err), nil, nil
		}
		data = s.Data["tls.crt"]
	} else {
		var err error
		if data, err = c.readNodeFile(ctx, cc.Node, cc.Path, maxFileBytes); err != nil {
			return false, fmt.Sprintf("%s: %v", where, err), nil, nil
		}
	}
	var crt *x509.Certificate
	for rest := data; crt == nil; {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			return false, fmt.Sprintf("%s holds no PEM certificate", where), nil, nil
		}
		if block.Type == "CERTIFICATE" {
			parsed, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return false, fmt.Sprintf("%s: %v", where, err), nil, nil
			}
			crt = parsed
		}
	}
	ev := map[string]any{"subject": crt.Subject.CommonName, "issuer": crt.Issuer.CommonName,
		"notBefore": crt.NotBefore, "notAfter": crt.NotAfter, "dnsNames": crt.DNSNames}
	now := time.Now()
	var ips []string
	for _, ip := range crt.IPAddresses {
		ips = append(ips, ip.String())
	}
	ev["ipAddresses"] = ips
	switch {
	case now.Before(crt.NotBefore) || now.After(crt.NotAfter):
		return false, fmt.Sprintf("%s is not valid now (%s to %s)", where, crt.NotBefore.Format(time.RFC3339), crt.NotAfter.Format(time.RFC3339)), ev, nil
	case cc.ValidFor.Duration > 0 && crt.NotAfter.Before(now.Add(cc.ValidFor.Duration)):
		return false, fmt.Sprintf("%s expires %s, within %s", where, crt.NotAfter.Format(time.RFC3339), cc.ValidFor.Duration), ev, nil
	case cc.Subject != "" && crt.Subject.CommonName != cc.Subject:
		return false, fmt.Sprintf("%s is for %q, want %q", where, crt.Subject.CommonName, cc.Subject), ev, nil
	case cc.Issuer != "" && crt.Issuer.CommonName != cc.Issuer:
		return false, fmt.Sprintf("%s was issued by %q, want %q", where, crt.Issuer.CommonName, cc.Issuer), ev, nil
	}
	for _, name := range cc.DNSNames {
		if !slices.Contains(crt.DNSNames, c.expand(name)) {
			return false, fmt.Sprintf("%s does not name %s (it names %v)", where, c.expand(name), crt.DNSNames), ev, nil
		}
	}
	for _, want := range cc.IPAddresses {
		if !slices.ContainsFunc(crt.IPAddresses, func(ip net.IP) bool { return ip.Equal(net.ParseIP(want)) }) {
			return false, fmt.Sprintf("%s does not carry IP %s (it has %v)", where, want, ips), ev, nil
		}
	}
	if cc.RenewedAfterSetup {
		if c.t.SetupDone.IsZero() {
			return false, "", ev, fmt.Errorf("the lab's setup time is unknown")
		}
		// Issued after setup, or (kubeadm gives leaf certificates its CA's
		// NotBefore) expiring a full kubeadm lifetime after it.
		if !crt.NotBefore.After(c.t.SetupDone) && !crt.NotAfter.After(c.t.SetupDone.Add(kubeadmCertLifetime)) {
			return false, fmt.Sprintf("%s was issued %s, before the lab started: it was not renewed", where, crt.NotBefore.Format(time.RFC3339)), ev, nil
		}
	}
	return true, "", ev, nil
}
