package labs

import (
	"path"
	"strings"
)

// EtcdSnapshotCheck copies an etcd snapshot off a node through the
// container engine and opens it in the server: its integrity hash must
// verify (what `etcdutl snapshot restore` checks, so a copy of etcd's
// data file does not pass) and the keys must be in it, or not.
type EtcdSnapshotCheck struct {
	Node       string   `yaml:"node"`
	Path       string   `yaml:"path"`
	Keys       []string `yaml:"keys"`       // etcd keys that must be there, e.g. /registry/configmaps/default/marker
	AbsentKeys []string `yaml:"absentKeys"` // keys that must not
}

func (*EtcdSnapshotCheck) CheckKind() string { return "etcdSnapshot" }

func (e *EtcdSnapshotCheck) validate(p *fieldPath) {
	p.node("node", e.Node)
	if !path.IsAbs(e.Path) {
		p.at("path", "path must be absolute")
	}
	for _, k := range append(append([]string{}, e.Keys...), e.AbsentKeys...) {
		if !strings.HasPrefix(k, "/") {
			p.at("keys", "etcd key %q: keys start with / (e.g. /registry/namespaces/default)", k)
		}
	}
}
