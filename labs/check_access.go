package labs

import "strings"

// AccessCheck asks the API server whether a subject may do something
// (SubjectAccessReviews): every verb on every resource listed, so a task's
// whole matrix is probed, not one pair a shortcut could grant alone.
type AccessCheck struct {
	User           string   `yaml:"user"`
	Group          string   `yaml:"group"`
	ServiceAccount string   `yaml:"serviceAccount"` // namespace/name
	Verb           string   `yaml:"verb"`
	Verbs          []string `yaml:"verbs"`
	Resource       string   `yaml:"resource"` // pods, deployments.apps, …
	Resources      []string `yaml:"resources"`
	Subresource    string   `yaml:"subresource"`
	Namespace      string   `yaml:"namespace"`
	Allowed        bool     `yaml:"allowed"`
}

// Pairs are the verb and resource pairs the check asks about.
func (a *AccessCheck) Pairs() [][2]string {
	verbs, resources := a.Verbs, a.Resources
	if a.Verb != "" {
		verbs = append([]string{a.Verb}, verbs...)
	}
	if a.Resource != "" {
		resources = append([]string{a.Resource}, resources...)
	}
	var out [][2]string
	for _, r := range resources {
		for _, v := range verbs {
			out = append(out, [2]string{v, r})
		}
	}
	return out
}

func (*AccessCheck) CheckKind() string { return "access" }

func (a *AccessCheck) validate(p *fieldPath) {
	subjects := 0
	for _, s := range []string{a.User, a.Group, a.ServiceAccount} {
		if s != "" {
			subjects++
		}
	}
	if subjects != 1 {
		p.at("", "access needs exactly one of user, group or serviceAccount")
	}
	if a.ServiceAccount != "" && strings.Count(a.ServiceAccount, "/") != 1 {
		p.at("serviceAccount", "serviceAccount is namespace/name")
	}
	if (a.Verb == "") == (len(a.Verbs) == 0) || (a.Resource == "") == (len(a.Resources) == 0) {
		p.at("", "access needs a verb (or verbs) and a resource (or resources)")
	}
}
