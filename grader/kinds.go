package grader

import (
	"context"
	"fmt"

	"github.com/ckalab/ckalab/labs"
)

// checker runs one kind of check: passed, the student's message (empty:
// the check's description), evidence for instructors, or an error that
// stopped the check.
type checker func(ctx context.Context, c *cluster, spec labs.CheckSpec) (passed bool, msg string, evidence any, err error)

// checkers run each kind of check, by its key in lab.yaml (labs.CheckKinds).
func checkers() map[string]checker {
	return map[string]checker{
		"resource":     kind((*cluster).resource),
		"access":       kind((*cluster).access),
		"connectivity": kind((*cluster).connectivity),
		"nodeCommand":  kind((*cluster).nodeCommand),
		"nodes":        kind((*cluster).nodes),
		"logs":         kind((*cluster).logs),
		"events":       kind((*cluster).events),
		"file":         kind((*cluster).file),
		"etcdSnapshot": kind((*cluster).etcdSnapshot),
		"http":         kind((*cluster).http),
		"certificate":  kind((*cluster).certificate),
		"helmRelease":  kind((*cluster).helmRelease),
		"dns":          kind((*cluster).dns),
		"kubeconfig":   kind((*cluster).kubeconfig),
	}
}

// kind adapts a check's run method to a checker.
func kind[S labs.CheckSpec](run func(*cluster, context.Context, S) (bool, string, any, error)) checker {
	return func(ctx context.Context, c *cluster, spec labs.CheckSpec) (bool, string, any, error) {
		s, ok := spec.(S)
		if !ok {
			var want S
			return false, "", nil, fmt.Errorf("check kind %s: fields of type %T, want %T", spec.CheckKind(), spec, want)
		}
		return run(c, ctx, s)
	}
}
