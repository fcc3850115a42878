package cluster

import (
	"fmt"
	"log/slog"

	kindlog "sigs.k8s.io/kind/pkg/log"
)

// kindLogger sends kind's progress ("Starting control-plane", …) to slog.
type kindLogger struct{ log *slog.Logger }

func (l kindLogger) Warn(msg string)                          { l.log.Warn(msg, "from", "kind") }
func (l kindLogger) Warnf(f string, args ...any)              { l.Warn(fmt.Sprintf(f, args...)) }
func (l kindLogger) Error(msg string)                         { l.log.Error(msg, "from", "kind") }
func (l kindLogger) Errorf(f string, args ...any)             { l.Error(fmt.Sprintf(f, args...)) }
func (l kindLogger) V(level kindlog.Level) kindlog.InfoLogger { return kindInfo{l.log, level} }

type kindInfo struct {
	log   *slog.Logger
	level kindlog.Level
}

// Level 0 is kind's user-facing status; deeper levels are debug detail.
func (i kindInfo) Enabled() bool { return i.level <= 1 }
func (i kindInfo) Info(msg string) {
	if i.Enabled() {
		i.log.Info(msg, "from", "kind")
	}
}
func (i kindInfo) Infof(f string, args ...any) { i.Info(fmt.Sprintf(f, args...)) }
