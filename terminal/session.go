// Package terminal runs students' shells inside their node containers and
// shares each one between the browser tabs and instructors attached to it:
// output fan-out with back-pressure, a replay buffer for reattaching,
// control hand-over, idle close. It never starts a shell on the host: the
package terminal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Process is a shell on a pty: reading gives its output, writing types.
type Process interface {
	io.ReadWriteCloser
	Resize(cols, rows uint16) error
	// Wait returns when the shell has exited.
	Wait() error
}

// Launcher starts the shell of a node container.
type Launcher interface {
	// Launch starts a login shell as root on the target's node, which must
	// be one of the target's cluster's nodes; id names it (for killing it later).
	Launch(ctx context.Context, id string, t Target, cols, rows uint16) (Process, error)
}

// LauncherFunc adapts a function to Launcher.
type LauncherFunc func(ctx context.Context, id string, t Target, cols, rows uint16) (Process, error)

// Launch calls f.
func (f LauncherFunc) Launch(ctx context.Context, id string, t Target, cols, rows uint16) (Process, error) {
	return f(ctx, id, t, cols, rows)
}

// Role is what a client may do on a session.
type Role string

const (
	Control Role = "control" // types and resizes
	View    Role = "view"    // watches
)

// Client is one attached websocket.
type Client struct {
	UserID uuid.UUID
	Name   string
	roleMu sync.Mutex
	role   Role
	// Out carries output chunks and Notes control messages to the socket's
	// writer until Done is closed.
	Out   chan []byte
	Notes chan Note
	done  chan struct{}
	once  sync.Once
	// Why the session dropped this client, if it did.
	reason string
}

// Note is a control message for the page: a notice banner, the shell's
// exit, a role change.
type Note struct {
	Type string `json:"type"`
	Text string `json:"text,omitempty"`
	Role Role   `json:"role,omitempty"`
}

// Role is the client's current role.
func (c *Client) Role() Role {
	c.roleMu.Lock()
	defer c.roleMu.Unlock()
	return c.role
}

// Done is closed when the client has been detached.
func (c *Client) Done() <-chan struct{} { return c.done }

// Reason says why the session detached the client ("" if the client left).
func (c *Client) Reason() string { return c.reason }

const (
	replaySize = 64 << 10
	chunkSize  = 16 << 10
	outQueue   = 8 // chunks a client may lag before back-pressure or drop
)

// Session is one shell in one node container, shared by its clients.
type Session struct {
	ID        string // also the reconnect token
	Env       uuid.UUID
	Node      string
	Owner     uuid.UUID
	SignIn    string // the owner's sign-in that started it; it ends with it
	log       *slog.Logger
	proc      Process
	mu        sync.Mutex
	clients   map[*Client]struct{}
	replay    *ring
	lastInput time.Time
	lastSeen  time.Time // last time a client was attached
	exited    chan struct{}
	exitText  string
}

func newSession(log *slog.Logger, id string, env uuid.UUID, node string, owner uuid.UUID, proc Process) *Session {
	s := &Session{
		ID: id, Env: env, Node: node, Owner: owner, log: log, proc: proc,
		clients: map[*Client]struct{}{}, replay: newRing(replaySize),
		lastInput: time.Now(), lastSeen: time.Now(), exited: make(chan struct{}),
	}
	go s.pump()
	return s
}

// pump copies the shell's output to every client. A controlling client
// that falls behind pauses the shell (its writes block on the full pty),
// so `yes` cannot grow memory and Ctrl-C gets through at once; a viewer
// that falls behind is dropped instead of slowing the others.
func (s *Session) pump() {
	buf := make([]byte, chunkSize)
	for {
		n, err := s.proc.Read(buf)
		if n > 0 {
			chunk := append([]byte(nil), buf[:n]...)
			s.mu.Lock()
			s.replay.Write(chunk)
			// Viewers first: they never block, so a stalled controller
			// cannot hide a stalled viewer.
			var viewers, controllers []*Client
			for c := range s.clients {
				if c.role == Control {
					controllers = append(controllers, c)
				} else {
					viewers = append(viewers, c)
				}
			}
			s.mu.Unlock()
			for _, c := range viewers {
				s.deliver(c, View, chunk)
			}
			for _, c := range controllers {
				s.deliver(c, Control, chunk)
			}
		}
		if err != nil {
			break
		}
	}
	werr := s.proc.Wait()
	text := "the shell exited"
	if werr != nil && !errors.Is(werr, io.EOF) {
		text = fmt.Sprintf("the shell exited (%v)", werr)
	}
	s.mu.Lock()
	s.exitText = text
	clients := s.clients
	s.clients = map[*Client]struct{}{}
	s.mu.Unlock()
	close(s.exited)
	for c := range clients {
		s.note(c, Note{Type: "exit", Text: text})
		c.detach(text)
	}
}

