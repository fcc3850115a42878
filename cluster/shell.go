package cluster

import (
	"context"
	"fmt"
	"os"
	"os/exec"

	"github.com/creack/pty"
)

// Shell is an interactive login shell in a node container, on a pty.
type Shell struct {
	*os.File
	cmd       *exec.Cmd
	container string
	pidFile   string
	env       []string
}

// Shell starts `bash -l` as root in /root, with a TERM xterm.js speaks, in
// one of cluster's node containers (others are refused with ErrNotFound).
// id names the shell: it writes its pid to /run/ckalab-terminal-<id>.pid so
// Close can hang it up inside the container (killing the docker CLI alone
// would leave it running there).
func (m *Manager) Shell(ctx context.Context, cluster, node, id string, cols, rows uint16) (*Shell, error) {
	n, err := m.node(cluster, node)
	if err != nil {
		return nil, err
	}
	pidFile := "/run/ckalab-terminal-" + id + ".pid"
	cmd := exec.Command("docker", "exec", "-it", "-e", "TERM=xterm-256color", "-w", "/root", n.String(),
		"bash", "-c", `echo $$ > "$0"; exec bash -l`, pidFile)
	cmd.Env = m.engine.environ()
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Cols: cols, Rows: rows})
	if err != nil {
		return nil, fmt.Errorf("docker exec into %s: %w", node, err)
	}
	return &Shell{File: f, cmd: cmd, container: n.String(), pidFile: pidFile, env: cmd.Env}, nil
}

// Resize sets the pty's size.
func (s *Shell) Resize(cols, rows uint16) error {
	return pty.Setsize(s.File, &pty.Winsize{Cols: cols, Rows: rows})
}

// Wait returns when the shell has exited.
func (s *Shell) Wait() error { return s.cmd.Wait() }

// Close hangs up the shell's process group in the container, then the
// docker CLI.
func (s *Shell) Close() error {
	hangup := exec.Command("docker", "exec", s.container, "sh", "-c",
		`kill -HUP -- -$(cat "$0") 2>/dev/null; rm -f "$0"`, s.pidFile)
	hangup.Env = s.env
	_ = hangup.Run()
	if s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
	}
	return s.File.Close()
}
