package labs

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"testing/fstest"
)

func TestShippedLabsAreValid(t *testing.T) {
	all, err := LoadAll(".")
	if err != nil {
		t.Fatalf("shipped labs:\n%v", err)
	}
	if len(all) == 0 {
		t.Fatal("no labs found")
	}
	for _, l := range all {
		for _, task := range l.Tasks {
			if strings.TrimSpace(task.Markdown) == "" {
				t.Errorf("%s/%s: empty task text", l.ID, task.ID)
			}
		}
	}
}

func TestBrokenLabReportsEveryProblemWithItsLine(t *testing.T) {
	_, err := Load("testdata/broken")
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("want Problems, got %v", err)
	}
	want := map[int]string{ // line -> part of the message
		3:  `id "Broken_Lab"`,
		5:  `domain "networking"`,
		7:  `"20x" is not a duration`,
		8:  `unknown field "colour"`,
		12: `manifest missing.yaml: no such file`,
		16: `task text tasks/missing.md`,
		17: `task weight must be at least 1`,
		19: `a check has exactly one kind`,
		25: `node "worker3"`,
	}
	got := map[int]string{}
	for _, p := range ps {
		if !strings.HasSuffix(p.File, "testdata/broken/lab.yaml") {
			t.Errorf("problem without its file: %v", p)
		}
		got[p.Line] += p.Msg + " | "
	}
	for line, part := range want {
		if !strings.Contains(got[line], part) {
			t.Errorf("line %d: want %q, got %q\nall:\n%v", line, part, got[line], err)
		}
	}
	if len(ps) < 2 {
		t.Fatalf("want every problem at once, got %d:\n%v", len(ps), err)
	}
}

func TestSemanticProblemsAllAtOnce(t *testing.T) {
	// Fix the decode-level errors so semantic validation runs.
	l := &Lab{}
	v := &validator{file: "lab.yaml", fsys: os.DirFS("testdata/broken"), pos: map[string]int{
		"id": 3, "domain": 5, "setup[0].apply": 12, "tasks[0].text": 16, "tasks[0].weight": 17,
		"tasks[0].checks[0]": 19, "tasks[0].checks[1].nodeCommand.node": 25, "tasks[0].checks[1].nodeCommand.command": 25,
	}}
	l.APIVersion, l.Kind, l.ID, l.Title, l.Domain, l.Difficulty = APIVersion, "Lab", "Broken_Lab", "x", "networking", "medium"
	l.TimeLimit.Duration = 20 * 60e9
	l.Topology.Workers = 1
	l.Setup = []Step{{Apply: "missing.yaml"}}
	l.Solution = []Step{{Run: &Run{Node: "control-plane", Script: "true"}}}
	l.Tasks = []Task{{ID: "one", Title: "One", Text: "tasks/missing.md", Weight: 0, Checks: []Check{
		{ID: "two-kinds", Description: "d", Spec: &AccessCheck{User: "jane", Verb: "list", Resource: "pods"}, kinds: []string{"access", "nodes"}},
		{ID: "bad-node", Description: "d", Spec: &NodeCommandCheck{Node: "worker3", Command: []string{"ls"}}},
	}}}
	v.validate(l)
	msgs := v.problems.Error()
	for _, want := range []string{
		"lab.yaml:3: id", "lab.yaml:5: domain", "lab.yaml:12: manifest missing.yaml", "lab.yaml:16: task text",
		"lab.yaml:17: task weight", "lab.yaml:19: a check has exactly one kind", `lab.yaml:25: node "worker3"`, "lab.yaml:25: command must start",
	} {
		if !strings.Contains(msgs, want) {
			t.Errorf("missing %q in:\n%s", want, msgs)
		}
	}
}

func TestBuiltinLabsAreTheFolders(t *testing.T) {
	built, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	disk, err := LoadAll(".")
	if err != nil {
		t.Fatal(err)
	}
	if len(built) != len(disk) {
		t.Fatalf("binary has %d labs, the folder %d: check the go:embed patterns", len(built), len(disk))
	}
}

func TestNodeNamesByRole(t *testing.T) {
	got := NodeNamesByRole(map[string]string{"c-worker2": "worker", "c-control-plane": "control-plane", "c-worker": "worker"})
	want := map[string]string{"control-plane": "c-control-plane", "worker": "c-worker", "worker1": "c-worker", "worker2": "c-worker2"}
	if len(got) != len(want) {
		t.Fatalf("%v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("%v, want %v", got, want)
		}
	}
}

