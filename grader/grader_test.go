package grader_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ckalab/ckalab/grader"
	"github.com/ckalab/ckalab/labs"
)

func TestUnreachableClusterFailsEveryCheckWithAReason(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	kubeconfig := `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://` + addr + `", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`
	lab, err := labs.Load("../labs/rbac-developer")
	if err != nil {
		t.Fatal(err)
	}
	g := grader.New(slog.New(slog.NewTextHandler(io.Discard, nil)))
	start := time.Now()
	rep := g.Grade(context.Background(), lab, grader.Target{Kubeconfig: []byte(kubeconfig)})
	if time.Since(start) > 15*time.Second {
		t.Fatalf("grading an unreachable cluster took %s", time.Since(start))
	}
	checks := 0
	for _, task := range lab.Tasks {
		checks += len(task.Checks)
	}
	if rep.Score != 0 || rep.MaxScore != 5 || len(rep.Results) != checks {
		t.Fatalf("report %+v", rep)
	}
	for _, r := range rep.Results {
		if r.Passed || !strings.Contains(r.Message, "cluster unreachable") {
			t.Fatalf("result %+v", r)
		}
	}
}
