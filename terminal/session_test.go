package terminal

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
)

// fakeShell echoes what is typed; in flood mode it also writes without end
// (like `yes`), blocking whenever nobody reads, as a pty does.
type fakeShell struct {
	outR    *io.PipeReader
	outW    *io.PipeWriter
	mu      sync.Mutex
	cols    uint16
	rows    uint16
	written atomic.Int64
	closed  chan struct{}
	once    sync.Once
}

func newFakeShell() *fakeShell {
	r, w := io.Pipe()
	return &fakeShell{outR: r, outW: w, closed: make(chan struct{})}
}

func (f *fakeShell) Read(p []byte) (int, error) { return f.outR.Read(p) }
func (f *fakeShell) Write(p []byte) (int, error) {
	go func() { _, _ = f.outW.Write(append([]byte(nil), p...)) }()
	return len(p), nil
}
func (f *fakeShell) flood() {
	line := bytes.Repeat([]byte("y\n"), 512)
	for {
		n, err := f.outW.Write(line)
		f.written.Add(int64(n))
		if err != nil {
			return
		}
	}
}
func (f *fakeShell) Resize(c, r uint16) error {
	f.mu.Lock()
	f.cols, f.rows = c, r
	f.mu.Unlock()
	return nil
}
func (f *fakeShell) Wait() error { <-f.closed; return nil }
func (f *fakeShell) Close() error {
	f.once.Do(func() { close(f.closed); _ = f.outW.Close() })
	return nil
}

type fakeLauncher struct{ last *fakeShell }

func (l *fakeLauncher) Launch(context.Context, string, Target, uint16, uint16) (Process, error) {
	l.last = newFakeShell()
	return l.last, nil
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func read(t *testing.T, c *Client, want string) {
	t.Helper()
	var got []byte
	deadline := time.After(2 * time.Second)
	for !bytes.Contains(got, []byte(want)) {
		select {
		case b := <-c.Out:
			got = append(got, b...)
		case <-deadline:
			t.Fatalf("waited for %q, got %q", want, got)
		}
	}
}

func open(t *testing.T, perUser int) (*Manager, *fakeLauncher, *Session) {
	t.Helper()
	l := &fakeLauncher{}
	m := NewManager(quiet(), l, time.Hour, perUser)
	s, err := m.Open(context.Background(), Target{Env: uuid.New(), Cluster: "c", Node: "n"}, "", uuid.New(), 80, 24)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close("test over") })
	return m, l, s
}

func TestEchoReplayAndRoles(t *testing.T) {
	_, l, s := open(t, 5)
	student, replay, err := s.Attach(s.Owner, "ana", Control)
	if err != nil || len(replay) != 0 {
		t.Fatalf("attach: %q %v", replay, err)
	}
	if err := s.Input(student, []byte("hello\r")); err != nil {
		t.Fatal(err)
	}
	read(t, student, "hello")
	viewer, replay, err := s.Attach(uuid.New(), "ines", View)
	if err != nil || !bytes.Contains(replay, []byte("hello")) {
		t.Fatalf("viewer replay %q %v", replay, err)
	}
	if err := s.Input(viewer, []byte("rm -rf /\r")); !errors.Is(err, ErrViewOnly) {
		t.Fatalf("viewer typed: %v", err)
	}
	if err := s.Resize(viewer, 10, 5); err != nil {
		t.Fatal(err)
	}
	if err := s.Resize(student, 120, 40); err != nil {
		t.Fatal(err)
	}
	if l.last.cols != 120 || l.last.rows != 40 {
		t.Fatalf("size %dx%d, want the controller's 120x40", l.last.cols, l.last.rows)
	}
	if err := s.Resize(student, 0, 40); !errors.Is(err, ErrBadMessage) {
		t.Fatalf("zero size: %v", err)
	}
	s.TakeOver(viewer)
	if viewer.Role() != Control {
		t.Fatal("takeover did not give control")
	}
	select {
	case n := <-student.Notes:
		if n.Type != "notice" {
			t.Fatalf("student note %+v", n)
		}
	case <-time.After(time.Second):
		t.Fatal("student not told of the takeover")
	}
	if err := s.Input(viewer, []byte("ls\r")); err != nil {
		t.Fatal(err)
	}
	read(t, student, "ls")
}

