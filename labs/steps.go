package labs

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"sort"
	"strings"
)

// Exec runs a command in a node container of the lab's cluster, and
// refuses any other (cluster.Manager.In).
type Exec func(ctx context.Context, node string, stdin io.Reader, command ...string) ([]byte, error)

// RunSteps runs setup or solution steps on a cluster: manifests are
// applied as the cluster admin on the control plane; scripts run with
// bash as root on their node, with KUBECONFIG set to the admin's. nodes
// maps control-plane, worker, worker2 … to node container names.
func (l *Lab) RunSteps(ctx context.Context, steps []Step, nodes map[string]string, exec Exec) error {
	cp := nodes["control-plane"]
	for i, s := range steps {
		var err error
		switch {
		case s.Apply != "", s.Manifest != "":
			manifest, rerr := l.Manifest(s)
			if rerr != nil {
				return fmt.Errorf("step %d: %w", i+1, rerr)
			}
			_, err = exec(ctx, cp, strings.NewReader(manifest), "kubectl", "--kubeconfig=/etc/kubernetes/admin.conf", "apply", "-f", "-")
		case s.Run != nil:
			node, ok := nodes[s.Run.Node]
			if !ok {
				return fmt.Errorf("step %d: no node %s in this cluster", i+1, s.Run.Node)
			}
			script := "set -euo pipefail\nexport KUBECONFIG=/etc/kubernetes/admin.conf\n" + s.Run.Script
			_, err = exec(ctx, node, strings.NewReader(script), "bash", "-s")
		}
		if err != nil {
			return fmt.Errorf("lab %s step %d: %w", l.ID, i+1, err)
		}
	}
	return nil
}

// NodeNames maps a lab's node names to a cluster's node containers, given
// the control plane's name and the workers' names in order.
func NodeNames(controlPlane string, workers []string) map[string]string {
	m := map[string]string{"control-plane": controlPlane}
	for i, w := range workers {
		if i == 0 {
			m["worker"] = w
		}
		m[fmt.Sprintf("worker%d", i+1)] = w
	}
	return m
}

// NodeNamesByRole maps a lab's node names to a cluster's node containers,
// given each container's role (control-plane or worker); workers in name order.
func NodeNamesByRole(roles map[string]string) map[string]string {
	var cp string
	var workers []string
	for name, role := range roles {
		if role == "control-plane" {
			cp = name
		} else {
			workers = append(workers, name)
		}
	}
	sort.Strings(workers)
	return NodeNames(cp, workers)
}

// Manifest is the manifest a step applies, inline or from its file.
func (l *Lab) Manifest(s Step) (string, error) {
	if s.Apply == "" {
		return s.Manifest, nil
	}
	b, err := fs.ReadFile(l.fsys, s.Apply)
	return string(b), err
}
