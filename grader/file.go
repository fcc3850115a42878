package grader

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"regexp"

	"go.yaml.in/yaml/v3"

	"github.com/ckalab/ckalab/labs"
)

// maxFileBytes bounds what a file check reads.
const maxFileBytes = 1 << 20

// file reads a node's file through the container engine (Target.ReadFile).
func (c *cluster) file(ctx context.Context, f *labs.FileCheck) (bool, string, any, error) {
	data, err := c.readNodeFile(ctx, f.Node, f.Path, maxFileBytes)
	mustExist := f.Exists == nil || *f.Exists
	ev := map[string]any{"node": f.Node, "path": f.Path}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		ev["exists"] = false
		if !mustExist {
			return true, "", ev, nil
		}
		return false, fmt.Sprintf("there is no file %s on %s", f.Path, f.Node), ev, nil
	case err != nil:
		return false, "", ev, err
	case !mustExist:
		ev["exists"] = true
		return false, fmt.Sprintf("%s on %s still exists", f.Path, f.Node), ev, nil
	}
	ev["exists"] = true
	if f.Query() == "" {
		if f.Matches != "" && !regexp.MustCompile(f.Matches).Match(data) {
			ev["content"] = tailString(string(data), 1000)
			return false, fmt.Sprintf("%s on %s does not match %s", f.Path, f.Node, f.Matches), ev, nil
		}
		return true, "", ev, nil
	}
	var doc any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return false, fmt.Sprintf("%s on %s is not valid YAML or JSON: %v", f.Path, f.Node, err), ev, nil
	}
	obj, ok := doc.(map[string]any)
	if !ok {
		return false, fmt.Sprintf("%s on %s does not hold a mapping", f.Path, f.Node), ev, nil
	}
	got, err := evalPath(f.Query(), obj)
	if err != nil {
		return false, "", ev, err
	}
	ev["value"] = got
	if f.Equals != nil && got != c.expand(*f.Equals) {
		return false, fmt.Sprintf("%s on %s: %s is %q, want %q", f.Path, f.Node, f.Query(), got, c.expand(*f.Equals)), ev, nil
	}
	if f.Matches != "" && !regexp.MustCompile(f.Matches).MatchString(got) {
		return false, fmt.Sprintf("%s on %s: %s is %q, which does not match %s", f.Path, f.Node, f.Query(), got, f.Matches), ev, nil
	}
	return true, "", ev, nil
}

// readNodeFile reads a file of the lab's node (control-plane, worker …).
func (c *cluster) readNodeFile(ctx context.Context, node, path string, limit int64) ([]byte, error) {
	if c.t.ReadFile == nil {
		return nil, errors.New("this grader cannot read node files")
	}
	name, ok := c.t.Nodes[node]
	if !ok {
		return nil, fmt.Errorf("no node %s in this cluster", node)
	}
	return c.t.ReadFile(ctx, name, path, limit)
}
