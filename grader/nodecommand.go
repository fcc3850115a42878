package grader

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/ckalab/ckalab/labs"
)

// nodeCommand runs the command in the node container and reads its exit
// status from a marker (docker exec's own error hides it).
func (c *cluster) nodeCommand(ctx context.Context, n *labs.NodeCommandCheck) (bool, string, any, error) {
	node := c.t.Nodes[n.Node]
	args := append([]string{"/bin/sh", "-c", `"$@"; echo "ckalab-exit=$?"`, "sh"}, n.Command...)
	out, err := c.t.Exec(ctx, node, nil, args...)
	text := string(out)
	i := strings.LastIndex(text, "ckalab-exit=")
	if i < 0 {
		return false, "", nil, fmt.Errorf("running %s on %s: %v", n.Command[0], n.Node, err)
	}
	code, _ := strconv.Atoi(strings.TrimSpace(text[i+len("ckalab-exit="):]))
	output := text[:i]
	ev := map[string]any{"exitCode": code, "output": tailString(output, 2000)}
	if code != n.ExitCode {
		return false, fmt.Sprintf("%s exited with %d, want %d", strings.Join(n.Command, " "), code, n.ExitCode), ev, nil
	}
	if n.OutputMatches != "" && !regexp.MustCompile(n.OutputMatches).MatchString(output) {
		return false, fmt.Sprintf("the output of %s does not match %s", strings.Join(n.Command, " "), n.OutputMatches), ev, nil
	}
	return true, "", ev, nil
}

func tailString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
