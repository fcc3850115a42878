package provision

import (
	"fmt"
	"strconv"
	"strings"
)

// Topology is a cluster's shape: one control plane and some workers.
// Written "1cp" or "1cp-2w".
type Topology struct{ Workers int }

func (t Topology) String() string {
	if t.Workers == 0 {
		return "1cp"
	}
	return fmt.Sprintf("1cp-%dw", t.Workers)
}

// ParseTopology reads "1cp" or "1cp-<n>w" (0 ≤ n ≤ 4).
func ParseTopology(s string) (Topology, error) {
	if s == "1cp" {
		return Topology{}, nil
	}
	rest, ok := strings.CutPrefix(s, "1cp-")
	if ok {
		if n, err := strconv.Atoi(strings.TrimSuffix(rest, "w")); err == nil && strings.HasSuffix(rest, "w") && n >= 0 && n <= 4 {
			return Topology{Workers: n}, nil
		}
	}
	return Topology{}, fmt.Errorf("topology %q: want 1cp or 1cp-<workers>w with 0 to 4 workers", s)
}
