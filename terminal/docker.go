package terminal

import (
	"context"
	"fmt"
	"os"
	"os/exec"

	"github.com/creack/pty"
)

// DockerLauncher runs shells with `docker exec -it` inside node containers.
type DockerLauncher struct{}

// Launch starts `bash -l` as root in /root with a TERM xterm.js speaks.
// The shell writes its pid to /run/ckalab-terminal-<id>.pid so Close can
// hang it up inside the container (killing the docker CLI alone would
// leave it running there).
func (DockerLauncher) Launch(ctx context.Context, id, container string, cols, rows uint16) (Process, error) {
	pidFile := "/run/ckalab-terminal-" + id + ".pid"
	cmd := exec.Command("docker", "exec", "-it", "-e", "TERM=xterm-256color", "-w", "/root", container,
		"bash", "-c", `echo $$ > `+pidFile+`; exec bash -l`)
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Cols: cols, Rows: rows})
	if err != nil {
		return nil, fmt.Errorf("docker exec into %s: %w", container, err)
	}
	return &dockerShell{File: f, cmd: cmd, container: container, pidFile: pidFile}, nil
}

type dockerShell struct {
	*os.File
	cmd       *exec.Cmd
	container string
	pidFile   string
}

func (d *dockerShell) Resize(cols, rows uint16) error {
	return pty.Setsize(d.File, &pty.Winsize{Cols: cols, Rows: rows})
}

func (d *dockerShell) Wait() error { return d.cmd.Wait() }

// Close hangs up the shell's process group in the container, then the
// docker CLI.
func (d *dockerShell) Close() error {
	_ = exec.Command("docker", "exec", d.container, "sh", "-c",
		`kill -HUP -- -$(cat `+d.pidFile+`) 2>/dev/null; rm -f `+d.pidFile).Run()
	if d.cmd.Process != nil {
		_ = d.cmd.Process.Kill()
	}
	return d.File.Close()
}
