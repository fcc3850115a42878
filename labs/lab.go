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
}

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

// Check is one graded fact; exactly one kind is set.
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

	Resource     *ResourceCheck     `yaml:"resource"`
	Access       *AccessCheck       `yaml:"access"`
	Connectivity *ConnectivityCheck `yaml:"connectivity"`
	NodeCommand  *NodeCommandCheck  `yaml:"nodeCommand"`
	Nodes        *NodesCheck        `yaml:"nodes"`
	Logs         *LogsCheck         `yaml:"logs"`
	Events       *EventsCheck       `yaml:"events"`
}

// LogsCheck matches a pod's log (the first pod of a selector).
type LogsCheck struct {
	Namespace string `yaml:"namespace"`
	Pod       string `yaml:"pod"`
	Selector  string `yaml:"selector"`
	Container string `yaml:"container"`
	Matches   string `yaml:"matches"` // regular expression the log must match
}

// EventsCheck looks for an event about an object.
type EventsCheck struct {
	Namespace string `yaml:"namespace"`
	Kind      string `yaml:"kind"` // of the involved object, e.g. Pod
	Name      string `yaml:"name"`
	Reason    string `yaml:"reason"`
	Matches   string `yaml:"matches"` // regular expression on the message
}

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

// ConnectivityCheck probes TCP from a pod to a host and port.
type ConnectivityCheck struct {
	FromNamespace string `yaml:"fromNamespace"`
	FromPod       string `yaml:"fromPod"`
	FromSelector  string `yaml:"fromSelector"`
	Host          string `yaml:"host"` // DNS name or IP
	Port          int    `yaml:"port"`
	Expect        string `yaml:"expect"` // allowed or blocked
}

// NodeCommandCheck runs a command on a node and matches its result.
type NodeCommandCheck struct {
	Node          string   `yaml:"node"`
	Command       []string `yaml:"command"` // absolute path first
	ExitCode      int      `yaml:"exitCode"`
	OutputMatches string   `yaml:"outputMatches"`
}

// NodesCheck looks at every node (or one): version, readiness, cordon, taints.
type NodesCheck struct {
	Node           string `yaml:"node"` // empty: every node
	KubeletVersion string `yaml:"kubeletVersion"`
	Ready          *bool  `yaml:"ready"`
	Schedulable    *bool  `yaml:"schedulable"`
	Taint          string `yaml:"taint"` // key[=value]:Effect that must be present
	NoTaint        string `yaml:"noTaint"`
}

// Duration is a time.Duration written as "20m".
type Duration struct {
	time.Duration
	bad string // the text, when it did not parse
}
