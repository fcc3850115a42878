package grader

import (
	"context"
	"fmt"
	"regexp"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"

	"github.com/ckalab/ckalab/labs"
)

// events looks for an event about an object with a reason and message.
func (c *cluster) events(ctx context.Context, e *labs.EventsCheck) (bool, string, any, error) {
	sel := fields.Set{"involvedObject.kind": e.Kind, "involvedObject.name": c.expand(e.Name)}
	if e.Reason != "" {
		sel["reason"] = e.Reason
	}
	list, err := c.core.CoreV1().Events(e.Namespace).List(ctx, metav1.ListOptions{FieldSelector: sel.AsSelector().String()})
	if err != nil {
		return false, "", nil, err
	}
	var seen []string
	for _, ev := range list.Items {
		seen = append(seen, ev.Reason+": "+ev.Message)
		if e.Matches == "" || regexp.MustCompile(e.Matches).MatchString(ev.Message) {
			return true, "", map[string]any{"event": ev.Reason + ": " + ev.Message}, nil
		}
	}
	what := e.Kind + " " + e.Name
	if e.Reason != "" {
		what = e.Reason + " event for " + what
	} else {
		what = "event for " + what
	}
	return false, fmt.Sprintf("no %s matching %q", what, e.Matches), map[string]any{"events": seen}, nil
}
