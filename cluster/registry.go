package cluster

import (
	"context"
	"fmt"
	"strings"
)

// RegistryPort is where each cluster's registry listens on its control plane.
const RegistryPort = 5000

// startRegistry starts the cluster's own registry on its control plane
// (ckalab-registry.service, seeded at image build with the workload
// images) and points every node's containerd at it: docker.io images are
// pulled through it, and <control-plane>:5000 takes pushes over plain
// HTTP. An image it lacks is looked for upstream and fails offline, with
// ImagePullBackOff, as a typo does on a real cluster. Node images without
// the registry (kindest/node) are left as they are.
func (m *Manager) startRegistry(ctx context.Context, c *Cluster) error {
	cp := ""
	for _, n := range c.Nodes {
		if n.Role == "control-plane" && cp == "" {
			cp = n.Name
		}
	}
	if cp == "" {
		return fmt.Errorf("cluster %s has no control-plane node", c.Name)
	}
	if _, err := m.Exec(ctx, c.Name, cp, nil, "test", "-x", "/usr/local/bin/registry"); err != nil {
		m.log.Info("node image has no registry; pulls go upstream", "cluster", c.Name)
		return nil
	}
	if _, err := m.Exec(ctx, c.Name, cp, nil, "systemctl", "enable", "--now", "ckalab-registry.service"); err != nil {
		return fmt.Errorf("starting the registry of %s: %w", c.Name, err)
	}
	addr := fmt.Sprintf("%s:%d", cp, RegistryPort)
	files := map[string]string{
		"docker.io": fmt.Sprintf("server = \"https://registry-1.docker.io\"\n\n[host.\"http://%s\"]\n  capabilities = [\"pull\", \"resolve\"]\n", addr),
		addr:        fmt.Sprintf("server = \"http://%s\"\n\n[host.\"http://%s\"]\n  capabilities = [\"pull\", \"resolve\", \"push\"]\n", addr, addr),
	}
	for _, n := range c.Nodes {
		for host, content := range files {
			dir := "/etc/containerd/certs.d/" + host
			if _, err := m.Exec(ctx, c.Name, n.Name, strings.NewReader(content), "sh", "-c", `mkdir -p "$0" && cat > "$0/hosts.toml"`, dir); err != nil {
				return fmt.Errorf("pointing %s at the registry: %w", n.Name, err)
			}
		}
	}
	return nil
}
