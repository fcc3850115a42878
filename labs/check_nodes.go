package labs

// NodesCheck looks at every node (or one): version, readiness, cordon, taints.
type NodesCheck struct {
	Node           string `yaml:"node"` // empty: every node
	KubeletVersion string `yaml:"kubeletVersion"`
	Ready          *bool  `yaml:"ready"`
	Schedulable    *bool  `yaml:"schedulable"`
	Taint          string `yaml:"taint"` // key[=value]:Effect that must be present
	NoTaint        string `yaml:"noTaint"`
}

func (*NodesCheck) CheckKind() string { return "nodes" }

func (n *NodesCheck) validate(p *fieldPath) {
	if n.Node != "" {
		p.node("node", n.Node)
	}
	if n.KubeletVersion == "" && n.Ready == nil && n.Schedulable == nil && n.Taint == "" && n.NoTaint == "" {
		p.at("", "nodes needs something to check")
	}
}
