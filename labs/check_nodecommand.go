package labs

import "strings"

// NodeCommandCheck runs a command on a node and matches its result.
type NodeCommandCheck struct {
	Node          string   `yaml:"node"`
	Command       []string `yaml:"command"` // absolute path first
	ExitCode      int      `yaml:"exitCode"`
	OutputMatches string   `yaml:"outputMatches"`
}

func (*NodeCommandCheck) CheckKind() string { return "nodeCommand" }

func (n *NodeCommandCheck) validate(p *fieldPath) {
	p.node("node", n.Node)
	if len(n.Command) == 0 || !strings.HasPrefix(n.Command[0], "/") {
		p.at("command", "command must start with an absolute path")
	}
	p.regexp("outputMatches", n.OutputMatches, false)
}
