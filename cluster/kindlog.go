package cluster

import (
	"fmt"
	"io"
	"log/slog"
	"strings"

	kindlog "sigs.k8s.io/kind/pkg/log"
)

// kindLogger sends kind's status lines ("Starting control-plane", …) to
// slog and to progress, and everything kind says to out.
type kindLogger struct {
	log      *slog.Logger
	out      io.Writer
	progress func(string)
}

func (l kindLogger) write(level, msg string) {
	if l.out != nil {
		fmt.Fprintf(l.out, "%s %s\n", level, strings.TrimSpace(msg))
	}
}

func (l kindLogger) Warn(msg string)                          { l.write("W", msg); l.log.Warn(msg, "from", "kind") }
func (l kindLogger) Warnf(f string, args ...any)              { l.Warn(fmt.Sprintf(f, args...)) }
func (l kindLogger) Error(msg string)                         { l.write("E", msg); l.log.Error(msg, "from", "kind") }
func (l kindLogger) Errorf(f string, args ...any)             { l.Error(fmt.Sprintf(f, args...)) }
func (l kindLogger) V(level kindlog.Level) kindlog.InfoLogger { return kindInfo{l, level} }

type kindInfo struct {
	l     kindLogger
	level kindlog.Level
}

// Level 0 is kind's user-facing status; deeper levels are debug detail,
// kept in the cluster's own log only.
func (i kindInfo) Enabled() bool { return i.level == 0 || i.l.out != nil }
func (i kindInfo) Info(msg string) {
	i.l.write(fmt.Sprintf("I%d", i.level), msg)
	msg = strings.TrimSpace(msg)
	if i.level > 0 || msg == "" {
		return
	}
	status := strings.TrimSpace(strings.TrimRight(strings.TrimLeft(msg, "•✓✗ "), ". "))
	i.l.log.Info(status, "from", "kind")
	// kind prints "• step ..." when a step starts and "✓ step" or "✗ step" when it ends.
	if i.l.progress != nil && strings.HasPrefix(msg, "•") {
		i.l.progress(status)
	}
	if i.l.progress != nil && strings.HasPrefix(msg, "✗") {
		i.l.progress("failed: " + status)
	}
}
func (i kindInfo) Infof(f string, args ...any) { i.Info(fmt.Sprintf(f, args...)) }
