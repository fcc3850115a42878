package labs

import "strings"

// DNSCheck resolves a name as a pod would: from its network namespace,
// through the cluster's DNS Service, with the pod's search domains.
type DNSCheck struct {
	FromNamespace string `yaml:"fromNamespace"`
	FromPod       string `yaml:"fromPod"`
	FromSelector  string `yaml:"fromSelector"`
	Name          string `yaml:"name"`
	Type          string `yaml:"type"`          // A (default), AAAA, CNAME, SRV, TXT …
	AnswerMatches string `yaml:"answerMatches"` // regular expression on the answer records
	NXDomain      bool   `yaml:"nxdomain"`      // the name must not resolve
}

func (*DNSCheck) CheckKind() string { return "dns" }

func (d *DNSCheck) validate(p *fieldPath) {
	if d.FromNamespace == "" || (d.FromPod == "") == (d.FromSelector == "") {
		p.at("", "dns needs fromNamespace and one of fromPod or fromSelector")
	}
	if d.Name == "" || strings.ContainsAny(d.Name, " /\\\"'") {
		p.at("name", "dns needs a name to resolve")
	}
	switch d.Type {
	case "", "A", "AAAA", "CNAME", "SRV", "TXT", "PTR", "MX", "NS":
	default:
		p.at("type", "type %q: want A, AAAA, CNAME, SRV, TXT, PTR, MX or NS", d.Type)
	}
	if d.NXDomain && d.AnswerMatches != "" {
		p.at("", "a name that must not resolve has no answer to match")
	}
	p.regexp("answerMatches", d.AnswerMatches, false)
}
