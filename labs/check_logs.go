package labs

// LogsCheck matches a pod's log (the first pod of a selector).
type LogsCheck struct {
	Namespace string `yaml:"namespace"`
	Pod       string `yaml:"pod"`
	Selector  string `yaml:"selector"`
	Container string `yaml:"container"`
	Matches   string `yaml:"matches"` // regular expression the log must match
}

func (*LogsCheck) CheckKind() string { return "logs" }

func (l *LogsCheck) validate(p *fieldPath) {
	if l.Namespace == "" || (l.Pod == "") == (l.Selector == "") {
		p.at("", "logs needs namespace and one of pod or selector")
	}
	p.regexp("matches", l.Matches, true)
}
