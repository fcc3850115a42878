package labs

import (
	"net/url"
	"regexp"
	"strings"
)

// nodeVar is a node name written ${control-plane}, ${worker} …
var nodeVar = regexp.MustCompile(`\$\{(control-plane|worker[0-9]*)\}`)

// HTTPCheck sends a GET from inside a pod's network namespace (or from a
// node) and looks at the answer. Hosts written svc.ns, svc.ns.svc[.cluster.local]
// or pod.ns.pod are resolved through the API, as the cluster's DNS would.
type HTTPCheck struct {
	FromNamespace string `yaml:"fromNamespace"`
	FromPod       string `yaml:"fromPod"`
	FromSelector  string `yaml:"fromSelector"`
	FromNode      string `yaml:"fromNode"` // instead of a pod: control-plane, worker …
	URL           string `yaml:"url"`      // http:// or https:// (certificates not verified); ${worker} … name nodes
	Host          string `yaml:"host"`     // Host header, if not the URL's
	Status        int    `yaml:"status"`   // default 200
	BodyMatches   string `yaml:"bodyMatches"`
}

func (*HTTPCheck) CheckKind() string { return "http" }

func (h *HTTPCheck) validate(p *fieldPath) {
	fromPod := h.FromNamespace != "" && (h.FromPod == "") != (h.FromSelector == "")
	if fromPod == (h.FromNode != "") || (h.FromNode != "" && (h.FromNamespace != "" || h.FromPod != "" || h.FromSelector != "")) {
		p.at("", "http runs from a pod (fromNamespace and fromPod or fromSelector) or from a node (fromNode)")
	}
	if h.FromNode != "" {
		p.node("fromNode", h.FromNode)
	}
	u, err := url.Parse(nodeVar.ReplaceAllString(h.URL, "node"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.at("url", "url %q: want http://host[:port]/path or https://…", h.URL)
	}
	if strings.ContainsAny(h.Host, " \r\n") {
		p.at("host", "host %q is not a host name", h.Host)
	}
	if h.Status != 0 && (h.Status < 100 || h.Status > 599) {
		p.at("status", "status %d is not an HTTP status", h.Status)
	}
	p.regexp("bodyMatches", h.BodyMatches, false)
}