func TestFloodIsBoundedAndSlowViewersDropped(t *testing.T) {
	_, l, s := open(t, 5)
	student, _, _ := s.Attach(s.Owner, "ana", Control)
	viewer, _, _ := s.Attach(uuid.New(), "ines", View)
	go l.last.flood()
	// Nobody reads: the viewer is dropped, the shell is paused.
	select {
	case <-viewer.Done():
	case <-time.After(2 * time.Second):
		t.Fatal("a viewer that does not read was not dropped")
	}
	if viewer.Reason() == "" {
		t.Fatal("dropped viewer has no reason")
	}
	time.Sleep(200 * time.Millisecond)
	before := l.last.written.Load()
	time.Sleep(300 * time.Millisecond)
	if after := l.last.written.Load(); after != before {
		t.Fatalf("shell kept writing while its controller did not read: %d -> %d bytes", before, after)
	}
	if max := int64((outQueue + 3) * chunkSize); before > max {
		t.Fatalf("%d bytes buffered for a stalled client, want at most %d", before, max)
	}
	// Reading again resumes the shell.
	for range outQueue + 2 {
		<-student.Out
	}
	time.Sleep(100 * time.Millisecond)
	if l.last.written.Load() == before {
		t.Fatal("shell did not resume once the client read")
	}
}

func TestExitAndLimits(t *testing.T) {
	m, _, s := open(t, 1)
	c, _, _ := s.Attach(s.Owner, "ana", Control)
	if _, err := m.Open(context.Background(), Target{Env: s.Env, Cluster: "c", Node: "other"}, "", s.Owner, 80, 24); !errors.Is(err, ErrTooMany) {
		t.Fatalf("second shell over a cap of 1: %v", err)
	}
	again, err := m.Open(context.Background(), Target{Env: s.Env, Node: "n"}, s.ID, uuid.New(), 80, 24)
	if err != nil || again != s {
		t.Fatalf("reconnect token: %v", err)
	}
	s.Close("bye")
	select {
	case <-c.Done():
	case <-time.After(2 * time.Second):
		t.Fatal("client not detached when the shell exited")
	}
	if _, _, err := s.Attach(s.Owner, "ana", Control); !errors.Is(err, ErrExited) {
		t.Fatalf("attach to an exited shell: %v", err)
	}
	time.Sleep(50 * time.Millisecond)
	if _, err := m.Session(s.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("exited session still listed: %v", err)
	}
}

func TestRing(t *testing.T) {
	r := newRing(8)
	r.Write([]byte("abc"))
	r.Write([]byte("defgh"))
	r.Write([]byte("ij"))
	if got := string(r.Bytes()); got != "cdefghij" {
		t.Fatalf("ring %q", got)
	}
	r.Write([]byte("0123456789"))
	if got := string(r.Bytes()); got != "23456789" {
		t.Fatalf("ring %q", got)
	}
}

func TestIdleShellsClose(t *testing.T) {
	l := &fakeLauncher{}
	m := NewManager(quiet(), l, 100*time.Millisecond, 5)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go m.Run(ctx)
	s, err := m.Open(ctx, Target{Env: uuid.New(), Cluster: "c", Node: "n"}, "", uuid.New(), 80, 24)
	if err != nil {
		t.Fatal(err)
	}
	busy, err := m.Open(ctx, Target{Env: uuid.New(), Cluster: "c", Node: "n"}, "", uuid.New(), 80, 24)
	if err != nil {
		t.Fatal(err)
	}
	c, _, _ := busy.Attach(busy.Owner, "ana", Control)
	go func() {
		for range c.Out {
		}
	}()
	stopTyping := time.After(400 * time.Millisecond)
typing:
	for {
		select {
		case <-stopTyping:
			break typing
		case <-time.After(20 * time.Millisecond):
			_ = busy.Input(c, []byte("x"))
		}
	}
	select {
	case <-s.Exited():
	default:
		t.Fatal("an unused shell outlived the idle timeout")
	}
	select {
	case <-busy.Exited():
		t.Fatal("a shell in use was closed as idle")
	default:
	}
	select {
	case <-busy.Exited():
	case <-time.After(2 * time.Second):
		t.Fatal("the shell was not closed once typing stopped")
	}
}

// slowLauncher takes a while to start each shell, as docker exec does.
type slowLauncher struct{ launched atomic.Int32 }

func (l *slowLauncher) Launch(context.Context, string, Target, uint16, uint16) (Process, error) {
	time.Sleep(50 * time.Millisecond)
	l.launched.Add(1)
	return newFakeShell(), nil
}

// Parallel opens by one user must not pass the per-user cap while their
// shells are still starting.
func TestPerUserCapHoldsUnderParallelOpens(t *testing.T) {
	l := &slowLauncher{}
	m := NewManager(quiet(), l, time.Hour, 3)
	owner := uuid.New()
	var wg sync.WaitGroup
	var opened, refused atomic.Int32
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := m.Open(context.Background(), Target{Env: uuid.New(), Cluster: "c", Node: "n"}, "", owner, 80, 24)
			switch {
			case err == nil:
				opened.Add(1)
				t.Cleanup(func() { s.Close("test over") })
			case errors.Is(err, ErrTooMany):
				refused.Add(1)
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if opened.Load() != 3 || refused.Load() != 17 || l.launched.Load() != 3 {
		t.Fatalf("opened %d, refused %d, launched %d; want 3, 17, 3", opened.Load(), refused.Load(), l.launched.Load())
	}
}
