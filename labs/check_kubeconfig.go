package labs

import "path"

// KubeconfigCheck proves a kubeconfig file a student wrote on a node:
// the grader reads it through the container engine, signs in to the
// graded cluster with its credentials (a client certificate and key,
// embedded or in files beside it on the node, or a token) and asks the
// API server who they belong to. The file's server and CA are never
// used: the grader talks only to the cluster's own API endpoint.
type KubeconfigCheck struct {
	Node    string   `yaml:"node"`    // control-plane, worker …
	Path    string   `yaml:"path"`    // absolute
	Context string   `yaml:"context"` // default: the file's current-context
	User    string   `yaml:"user"`    // the user name the API server must see
	Groups  []string `yaml:"groups"`  // groups it must also see
}

func (*KubeconfigCheck) CheckKind() string { return "kubeconfig" }

func (k *KubeconfigCheck) validate(p *fieldPath) {
	p.node("node", k.Node)
	if !path.IsAbs(k.Path) {
		p.at("path", "path must be absolute")
	}
	if k.User == "" {
		p.at("user", "kubeconfig needs the user the credentials must belong to")
	}
}
