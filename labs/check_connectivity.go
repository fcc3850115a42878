package labs

// ConnectivityCheck probes TCP from a pod to a host and port.
type ConnectivityCheck struct {
	FromNamespace string `yaml:"fromNamespace"`
	FromPod       string `yaml:"fromPod"`
	FromSelector  string `yaml:"fromSelector"`
	Host          string `yaml:"host"` // DNS name or IP
	Port          int    `yaml:"port"`
	Expect        string `yaml:"expect"` // allowed or blocked
}

func (*ConnectivityCheck) CheckKind() string { return "connectivity" }

func (n *ConnectivityCheck) validate(p *fieldPath) {
	if n.FromNamespace == "" || (n.FromPod == "") == (n.FromSelector == "") {
		p.at("", "connectivity needs fromNamespace and one of fromPod or fromSelector")
	}
	if n.Host == "" || n.Port < 1 || n.Port > 65535 {
		p.at("", "connectivity needs host and a port")
	}
	if n.Expect != "allowed" && n.Expect != "blocked" {
		p.at("expect", "expect must be allowed or blocked")
	}
}
