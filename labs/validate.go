package labs

import (
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strings"
	"time"
)

var (
	nsRe   = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	idRe   = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,40}[a-z0-9])?$`)
	nodeRe = regexp.MustCompile(`^(control-plane|worker[0-9]*)$`)
)

// validate checks meaning: required fields, references to files, one
// check kind per check, sane values.
func (v *validator) validate(l *Lab) {
	if l.APIVersion != APIVersion {
		v.at("apiVersion", "apiVersion must be %s", APIVersion)
	}
	if l.Kind != "Lab" {
		v.at("kind", "kind must be Lab")
	}
	if !idRe.MatchString(l.ID) {
		v.at("id", "id %q: use lowercase letters, digits and dashes", l.ID)
	}
	if strings.TrimSpace(l.Title) == "" {
		v.at("title", "title is required")
	}
	if _, ok := Domains[l.Domain]; !ok {
		v.at("domain", "domain %q: want one of %s", l.Domain, keys(Domains))
	}
	switch l.Difficulty {
	case "easy", "medium", "hard":
	default:
		v.at("difficulty", "difficulty %q: want easy, medium or hard", l.Difficulty)
	}
	if len(l.Competencies) == 0 {
		v.at("competencies", "competencies is required: the curriculum competencies the lab trains (ids in docs/curriculum.md)")
	}
	listed := map[string]bool{}
	for i, c := range l.Competencies {
		p := fmt.Sprintf("competencies[%d]", i)
		switch {
		case competencyDomain[c] == nil:
			v.at(p, "competency %q: want one of %s", c, competencyIDs())
		case listed[c]:
			v.at(p, "competency %q is listed twice", c)
		}
		listed[c] = true
	}
	if l.TimeLimit.bad != "" {
		v.at("timeLimit", "timeLimit %q is not a duration (e.g. 20m, 1h30m)", l.TimeLimit.bad)
	} else if l.TimeLimit.Duration < time.Minute || l.TimeLimit.Duration > 4*time.Hour {
		v.at("timeLimit", "timeLimit must be between 1m and 4h")
	}
	if l.Topology.Workers < 0 || l.Topology.Workers > 4 {
		v.at("topology.workers", "topology.workers must be 0 to 4")
	}
	seen := map[string]bool{}
	for i, ns := range l.Topology.Namespaces {
		p := fmt.Sprintf("topology.namespaces[%d]", i)
		switch {
		case !nsRe.MatchString(ns):
			v.at(p, "namespace %q is not a valid name (lowercase letters, digits and dashes)", ns)
		case systemNamespaces[ns] || strings.HasPrefix(ns, "kube-"):
			v.at(p, "namespace %q belongs to the cluster, not to a lab: a lab that changes it needs a cluster of its own (remove topology.namespaces)", ns)
		case seen[ns]:
			v.at(p, "namespace %q is listed twice", ns)
		}
		seen[ns] = true
	}
	l.Topology.namespacesLine = v.pos["topology.namespaces"]
	v.confined = l.Topology.Shareable()
	v.steps("setup", l.Setup, l.Topology.Workers)
	v.steps("solution", l.Solution, l.Topology.Workers)
	if len(l.Solution) == 0 {
		v.at("solution", "solution is required: the solution bot proves the lab with it")
	}
	botIDs := map[string]bool{}
	for _, group := range []struct {
		name string
		bots []Bot
	}{{"shortcuts", l.Shortcuts}, {"alternatives", l.Alternatives}} {
		for i, b := range group.bots {
			p := fmt.Sprintf("%s[%d]", group.name, i)
			if !idRe.MatchString(b.ID) {
				v.at(p+".id", "bot id %q: use lowercase letters, digits and dashes", b.ID)
			} else if botIDs[b.ID] {
				v.at(p+".id", "bot id %q is used twice", b.ID)
			}
			botIDs[b.ID] = true
			if strings.TrimSpace(b.Description) == "" {
				v.at(p+".description", "a bot needs a description: what it does, and why it should (not) pass")
			}
			if len(b.Steps) == 0 {
				v.at(p+".steps", "a bot needs steps")
			}
			v.steps(p+".steps", b.Steps, l.Topology.Workers)
		}
	}
	if len(l.Tasks) == 0 {
		v.at("tasks", "at least one task is required")
	}
	taskIDs := map[string]bool{}
	for i := range l.Tasks {
		t := &l.Tasks[i]
		p := fmt.Sprintf("tasks[%d]", i)
		if !idRe.MatchString(t.ID) {
			v.at(p+".id", "task id %q: use lowercase letters, digits and dashes", t.ID)
		}
		if taskIDs[t.ID] {
			v.at(p+".id", "task id %q is used twice", t.ID)
		}
		taskIDs[t.ID] = true
		if t.Title == "" {
			v.at(p+".title", "task title is required")
		}
		if t.Weight < 1 {
			v.at(p+".weight", "task weight must be at least 1")
		}
		if t.Text == "" {
			v.at(p+".text", "task text (a Markdown file) is required")
		} else if b, err := fs.ReadFile(v.fsys, t.Text); err != nil {
			v.at(p+".text", "task text %s: %v", t.Text, shortErr(err))
		} else {
			t.Markdown = string(b)
		}
		if len(t.Checks) == 0 {
			v.at(p+".checks", "task %q has no checks", t.ID)
		}
		checkIDs := map[string]bool{}
		for j := range t.Checks {
			v.check(fmt.Sprintf("%s.checks[%d]", p, j), &t.Checks[j], checkIDs, l.Topology.Workers)
		}
	}
	v.requires(l)
}

// requires resolves every check's requirements (task/check, or a check
// of the same task) and refuses cycles: a check in one never counts.
// sharesItsCluster is why a confined lab may not touch nodes.
const sharesItsCluster = "a lab confined to topology.namespaces shares its cluster"

// systemNamespaces are shared by every lab on a cluster: a lab confined
// to namespaces cannot claim them.
var systemNamespaces = map[string]bool{"kube-system": true, "kube-public": true,
	"kube-node-lease": true, "local-path-storage": true}

func (v *validator) requires(l *Lab) {
	known := map[string]bool{}
	for _, t := range l.Tasks {
		for _, c := range t.Checks {
			known[t.ID+"/"+c.ID] = true
		}
	}
	edges := map[string][]string{}
	for i, t := range l.Tasks {
		for j, c := range t.Checks {
			for k, r := range c.Requires {
				full := RequiredCheck(t.ID, r)
				if !known[full] {
					v.at(fmt.Sprintf("tasks[%d].checks[%d].requires[%d]", i, j, k), "requires %q: no such check (a check id of this task, or task/check)", r)
					continue
				}
				edges[t.ID+"/"+c.ID] = append(edges[t.ID+"/"+c.ID], full)
			}
		}
	}
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(n string) bool
	visit = func(n string) bool {
		switch state[n] {
		case 1:
			return false
		case 2:
			return true
		}
		state[n] = 1
		for _, m := range edges[n] {
			if !visit(m) {
				return false
			}
		}
		state[n] = 2
		return true
	}
	for i, t := range l.Tasks {
		for j, c := range t.Checks {
			if len(c.Requires) > 0 && !visit(t.ID+"/"+c.ID) {
				v.at(fmt.Sprintf("tasks[%d].checks[%d].requires", i, j), "check %s/%s requires itself through a cycle: it could never count", t.ID, c.ID)
				return
			}
		}
	}
}

// RequiredCheck is the task/check a requirement written in task names.
func RequiredCheck(task, req string) string {
	if strings.Contains(req, "/") {
		return req
	}
	return task + "/" + req
}

func (v *validator) steps(path string, steps []Step, workers int) {
	for i, s := range steps {
		p := fmt.Sprintf("%s[%d]", path, i)
		n := 0
		if s.Apply != "" {
			n++
			if _, err := fs.Stat(v.fsys, s.Apply); err != nil {
				v.at(p+".apply", "manifest %s: %v", s.Apply, shortErr(err))
			}
		}
		if s.Manifest != "" {
			n++
		}
		if s.Run != nil {
			n++
			v.node(p+".run.node", s.Run.Node, workers)
			if v.confined && s.Run.Node != "control-plane" {
				v.at(p+".run.node", "runs on %s: %s, so it works on the control plane only (or remove topology.namespaces)", s.Run.Node, sharesItsCluster)
			}
			if strings.TrimSpace(s.Run.Script) == "" {
				v.at(p+".run.script", "run needs a script")
			}
		}
		if n != 1 {
			v.at(p, "a step has exactly one of apply, manifest or run")
		}
	}
}

func (v *validator) node(path, node string, workers int) {
	if !nodeRe.MatchString(node) {
		v.at(path, "node %q: want control-plane, worker, worker2 …", node)
		return
	}
	if node == "control-plane" {
		return
	}
	idx := 1
	if rest := strings.TrimPrefix(node, "worker"); rest != "" {
		fmt.Sscan(rest, &idx)
	}
	if idx > workers {
		v.at(path, "node %q: the topology has %d worker(s)", node, workers)
	}
}

func keys(m map[string]string) string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

func shortErr(err error) string {
	if errors.Is(err, fs.ErrNotExist) {
		return "no such file in the lab folder"
	}
	return err.Error()
}

func (v *validator) regexp(path, re string, required bool) {
	if re == "" {
		if required {
			v.at(path, "a regular expression is required")
		}
		return
	}
	if _, err := regexp.Compile(re); err != nil {
		v.at(path, "%v", err)
	}
}
