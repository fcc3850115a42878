package terminal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Errors the server maps to answers and close reasons.
var (
	ErrExited     = errors.New("terminal: shell exited")
	ErrViewOnly   = errors.New("terminal: view only; take over to type")
	ErrBadMessage = errors.New("terminal: malformed message")
	ErrTooMany    = errors.New("terminal: too many open terminals")
	ErrNotFound   = errors.New("terminal: no such terminal")
)

// Manager holds the live sessions of this server.
type Manager struct {
	log      *slog.Logger
	launcher Launcher
	idle     time.Duration
	perUser  int

	mu       sync.Mutex
	sessions map[string]*Session
	starting map[uuid.UUID]int // shells being launched, per owner: they count against the cap
}

// NewManager returns a manager closing shells idle for longer than idle
// and allowing perUser shells per owner.
func NewManager(log *slog.Logger, launcher Launcher, idle time.Duration, perUser int) *Manager {
	return &Manager{log: log, launcher: launcher, idle: idle, perUser: perUser,
		sessions: map[string]*Session{}, starting: map[uuid.UUID]int{}}
}

// Target names the node a shell runs on.
type Target struct {
	Env     uuid.UUID
	Cluster string // the environment's cluster; the node must be one of its containers
	Node    string // node container name
	// SignIn names the owner's sign-in (any opaque key): CloseSignIn ends
	// the shells started under it.
	SignIn string
}

// Open returns the session to attach to: the one the reconnect token names
// if it is still alive on the same node, else a new shell owned by owner.
func (m *Manager) Open(ctx context.Context, t Target, token string, owner uuid.UUID, cols, rows uint16) (*Session, error) {
	if token != "" {
		if s, err := m.Session(token); err == nil && s.Env == t.Env && s.Node == t.Node {
			return s, nil
		}
	}
	// Count and reserve in one critical section: parallel opens cannot
	// all pass the cap while their shells are still starting.
	m.mu.Lock()
	n := m.starting[owner]
	for _, s := range m.sessions {
		if s.Owner == owner {
			n++
		}
	}
	if n >= m.perUser {
		m.mu.Unlock()
		return nil, fmt.Errorf("%w: %d of %d in use; close one", ErrTooMany, n, m.perUser)
	}
	m.starting[owner]++
	m.mu.Unlock()
	release := func() {
		if m.starting[owner]--; m.starting[owner] == 0 {
			delete(m.starting, owner)
		}
	}
	id := uuid.NewString()
	proc, err := m.launcher.Launch(ctx, id, t, cols, rows)
	if err != nil {
		m.mu.Lock()
		release()
		m.mu.Unlock()
		return nil, fmt.Errorf("starting a shell on %s: %w", t.Node, err)
	}
	s := newSession(m.log.With("terminal", id, "node", t.Node), id, t.Env, t.Node, owner, proc)
	s.SignIn = t.SignIn
	m.mu.Lock()
	release()
	m.sessions[id] = s
	m.mu.Unlock()
	go func() {
		<-s.Exited()
		m.mu.Lock()
		delete(m.sessions, id)
		m.mu.Unlock()
	}()
	return s, nil
}

// Session returns a live session by id.
func (m *Manager) Session(id string) (*Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s, ok := m.sessions[id]; ok {
		return s, nil
	}
	return nil, ErrNotFound
}

// Counts are the live shells and the clients attached to them.
type Counts struct {
	Shells  int
	Control int // clients that may type
	View    int // watchers
}

// Count counts the live shells and their attached clients by role.
func (m *Manager) Count() Counts {
	m.mu.Lock()
	all := make([]*Session, 0, len(m.sessions))
	for _, s := range m.sessions {
		all = append(all, s)
	}
	m.mu.Unlock()
	n := Counts{Shells: len(all)}
	for _, s := range all {
		s.mu.Lock()
		for c := range s.clients {
			if c.Role() == Control {
				n.Control++
			} else {
				n.View++
			}
		}
		s.mu.Unlock()
	}
	return n
}

// OfEnv lists an environment's live sessions.
func (m *Manager) OfEnv(env uuid.UUID) []*Session {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*Session
	for _, s := range m.sessions {
		if s.Env == env {
			out = append(out, s)
		}
	}
	return out
}

// CloseSignIn ends every shell started under a sign-in (signed out, expired).
func (m *Manager) CloseSignIn(signIn, reason string) {
	if signIn == "" {
		return
	}
	m.mu.Lock()
	var ended []*Session
	for _, s := range m.sessions {
		if s.SignIn == signIn {
			ended = append(ended, s)
		}
	}
	m.mu.Unlock()
	for _, s := range ended {
		go s.Close(reason)
	}
}

// CloseEnv ends every shell of an environment (it is being deleted).
func (m *Manager) CloseEnv(env uuid.UUID, reason string) {
	for _, s := range m.OfEnv(env) {
		s.Close(reason)
	}
}

// Run closes idle shells until ctx ends, then closes them all.
func (m *Manager) Run(ctx context.Context) {
	tick := time.NewTicker(min(m.idle/4, 30*time.Second))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			m.mu.Lock()
			all := make([]*Session, 0, len(m.sessions))
			for _, s := range m.sessions {
				all = append(all, s)
			}
			m.mu.Unlock()
			for _, s := range all {
				s.Close("the server is shutting down; reconnect in a moment")
			}
			return
		case <-tick.C:
			m.mu.Lock()
			var idle []*Session
			for _, s := range m.sessions {
				if time.Since(s.idleSince()) > m.idle {
					idle = append(idle, s)
				}
			}
			m.mu.Unlock()
			// Each in its own goroutine: one slow hang-up must not hold up the rest.
			for _, s := range idle {
				s.log.Info("closing idle terminal")
				go s.Close(fmt.Sprintf("closed after %s without use", m.idle))
			}
		}
	}
}
