package labs

import "path"

// FileCheck reads a file of a node through the container engine, running
// nothing on the node, so a student who replaced the node's binaries
// cannot fake it: answer files, backups, static-pod manifests, kubelet
// configuration. With jsonPath (or yamlPath) the file is parsed as YAML or
// JSON and the value compared; otherwise matches applies to the content.
type FileCheck struct {
	Node     string  `yaml:"node"` // control-plane, worker, worker2 …
	Path     string  `yaml:"path"` // absolute
	Exists   *bool   `yaml:"exists"`
	JSONPath string  `yaml:"jsonPath"` // kubectl-style, e.g. {.spec.containers[0].image}
	YAMLPath string  `yaml:"yamlPath"` // the same, for a YAML file
	Equals   *string `yaml:"equals"`
	Matches  string  `yaml:"matches"` // regular expression
}

func (*FileCheck) CheckKind() string { return "file" }

// Query is the JSONPath into the parsed file, if any.
func (f *FileCheck) Query() string {
	if f.YAMLPath != "" {
		return f.YAMLPath
	}
	return f.JSONPath
}

func (f *FileCheck) validate(p *fieldPath) {
	p.node("node", f.Node)
	if !path.IsAbs(f.Path) {
		p.at("path", "path must be absolute")
	}
	if f.JSONPath != "" && f.YAMLPath != "" {
		p.at("", "file takes jsonPath or yamlPath, not both")
	}
	if f.Equals != nil && f.Query() == "" {
		p.at("equals", "equals needs a jsonPath or yamlPath")
	}
	if f.Query() != "" && f.Equals == nil && f.Matches == "" {
		p.at("", "a jsonPath needs equals or matches: what must its value be?")
	}
	if f.Exists != nil && !*f.Exists && (f.Query() != "" || f.Matches != "") {
		p.at("exists", "a file that must not exist has no content to check")
	}
	p.regexp("matches", f.Matches, false)
}
