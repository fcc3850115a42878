package labs

// HelmReleaseCheck decodes a Helm 3 release from its Secret
// (sh.helm.release.v1.<release>.v<revision>, the newest revision) and
// checks its chart, version, revision, status and values.
type HelmReleaseCheck struct {
	Namespace    string `yaml:"namespace"`
	Release      string `yaml:"release"`
	Chart        string `yaml:"chart"`        // chart name
	ChartVersion string `yaml:"chartVersion"` // e.g. 1.2.0
	MinRevision  int    `yaml:"minRevision"`  // e.g. 2 after an upgrade
	Status       string `yaml:"status"`       // default deployed
	// Values: kubectl-style JSONPath into the release's user-supplied
	// values → the value it must have, e.g. {.replicaCount}: "3".
	Values map[string]string `yaml:"values"`
}

func (*HelmReleaseCheck) CheckKind() string { return "helmRelease" }

func (h *HelmReleaseCheck) validate(p *fieldPath) {
	if h.Namespace == "" || h.Release == "" {
		p.at("", "helmRelease needs namespace and release")
	}
	if h.MinRevision < 0 {
		p.at("minRevision", "minRevision must be positive")
	}
	switch h.Status {
	case "", "deployed", "failed", "superseded", "uninstalled", "pending-install", "pending-upgrade", "pending-rollback":
	default:
		p.at("status", "status %q is not a Helm release status", h.Status)
	}
}
