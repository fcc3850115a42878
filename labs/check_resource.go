package labs

// ResourceCheck looks at objects: existence, count, a field, a condition.
// In name, selectors and equals, ${control-plane}, ${worker}, ${worker2} …
// stand for the cluster's node names.
type ResourceCheck struct {
	APIVersion    string  `yaml:"apiVersion"`
	Kind          string  `yaml:"kind"`
	Namespace     string  `yaml:"namespace"`
	Name          string  `yaml:"name"`
	Selector      string  `yaml:"selector"`      // label selector, instead of name
	FieldSelector string  `yaml:"fieldSelector"` // e.g. spec.nodeName=${worker}
	Exists        *bool   `yaml:"exists"`
	Count         *int    `yaml:"count"`
	JSONPath      string  `yaml:"jsonPath"` // kubectl-style, e.g. {.spec.replicas}
	Equals        *string `yaml:"equals"`
	Matches       string  `yaml:"matches"`   // regular expression
	Condition     string  `yaml:"condition"` // condition type that must be True, e.g. Ready, Available
}

func (*ResourceCheck) CheckKind() string { return "resource" }

func (r *ResourceCheck) validate(p *fieldPath) {
	if r.Kind == "" || r.APIVersion == "" {
		p.at("", "resource needs apiVersion and kind")
	}
	if r.Name != "" && (r.Selector != "" || r.FieldSelector != "") {
		p.at("", "resource takes a name or selectors, not both")
	}
	p.regexp("matches", r.Matches, false)
	if (r.Equals != nil || r.Matches != "") && r.JSONPath == "" {
		p.at("", "equals and matches need a jsonPath")
	}
	if r.JSONPath != "" && r.Equals == nil && r.Matches == "" {
		p.at("", "a jsonPath needs equals or matches: what must its value be?")
	}
	// A selector's empty list would pass every per-object assertion:
	// say what must hold of the list itself.
	if r.Name == "" && r.Exists == nil && r.Count == nil && r.JSONPath == "" && r.Condition == "" {
		p.at("", "a selector check needs an assertion: exists, count, jsonPath with equals/matches, or condition")
	}
}
