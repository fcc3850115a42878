package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/ckalab/ckalab/store"
)

// streams tracks each user's long-lived connections (terminal websockets,
// live event streams): a cap per user, and an end when the sign-in that
// opened them ends (sign-out here, expiry, or its removal anywhere).
type streams struct {
	mu      sync.Mutex
	perUser int
	count   map[uuid.UUID]int
	bySign  map[string]map[*stream]struct{} // by session token hash
}

// stream is one long-lived connection; Done closes when it must end.
type stream struct {
	user uuid.UUID
	sign string
	done chan struct{}
	once sync.Once
	why  string
}

func newStreams(perUser int) *streams {
	return &streams{perUser: perUser, count: map[uuid.UUID]int{}, bySign: map[string]map[*stream]struct{}{}}
}

// Done is closed when the stream must end; Why says why.
func (st *stream) Done() <-chan struct{} { return st.done }

// Why is the reason the stream ended.
func (st *stream) Why() string { return st.why }

func (st *stream) end(why string) {
	st.once.Do(func() { st.why = why; close(st.done) })
}

// streamCheckEvery is how often a stream checks that its sign-in still exists.
const streamCheckEvery = time.Minute

// openStream registers a long-lived connection of the signed-in caller, or
// answers 429 when they have too many. Call closeStream when it ends.
func (s *Server) openStream(c *gin.Context) (*stream, bool) {
	u := currentUser(c)
	sess := c.MustGet(ctxSession).(store.Session)
	hash := c.MustGet(ctxTokenHash).([]byte)
	st := &stream{user: u.ID, sign: string(hash), done: make(chan struct{})}
	t := s.streams
	t.mu.Lock()
	if t.perUser > 0 && t.count[u.ID] >= t.perUser {
		n := t.count[u.ID]
		t.mu.Unlock()
		s.fail(c, &apiError{Status: http.StatusTooManyRequests, Code: "too_many_streams",
			Message: fmt.Sprintf("%d live terminals and views are open for your account (the limit); close some tabs and retry", n)})
		return nil, false
	}
	t.count[u.ID]++
	if t.bySign[st.sign] == nil {
		t.bySign[st.sign] = map[*stream]struct{}{}
	}
	t.bySign[st.sign][st] = struct{}{}
	t.mu.Unlock()
	go s.watchSignIn(st, hash, sess.ExpiresAt)
	return st, true
}

// watchSignIn ends the stream when its sign-in expires or disappears.
func (s *Server) watchSignIn(st *stream, hash []byte, expires time.Time) {
	expiry := time.NewTimer(time.Until(expires))
	defer expiry.Stop()
	check := time.NewTicker(streamCheckEvery)
	defer check.Stop()
	for {
		select {
		case <-st.done:
			return
		case <-expiry.C:
			s.endStreamsOf(hash, "your sign-in expired; sign in again")
			return
		case <-check.C:
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, _, err := s.store.SessionUser(ctx, hash)
			cancel()
			if errors.Is(err, store.ErrNotFound) {
				s.endStreamsOf(hash, "you signed out")
				return
			}
		}
	}
}

func (s *Server) closeStream(st *stream) {
	st.end("closed")
	t := s.streams
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.bySign[st.sign][st]; !ok {
		return
	}
	delete(t.bySign[st.sign], st)
	if len(t.bySign[st.sign]) == 0 {
		delete(t.bySign, st.sign)
	}
	if t.count[st.user]--; t.count[st.user] <= 0 {
		delete(t.count, st.user)
	}
}

// endStreamsOf ends every stream opened under a sign-in, then the shells it
// started (at sign-out, expiry): streams first, so that a terminal says why
// it ended (signed out) rather than that its shell exited.
func (s *Server) endStreamsOf(hash []byte, why string) {
	if s.runtime().terminals != nil {
		defer s.runtime().terminals.CloseSignIn(string(hash), why)
	}
	t := s.streams
	t.mu.Lock()
	var all []*stream
	for st := range t.bySign[string(hash)] {
		all = append(all, st)
	}
	t.mu.Unlock()
	for _, st := range all {
		st.end(why)
	}
}