func TestGradingMistakesAreReportedWithTheirLines(t *testing.T) {
	_, err := Load("testdata/broken-grading")
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("want Problems, got %v", err)
	}
	want := map[int]string{ // line -> part of the message
		18: "a selector check needs an assertion",
		21: "a jsonPath needs equals or matches",
		24: "check weight must be positive",
		29: `requires "two/nothing": no such check`,
		33: "path must be absolute",
		36: `etcd key "registry/pods": keys start with /`,
		39: "http runs from a pod",
		42: `type "ZZ"`,
		45: "certificate reads a file (node and path) or a Secret",
		48: "helmRelease needs namespace and release",
		53: "a bot needs a description",
		55: `bot id "empty" is used twice`,
		58: `node "worker2": the topology has 1 worker(s)`,
	}
	got := map[int]string{}
	for _, p := range ps {
		got[p.Line] += p.Msg + " | "
	}
	for line, part := range want {
		if !strings.Contains(got[line], part) {
			t.Errorf("line %d: want %q, got %q\nall:\n%v", line, part, got[line], err)
		}
	}
	if !strings.Contains(err.Error(), "through a cycle") {
		t.Errorf("the a/b cycle is not reported:\n%v", err)
	}
	if !strings.Contains(err.Error(), "a bot needs steps") {
		t.Errorf("a bot without steps is not reported:\n%v", err)
	}
}

func TestLabsThatShareClustersHaveTheirOwnNamespaces(t *testing.T) {
	lab := func(id, namespaces string) string {
		return minimalLab(id, "competencies: [persistent-volumes]\n", "  namespaces: "+namespaces+"\n")
	}
	fsys := fstest.MapFS{
		"one/lab.yaml": {Data: []byte(lab("one", "[shop, web]"))}, "one/t.md": {Data: []byte("x")},
		"two/lab.yaml": {Data: []byte(lab("two", "[web]"))}, "two/t.md": {Data: []byte("x")},
		"three/lab.yaml": {Data: []byte(lab("three", "[kube-system, Bad_Name, dev, dev]"))}, "three/t.md": {Data: []byte("x")},
	}
	_, err := LoadFS(fsys, "labs")
	msgs := fmt.Sprint(err)
	for _, want := range []string{
		`labs/two/lab.yaml:11: topology.namespaces: "web" is also confined to lab one`,
		`labs/three/lab.yaml:11: namespace "kube-system" belongs to the cluster`,
		`labs/three/lab.yaml:11: namespace "Bad_Name" is not a valid name`,
		`labs/three/lab.yaml:11: namespace "dev" is listed twice`,
	} {
		if !strings.Contains(msgs, want) {
			t.Errorf("missing %q in:\n%s", want, msgs)
		}
	}
	confined := minimalLab("four", "competencies: [persistent-volumes]\n", "  namespaces: [four]\n") + `shortcuts:
  - id: on-the-worker
    description: d
    steps: [{run: {node: worker, script: "true"}}]
`
	_, err = LoadFS(fstest.MapFS{"four/lab.yaml": {Data: []byte(confined)}, "four/t.md": {Data: []byte("x")}}, "labs")
	if want := "labs/four/lab.yaml:26: runs on worker: a lab confined to topology.namespaces shares its cluster"; !strings.Contains(fmt.Sprint(err), want) {
		t.Errorf("want %q, got:\n%v", want, err)
	}
	nodesCheck := strings.Replace(minimalLab("five", "competencies: [persistent-volumes]\n", "  namespaces: [five]\n"),
		"resource: {apiVersion: v1, kind: ConfigMap, namespace: a, name: x, exists: true}", "nodes: {node: worker, ready: true}", 1)
	_, err = LoadFS(fstest.MapFS{"five/lab.yaml": {Data: []byte(nodesCheck)}, "five/t.md": {Data: []byte("x")}}, "labs")
	if want := "labs/five/lab.yaml:18: a nodes check looks at what every lab on the cluster shares"; !strings.Contains(fmt.Sprint(err), want) {
		t.Errorf("want %q, got:\n%v", want, err)
	}
	if strings.Contains(msgs, "labs/one/") {
		t.Errorf("the first lab to claim a namespace is fine:\n%s", msgs)
	}
	fine, err := LoadFS(fstest.MapFS{"one/lab.yaml": {Data: []byte(lab("one", "[shop]"))}, "one/t.md": {Data: []byte("x")}}, "labs")
	if err != nil || !fine[0].Topology.Shareable() {
		t.Fatalf("a confined lab: %v", err)
	}
}

// minimalLab is a valid lab.yaml with extra lines after difficulty (head)
// and in topology.
func minimalLab(id, head, topology string) string {
	return `apiVersion: ckalab.dev/v1alpha1
kind: Lab
id: ` + id + `
title: T
domain: storage
difficulty: easy
` + head + `timeLimit: 10m
topology:
  workers: 1
` + topology + `tasks:
  - id: one
    title: One
    text: t.md
    weight: 1
    checks:
      - id: c
        description: d
        resource: {apiVersion: v1, kind: ConfigMap, namespace: a, name: x, exists: true}
solution:
  - run: {node: control-plane, script: "true"}
`
}
