package cluster

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"time"

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

// hangupWait bounds the hang-up inside the node: the pid file lives where
// the student is root (it may be a FIFO that never answers).
const hangupWait = 5 * time.Second

// Close kills the docker CLI, then hangs up the shell's process group in
// the container, within hangupWait.
func (s *Shell) Close() error {
	if s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
	}
	ctx, cancel := context.WithTimeout(context.Background(), hangupWait)
	defer cancel()
	hangup := exec.CommandContext(ctx, "docker", "exec", s.container, "timeout", "3", "sh", "-c",
		`kill -HUP -- -$(head -c 16 "$0") 2>/dev/null; rm -f "$0"`, s.pidFile)
	hangup.Env = s.env
	hangup.WaitDelay = time.Second
	_ = hangup.Run()
	return s.File.Close()
}
