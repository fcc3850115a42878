package cluster

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// shareSSHKeys gives root on every node one key pair, authorised on every
// node, and a known_hosts listing every node's host key: `ssh <node>` works
// between the cluster's nodes, as on the exam. Each cluster gets its own keys.
func (m *Manager) shareSSHKeys(ctx context.Context, c *Cluster) error {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return fmt.Errorf("ssh key: %w", err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "root@"+c.Name)
	if err != nil {
		return fmt.Errorf("ssh key: %w", err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return fmt.Errorf("ssh key: %w", err)
	}
	authorized := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub))) + " root@" + c.Name + "\n"

	var known strings.Builder
	for _, n := range c.Nodes {
		hostKey, err := m.hostKey(ctx, c.Name, n.Name)
		if err != nil {
			return err
		}
		fmt.Fprintf(&known, "%s,%s %s\n", n.Name, n.IP, hostKey)
	}
	files := map[string]string{
		"id_ed25519":      string(pem.EncodeToMemory(block)),
		"id_ed25519.pub":  authorized,
		"authorized_keys": authorized,
		"known_hosts":     known.String(),
	}
	for _, n := range c.Nodes {
		for name, content := range files {
			script := fmt.Sprintf("umask 077 && mkdir -p /root/.ssh && cat > /root/.ssh/%s", name)
			if _, err := m.Exec(ctx, c.Name, n.Name, strings.NewReader(content), "sh", "-c", script); err != nil {
				return fmt.Errorf("sharing ssh keys: %w", err)
			}
		}
	}
	return nil
}

// hostKey waits for the node's sshd to make its host key at first boot.
func (m *Manager) hostKey(ctx context.Context, cluster, node string) (string, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := m.Exec(ctx, cluster, node, nil, "cat", "/etc/ssh/ssh_host_ed25519_key.pub")
		if err == nil {
			fields := strings.Fields(string(out))
			if len(fields) >= 2 {
				return fields[0] + " " + fields[1], nil
			}
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("no ssh host key on %s after 30s: %v", node, err)
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}
