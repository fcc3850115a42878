package server_test

import (
	"context"
	"io"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/ckalab/ckalab/store"
	"github.com/ckalab/ckalab/terminal"
)

// floodShell writes size bytes of output, like `cat` of a large file,
// once something is typed.
type floodShell struct {
	echoShell
	size  int
	start sync.Once
}

func (s *floodShell) Write(p []byte) (int, error) {
	s.start.Do(func() {
		go func() {
			chunk := make([]byte, 32<<10)
			for i := range chunk {
				chunk[i] = 'a' + byte(i%26)
			}
			for sent := 0; sent < s.size; sent += len(chunk) {
				if _, err := s.w.Write(chunk); err != nil {
					return
				}
			}
		}()
	})
	return len(p), nil
}

type floodLauncher struct{ size int }

func (l floodLauncher) Launch(context.Context, string, terminal.Target, uint16, uint16) (terminal.Process, error) {
	r, w := io.Pipe()
	return &floodShell{echoShell: echoShell{r: r, w: w, done: make(chan struct{})}, size: l.size}, nil
}

func benchEnv(b *testing.B, launcher terminal.Launcher, perUser int) (*client, string) {
	e := termEnvB(b, launcher, perUser)
	ana := e.user("ana@example.com", store.RoleStudent)
	envID := inUse(b, e.store, ana.ID, "c-control-plane").String()
	c := e.client()
	c.login("ana@example.com", "password-ana@example.com")
	return c, "/api/v1/environments/" + envID + "/terminal"
}

// BenchmarkTerminalThroughput: output of a shell writing 50 MB, through
// the session and the websocket to a client. MB/s is the bridge's rate.
//
//	go test -run '^$' -bench TerminalThroughput ./server
func BenchmarkTerminalThroughput(b *testing.B) {
	const size = 50 << 20
	c, path := benchEnv(b, floodLauncher{size: size}, 1<<20)
	b.SetBytes(size)
	for b.Loop() {
		conn, _, err := c.dial(path, "")
		if err != nil {
			b.Fatal(err)
		}
		if err := conn.WriteJSON(map[string]string{"type": "input", "data": "cat big\r"}); err != nil {
			b.Fatal(err)
		}
		got := 0
		for got < size {
			kind, data, err := conn.ReadMessage()
			if err != nil {
				b.Fatal(err)
			}
			if kind == websocket.BinaryMessage {
				got += len(data)
			}
		}
		conn.Close()
	}
}

// BenchmarkTerminalEcho: one keystroke to an echoing shell and back; the
// latency the server adds (no real shell or Docker in the path).
//
//	go test -run '^$' -bench TerminalEcho -benchtime 2000x ./server
func BenchmarkTerminalEcho(b *testing.B) {
	c, path := benchEnv(b, echoLauncher{}, 10)
	conn, _, err := c.dial(path, "")
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	var hello map[string]any
	if err := conn.ReadJSON(&hello); err != nil {
		b.Fatal(err)
	}
	var took []time.Duration
	for b.Loop() {
		start := time.Now()
		if err := conn.WriteJSON(map[string]string{"type": "input", "data": "x"}); err != nil {
			b.Fatal(err)
		}
		for {
			kind, _, err := conn.ReadMessage()
			if err != nil {
				b.Fatal(err)
			}
			if kind == websocket.BinaryMessage {
				break
			}
		}
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(took[len(took)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkTerminalIdleConnections: heap held by 500 open, idle terminal
// websockets (each its own shell session), measured in this process,
// which holds both ends.
//
//	go test -run '^$' -bench TerminalIdleConnections -benchtime 1x ./server
func BenchmarkTerminalIdleConnections(b *testing.B) {
	const n = 500
	c, path := benchEnv(b, echoLauncher{}, 1<<20)
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		conns := make([]*websocket.Conn, 0, n)
		var mu sync.Mutex
		for range n {
			conn, _, err := c.dial(path, "")
			if err != nil {
				b.Fatal(err)
			}
			var hello map[string]any
			if err := conn.ReadJSON(&hello); err != nil {
				b.Fatal(err)
			}
			mu.Lock()
			conns = append(conns, conn)
			mu.Unlock()
		}
		time.Sleep(500 * time.Millisecond)
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapInuse-before.HeapInuse)/(1<<20), "MiB-heap-500-conns")
		b.ReportMetric(float64(runtime.NumGoroutine()), "goroutines")
		for _, conn := range conns {
			conn.Close()
		}
	}
}
