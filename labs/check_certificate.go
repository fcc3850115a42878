package labs

import "path"

// CertificateCheck reads an X.509 certificate from a node's PEM file
// (through the container engine) or from a Secret's tls.crt, and checks
// its validity, names and issuer.
type CertificateCheck struct {
	Node      string `yaml:"node"` // a PEM file on a node …
	Path      string `yaml:"path"`
	Namespace string `yaml:"namespace"` // … or a Secret's tls.crt
	Secret    string `yaml:"secret"`
	// ValidFor: the certificate is valid now and for at least this long.
	ValidFor    Duration `yaml:"validFor"`
	DNSNames    []string `yaml:"dnsNames"`    // subject alternative names it must carry
	IPAddresses []string `yaml:"ipAddresses"` // IP SANs it must carry
	Subject     string   `yaml:"subject"`     // its common name
	Issuer      string   `yaml:"issuer"`      // its issuer's common name
	// RenewedAfterSetup: issued after the lab's setup ended (NotBefore, or
	// for kubeadm's certificates, which keep their CA's NotBefore, a
	// NotAfter a year past it).
	RenewedAfterSetup bool `yaml:"renewedAfterSetup"`
}

func (*CertificateCheck) CheckKind() string { return "certificate" }

func (c *CertificateCheck) validate(p *fieldPath) {
	onNode, inSecret := c.Node != "" || c.Path != "", c.Namespace != "" || c.Secret != ""
	switch {
	case onNode == inSecret:
		p.at("", "certificate reads a file (node and path) or a Secret (namespace and secret)")
	case onNode:
		p.node("node", c.Node)
		if !path.IsAbs(c.Path) {
			p.at("path", "path must be absolute")
		}
	case c.Namespace == "" || c.Secret == "":
		p.at("", "a Secret needs namespace and secret")
	}
	if c.ValidFor.bad != "" {
		p.at("validFor", "validFor %q is not a duration (e.g. 720h)", c.ValidFor.bad)
	}
}
