package grader

import (
	"context"
	"fmt"
	"regexp"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ckalab/ckalab/labs"
)

// logs matches the last 5000 lines of a pod's log.
func (c *cluster) logs(ctx context.Context, l *labs.LogsCheck) (bool, string, any, error) {
	pods := c.core.CoreV1().Pods(l.Namespace)
	name := c.expand(l.Pod)
	if name == "" {
		list, err := pods.List(ctx, metav1.ListOptions{LabelSelector: c.expand(l.Selector)})
		if err != nil {
			return false, "", nil, err
		}
		if len(list.Items) == 0 {
			return false, fmt.Sprintf("no pod with labels %s in %s", l.Selector, l.Namespace), nil, nil
		}
		// A running pod first: a crashed or finished one with the same
		// labels must not stand in for it.
		name = list.Items[0].Name
		for _, p := range list.Items {
			if p.Status.Phase == corev1.PodRunning {
				name = p.Name
				break
			}
		}
	}
	tail := int64(5000)
	raw, err := pods.GetLogs(name, &corev1.PodLogOptions{Container: l.Container, TailLines: &tail}).DoRaw(ctx)
	if err != nil {
		return false, fmt.Sprintf("no log from pod %s/%s: %v", l.Namespace, name, err), nil, nil
	}
	ev := map[string]any{"pod": name, "tail": tailString(string(raw), 1000)}
	if !regexp.MustCompile(l.Matches).Match(raw) {
		return false, fmt.Sprintf("the log of %s/%s does not show %s", l.Namespace, name, l.Matches), ev, nil
	}
	return true, "", ev, nil
}
