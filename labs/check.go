package labs

import (
	"fmt"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Check is one graded fact: what every check has, and the fields of
// exactly one kind (resource, access, file …), under the kind's name.
type Check struct {
	ID          string   `yaml:"id"`
	Description string   `yaml:"description"` // what passing means, in the student's words
	Timeout     Duration `yaml:"timeout"`
	// Weight is the check's share of its task's weight, relative to its
	// siblings' (default 1).
	Weight int `yaml:"weight"`
	// Requires names checks that must pass for this one to count: a
	// "still", "cannot" or "not" check counts only once the positive part
	// of the task is done. A check of the same task by id, another task's
	// as task/check.
	Requires []string `yaml:"requires"`

	// Spec holds the kind's fields. A check written with several kinds
	// keeps the first; validation reports the others.
	Spec  CheckSpec `yaml:"-"`
	kinds []string  // every kind key found, for validation
}

// CheckSpec is the fields of one kind of check. Each kind lives in its own
// file (check_<kind>.go) with its validation, is named in checkKinds, and
// is run by the grader's checker of the same name.
type CheckSpec interface {
	// CheckKind is the check's key in lab.yaml.
	CheckKind() string
	// validate reports what is wrong with the fields; p is where they are.
	validate(p *fieldPath)
}

// checkKinds makes an empty spec of each kind of check, by its key.
func checkKinds() map[string]func() CheckSpec {
	return map[string]func() CheckSpec{
		"resource":     func() CheckSpec { return new(ResourceCheck) },
		"access":       func() CheckSpec { return new(AccessCheck) },
		"connectivity": func() CheckSpec { return new(ConnectivityCheck) },
		"nodeCommand":  func() CheckSpec { return new(NodeCommandCheck) },
		"nodes":        func() CheckSpec { return new(NodesCheck) },
		"logs":         func() CheckSpec { return new(LogsCheck) },
		"events":       func() CheckSpec { return new(EventsCheck) },
		"file":         func() CheckSpec { return new(FileCheck) },
		"etcdSnapshot": func() CheckSpec { return new(EtcdSnapshotCheck) },
		"http":         func() CheckSpec { return new(HTTPCheck) },
		"certificate":  func() CheckSpec { return new(CertificateCheck) },
		"helmRelease":  func() CheckSpec { return new(HelmReleaseCheck) },
		"dns":          func() CheckSpec { return new(DNSCheck) },
		"kubeconfig":   func() CheckSpec { return new(KubeconfigCheck) },
	}
}

// CheckKinds lists the kinds of check, sorted.
func CheckKinds() []string {
	var out []string
	for k := range checkKinds() {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// checkFields are the keys every check has, whatever its kind.
type checkFields struct {
	ID          string   `yaml:"id"`
	Description string   `yaml:"description"`
	Timeout     Duration `yaml:"timeout"`
	Weight      int      `yaml:"weight"`
	Requires    []string `yaml:"requires"`
}

// UnmarshalYAML reads the common fields, then the kind's under its key.
// Unknown keys are reported by the walker, with their lines.
func (c *Check) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: a check is a mapping", n.Line)}}
	}
	common := &yaml.Node{Kind: yaml.MappingNode, Tag: n.Tag, Line: n.Line, Column: n.Column}
	kinds := checkKinds()
	var errs []string
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i], n.Content[i+1]
		make, ok := kinds[key.Value]
		if !ok {
			common.Content = append(common.Content, key, val)
			continue
		}
		c.kinds = append(c.kinds, key.Value)
		if c.Spec != nil {
			continue
		}
		spec := make()
		if err := val.Decode(spec); err != nil {
			errs = append(errs, typeErrors(err)...)
		}
		c.Spec = spec
	}
	var f checkFields
	if err := common.Decode(&f); err != nil {
		errs = append(errs, typeErrors(err)...)
	}
	c.ID, c.Description, c.Timeout, c.Weight, c.Requires = f.ID, f.Description, f.Timeout, f.Weight, f.Requires
	if len(errs) > 0 {
		return &yaml.TypeError{Errors: errs}
	}
	return nil
}

func typeErrors(err error) []string {
	if te, ok := err.(*yaml.TypeError); ok {
		return te.Errors
	}
	return []string{err.Error()}
}

// fieldPath reports problems of one check kind's fields, at their lines.
type fieldPath struct {
	v       *validator
	path    string // e.g. tasks[0].checks[2].resource
	workers int
}

// at reports a problem at a field of the kind ("" for the kind itself).
func (p *fieldPath) at(field, format string, args ...any) {
	path := p.path
	if field != "" {
		path += "." + field
	}
	p.v.at(path, format, args...)
}

// node reports a node name the topology does not have.
func (p *fieldPath) node(field, node string) { p.v.node(p.path+"."+field, node, p.workers) }

// regexp reports a regular expression that does not compile (or is missing).
func (p *fieldPath) regexp(field, re string, required bool) {
	p.v.regexp(p.path+"."+field, re, required)
}

// check validates what every check has, then its kind.
func (v *validator) check(p string, c *Check, ids map[string]bool, workers int) {
	if !idRe.MatchString(c.ID) {
		v.at(p+".id", "check id %q: use lowercase letters, digits and dashes", c.ID)
	}
	if ids[c.ID] {
		v.at(p+".id", "check id %q is used twice in this task", c.ID)
	}
	ids[c.ID] = true
	if c.Timeout.bad != "" {
		v.at(p+".timeout", "timeout %q is not a duration (e.g. 5s)", c.Timeout.bad)
	}
	if c.Description == "" {
		v.at(p+".description", "check description is required (the student reads it)")
	}
	if c.Weight < 0 {
		v.at(p+".weight", "check weight must be positive (default 1: an equal share of the task)")
	}
	n := len(c.kinds)
	if n == 0 && c.Spec != nil {
		n = 1 // made in Go, not read from YAML
	}
	if n != 1 {
		v.at(p, "a check has exactly one kind: %s (found %d)", strings.Join(CheckKinds(), ", "), n)
	}
	if c.Spec != nil {
		c.Spec.validate(&fieldPath{v: v, path: p + "." + c.Spec.CheckKind(), workers: workers})
	}
	switch c.Spec.(type) {
	case *NodesCheck, *EtcdSnapshotCheck, *NodeCommandCheck:
		if v.confined {
			v.at(p, "a %s check looks at what every lab on the cluster shares: %s (remove topology.namespaces)", c.Spec.CheckKind(), sharesItsCluster)
		}
	}
}
