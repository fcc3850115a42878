package labs

// EventsCheck looks for an event about an object.
type EventsCheck struct {
	Namespace string `yaml:"namespace"`
	Kind      string `yaml:"kind"` // of the involved object, e.g. Pod
	Name      string `yaml:"name"`
	Reason    string `yaml:"reason"`
	Matches   string `yaml:"matches"` // regular expression on the message
}

func (*EventsCheck) CheckKind() string { return "events" }

func (e *EventsCheck) validate(p *fieldPath) {
	if e.Namespace == "" || e.Name == "" || e.Kind == "" {
		p.at("", "events needs namespace, kind and name of the object")
	}
	if e.Reason == "" && e.Matches == "" {
		p.at("", "events needs a reason or matches")
	}
	p.regexp("matches", e.Matches, false)
}
