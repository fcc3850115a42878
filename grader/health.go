package grader

import (
	"context"
	"fmt"
	"time"
)

// Health is what an instructor sees of a student's cluster.
type Health struct {
	Reachable bool       `json:"reachable"`
	Problem   string     `json:"problem,omitempty"`
	Server    string     `json:"serverVersion,omitempty"`
	Nodes     []NodeInfo `json:"nodes"`
	Took      int64      `json:"tookMs"`
}

// Health asks the cluster's API server for its version and nodes.
func (g *Grader) Health(ctx context.Context, t Target) (h Health) {
	start := time.Now()
	h.Nodes = []NodeInfo{}
	defer func() { h.Took = time.Since(start).Milliseconds() }()
	c, err := connect(t)
	if err != nil {
		h.Problem = err.Error()
		return h
	}
	v, err := c.core.Discovery().ServerVersion()
	if err != nil {
		h.Problem = fmt.Sprintf("%s: the API server did not answer (%v)", ErrUnreachable, err)
		return h
	}
	h.Reachable, h.Server = true, v.GitVersion
	nodes, err := c.nodeInfos(ctx, "")
	if err != nil {
		h.Problem = "listing nodes: " + err.Error()
		return h
	}
	h.Nodes = nodes
	for _, n := range nodes {
		if !n.Ready && h.Problem == "" {
			h.Problem = "node " + n.Name + " is not Ready"
		}
	}
	return h
}
