package terminal

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
)

// recordingShell keeps what is typed and the last size; it prints nothing.
type recordingShell struct {
	mu         sync.Mutex
	typed      []byte
	cols, rows uint16
	closed     chan struct{}
	once       sync.Once
}

func (r *recordingShell) Read([]byte) (int, error) { <-r.closed; return 0, io.EOF }
func (r *recordingShell) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.typed = append(r.typed, p...)
	return len(p), nil
}
func (r *recordingShell) Resize(cols, rows uint16) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cols, r.rows = cols, rows
	return nil
}
func (r *recordingShell) Wait() error  { <-r.closed; return nil }
func (r *recordingShell) Close() error { r.once.Do(func() { close(r.closed) }); return nil }

func (r *recordingShell) state() ([]byte, uint16, uint16) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]byte(nil), r.typed...), r.cols, r.rows
}

// FuzzSessionMessages applies what a page's messages ask of a session
// (input, resize, takeover) with arbitrary values: input reaches the
// shell unchanged and only from its controller, out-of-range sizes are
// ErrBadMessage and change nothing, nothing panics.
func FuzzSessionMessages(f *testing.F) {
	f.Add([]byte("ls -la\r"), uint16(80), uint16(24), false)
	f.Add([]byte("\x03\x04\x1b[A"), uint16(0), uint16(24), true)
	f.Add([]byte{}, uint16(1000), uint16(500), false)
	f.Add([]byte("\xff\xfe\x00"), uint16(1001), uint16(501), true)
	f.Add([]byte("é"), uint16(65535), uint16(0), false)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	f.Fuzz(func(t *testing.T, data []byte, cols, rows uint16, takeover bool) {
		sh := &recordingShell{closed: make(chan struct{})}
		owner := uuid.New()
		s := newSession(log, "fuzz", uuid.New(), "node", owner, sh)
		defer func() {
			s.Close("over")
			select {
			case <-s.Exited():
			case <-time.After(5 * time.Second):
				t.Fatal("the session did not end after Close")
			}
		}()
		ctl, _, err := s.Attach(owner, "ana", Control)
		if err != nil {
			t.Fatal(err)
		}
		view, _, err := s.Attach(uuid.New(), "ines", View)
		if err != nil {
			t.Fatal(err)
		}

		if err := s.Input(ctl, data); err != nil {
			t.Fatalf("input %q: %v", data, err)
		}
		if err := s.Input(view, data); !errors.Is(err, ErrViewOnly) {
			t.Fatalf("a viewer typed %q: %v", data, err)
		}
		if typed, _, _ := sh.state(); !bytes.Equal(typed, data) {
			t.Fatalf("the shell got %q, want %q", typed, data)
		}

		valid := cols >= 1 && cols <= 1000 && rows >= 1 && rows <= 500
		err = s.Resize(ctl, cols, rows)
		if valid != (err == nil) || (!valid && !errors.Is(err, ErrBadMessage)) {
			t.Fatalf("resize %dx%d: %v", cols, rows, err)
		}
		var wantCols, wantRows uint16
		if valid {
			wantCols, wantRows = cols, rows
		}
		if err := s.Resize(view, cols+1, rows+1); err != nil {
			t.Fatalf("a viewer's resize: %v", err)
		}
		if _, c, r := sh.state(); c != wantCols || r != wantRows {
			t.Fatalf("size %dx%d after resizing to %dx%d, want %dx%d", c, r, cols, rows, wantCols, wantRows)
		}

		if takeover {
			s.TakeOver(view)
			if view.Role() != Control {
				t.Fatal("takeover did not give control")
			}
			if err := s.Input(view, data); err != nil {
				t.Fatalf("input after takeover: %v", err)
			}
		}
	})
}
