package pgserver

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// A server whose owner died (kill -9 of ckalab) is adopted by the next
// Start and stopped by its Stop; a live owner's server is only attached.
func TestAdoptsTheServerADeadOwnerLeft(t *testing.T) {
	dir, err := os.MkdirTemp("", "ckalab-pgserver-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	_ = os.Chmod(dir, 0o755)
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	first, err := Start(ctx, log, dir, Options{Fast: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = first.Stop(context.Background()) })
	pm := first.cmd.Process.Pid
	if readPID(filepath.Join(dir, ownerFile)) != os.Getpid() {
		t.Fatal("the owner is not recorded")
	}

	// The owner lives: a second Start attaches and its Stop leaves it up.
	attached, err := Start(ctx, log, dir, Options{Fast: true})
	if err != nil || attached.adopted != 0 {
		t.Fatalf("attach with a live owner: adopted %d, %v", attached.adopted, err)
	}
	_ = attached.Stop(ctx)
	if !alive(pm) {
		t.Fatal("an attached Stop stopped the owner's server")
	}

	// The owner dies (a finished process's PID stands in for it).
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(dead.Process.Pid)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	adopter, err := Start(ctx, log, dir, Options{Fast: true})
	if err != nil || adopter.adopted != pm {
		t.Fatalf("adopt: adopted %d (postmaster %d), %v", adopter.adopted, pm, err)
	}
	// Doctor-style attaching never adopts.
	if s := Attach(ctx, log, dir, Options{}); s == nil || s.adopted != 0 {
		t.Fatalf("Attach adopted or failed: %+v", s)
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := adopter.Stop(sctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-first.done:
		first.done <- nil
	case <-time.After(10 * time.Second):
		t.Fatal("the adopted server still runs after Stop")
	}
	if _, err := os.Stat(filepath.Join(dir, ownerFile)); !os.IsNotExist(err) {
		t.Fatalf("owner file left behind: %v", err)
	}
}
