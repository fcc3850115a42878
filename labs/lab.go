// Package labs reads and validates lab definitions: one folder per lab
// under labs/, holding lab.yaml (apiVersion ckalab.dev/v1alpha1, kind Lab),
// Markdown task texts and the manifests its setup and solution apply.
package labs

import (
	"io/fs"
	"time"
)

// APIVersion is the one lab format this ckalab reads.
const APIVersion = "ckalab.dev/v1alpha1"

// Domains of the CKA curriculum, by the key a lab uses.
var Domains = map[string]string{
	"troubleshooting":      "Troubleshooting",
	"cluster-architecture": "Cluster Architecture, Installation & Configuration",
	"services-networking":  "Services & Networking",
	"workloads-scheduling": "Workloads & Scheduling",
	"storage":              "Storage",
}

// Lab is one lab.yaml.
type Lab struct {
	APIVersion  string   `yaml:"apiVersion"`
	Kind        string   `yaml:"kind"`
	ID          string   `yaml:"id"`
	Title       string   `yaml:"title"`
	Domain      string   `yaml:"domain"`
	Difficulty  string   `yaml:"difficulty"`
	TimeLimit   Duration `yaml:"timeLimit"`
	Topology    Topology `yaml:"topology"`
	Description string   `yaml:"description"` // Markdown shown above the tasks
	Setup       []Step   `yaml:"setup"`
	Tasks       []Task   `yaml:"tasks"`
	Solution    []Step   `yaml:"solution"`
	// Competencies are the ids of the curriculum competencies the lab
	// makes the student practise (Curriculum); at least one.
	Competencies []string `yaml:"competencies"`
	// Bots beside the solution, each run on a fresh setup by the bot test:
	// a shortcut (a plausible way around the skill) must score below full
	// marks, an alternative (another correct answer) full marks.
	Shortcuts    []Bot `yaml:"shortcuts"`
	Alternatives []Bot `yaml:"alternatives"`

	Dir  string `yaml:"-"` // the lab's folder, for messages
	fsys fs.FS  // the lab's files
}

// Topology is the cluster a lab needs.
type Topology struct {
	Workers           int    `yaml:"workers"`
	KubernetesVersion string `yaml:"kubernetesVersion"` // empty: the server's default
	// Namespaces, when set, confines the lab to these namespaces (and to
	// cluster-scoped objects it names itself): it changes no node, no
	// system component and nothing another lab owns, so it may share a
	// cluster with other confined labs (bot runs, exam questions). Empty:
	// the lab needs a cluster of its own.
	Namespaces []string `yaml:"namespaces"`

	namespacesLine int // for catalog-level problems
}

// Shareable says whether the lab may share its cluster with other
// shareable labs whose namespaces differ.
func (t Topology) Shareable() bool { return len(t.Namespaces) > 0 }

// Step is one setup or solution step: apply a manifest, or run a script
// on a node as root.
type Step struct {
	Apply    string `yaml:"apply"`    // manifest file in the lab folder
	Manifest string `yaml:"manifest"` // inline manifest
	Run      *Run   `yaml:"run"`
}

// Run is a script run with bash on a node.
type Run struct {
	Node   string `yaml:"node"` // control-plane, worker, worker2, …
	Script string `yaml:"script"`
}

// Bot is a scripted attempt at a lab.
type Bot struct {
	ID          string `yaml:"id"`
	Description string `yaml:"description"` // what it does, and why it should (not) pass
	Steps       []Step `yaml:"steps"`
}

// Task is one numbered task of a lab.
type Task struct {
	ID     string   `yaml:"id"`
	Title  string   `yaml:"title"`
	Text   string   `yaml:"text"` // Markdown file in the lab folder
	Weight int      `yaml:"weight"`
	Hints  []string `yaml:"hints"`
	Checks []Check  `yaml:"checks"`
	// Explanation is Markdown shown with the score once the attempt is
	// over: why the answer is right, what the exam expects.
	Explanation string `yaml:"explanation"`

	Markdown string `yaml:"-"` // Text's content, read at load
}

// Duration is a time.Duration written as "20m".
type Duration struct {
	time.Duration
	bad string // the text, when it did not parse
}