func (s *Session) deliver(c *Client, role Role, chunk []byte) {
	if role == Control {
		select {
		case c.Out <- chunk:
		case <-c.done:
		}
		return
	}
	select {
	case c.Out <- chunk:
	default:
		c.detach("your connection was too slow to follow this terminal")
		s.Detach(c)
	}
}

func (s *Session) note(c *Client, n Note) {
	select {
	case c.Notes <- n:
	default:
	}
}

// Attach adds a client and returns the recent output to replay first.
func (s *Session) Attach(userID uuid.UUID, name string, role Role) (*Client, []byte, error) {
	c := &Client{UserID: userID, Name: name, role: role, Out: make(chan []byte, outQueue), Notes: make(chan Note, 8), done: make(chan struct{})}
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.exited:
		return nil, nil, fmt.Errorf("%s: %w", s.exitText, ErrExited)
	default:
	}
	s.clients[c] = struct{}{}
	s.lastSeen = time.Now()
	return c, s.replay.Bytes(), nil
}

// Detach removes a client.
func (s *Session) Detach(c *Client) {
	s.mu.Lock()
	delete(s.clients, c)
	s.lastSeen = time.Now()
	s.mu.Unlock()
	c.detach("")
}

func (c *Client) detach(reason string) {
	c.once.Do(func() {
		c.reason = reason
		close(c.done)
	})
}

// Input types into the shell if the client controls it.
func (s *Session) Input(c *Client, data []byte) error {
	s.mu.Lock()
	role := c.role
	if role == Control {
		s.lastInput = time.Now()
	}
	s.mu.Unlock()
	if role != Control {
		return ErrViewOnly
	}
	_, err := s.proc.Write(data)
	return err
}

// Resize sets the pty's size. The controlling clients' window wins;
// viewers' sizes are ignored (they see the controller's layout).
func (s *Session) Resize(c *Client, cols, rows uint16) error {
	if c.Role() != Control {
		return nil
	}
	if cols == 0 || rows == 0 || cols > 1000 || rows > 500 {
		return fmt.Errorf("size %dx%d: %w", cols, rows, ErrBadMessage)
	}
	return s.proc.Resize(cols, rows)
}

// TakeOver gives control to c (an instructor) and tells everyone.
func (s *Session) TakeOver(c *Client) {
	s.mu.Lock()
	c.roleMu.Lock()
	c.role = Control
	c.roleMu.Unlock()
	clients := make([]*Client, 0, len(s.clients))
	for other := range s.clients {
		clients = append(clients, other)
	}
	s.mu.Unlock()
	for _, other := range clients {
		s.note(other, Note{Type: "notice", Text: c.Name + " (instructor) has taken over this terminal and can type in it"})
		if other == c {
			s.note(other, Note{Type: "role", Role: Control})
		}
	}
}

// Clients counts attached clients.
func (s *Session) Clients() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.clients)
}

// Close ends the shell; clients are told why.
func (s *Session) Close(reason string) {
	s.mu.Lock()
	for c := range s.clients {
		s.note(c, Note{Type: "notice", Text: reason})
	}
	s.mu.Unlock()
	_ = s.proc.Close()
}

// Exited is closed when the shell has exited.
func (s *Session) Exited() <-chan struct{} { return s.exited }

// idleSince is when the session last saw input or a client come or go.
func (s *Session) idleSince() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lastInput.After(s.lastSeen) {
		return s.lastInput
	}
	return s.lastSeen
}
