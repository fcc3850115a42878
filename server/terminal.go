package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/gorilla/websocket"

	"github.com/ckalab/ckalab/store"
	"github.com/ckalab/ckalab/terminal"
)

// Terminal websocket protocol. Server to page: binary frames are output;
// text frames are JSON notes ({"type":"hello"|"pong"|"notice"|"role"|"exit", …}).
// Page to server: text frames of JSON {"type":"input","data":…},
// {"type":"resize","cols":…,"rows":…}, {"type":"ping"}, {"type":"takeover"}.
const (
	termReadLimit  = 64 << 10
	termPongWait   = 60 * time.Second
	termPingPeriod = 25 * time.Second
	termWriteWait  = 10 * time.Second
	// activityEvery spaces the student activity a shell records.
	activityEvery = 30 * time.Second
)

type termMessage struct {
	Type string `json:"type"`
	Data string `json:"data"`
	Cols uint16 `json:"cols"`
	Rows uint16 `json:"rows"`
}

type termHello struct {
	Type  string        `json:"type"`
	Token string        `json:"token"`
	Node  string        `json:"node"`
	Role  terminal.Role `json:"role"`
}

// listTerminals shows an environment's live shells, for instructors to
// pick one to watch.
func (s *Server) listTerminals(c *gin.Context) {
	e, _, ok := s.environment(c)
	if !ok {
		return
	}
	type apiTerminal struct {
		ID      string `json:"id"`
		Node    string `json:"node"`
		Clients int    `json:"clients"`
	}
	out := []apiTerminal{}
	if s.runtime().terminals != nil {
		for _, t := range s.runtime().terminals.OfEnv(e.ID) {
			out = append(out, apiTerminal{t.ID, t.Node, t.Clients()})
		}
	}
	c.JSON(http.StatusOK, gin.H{"terminals": out})
}

// openTerminal upgrades to a websocket on a shell in one of the
// environment's nodes (?node=; default the control plane). ?token=
// reattaches to a live shell (and is how instructors join one).
func (s *Server) openTerminal(c *gin.Context) {
	if !s.sameOrigin(c.Request) {
		s.fail(c, errForbidden("cross-origin websocket refused"))
		return
	}
	e, role, ok := s.environment(c)
	if !ok {
		return
	}
	if s.runtime().terminals == nil {
		s.environmentsReady(c)
		return
	}
	if e.State != store.EnvInUse {
		s.fail(c, errConflict("this environment is "+string(e.State)+", not running: wait until it is ready"))
		return
	}
	node := c.Query("node")
	if node == "" {
		for _, n := range e.Nodes {
			if n.Role == "control-plane" {
				node = n.Name
			}
		}
	}
	found := false
	for _, n := range e.Nodes {
		found = found || n.Name == node
	}
	if !found {
		s.fail(c, errBadRequest("no node "+strconv.Quote(node)+" in this environment", nil))
		return
	}
	token := c.Query("token")
	if role == terminal.View && token == "" {
		s.fail(c, errBadRequest("watching needs a terminal token (GET …/terminals lists them)", nil))
		return
	}
	cols, cerr := strconv.ParseUint(c.DefaultQuery("cols", "80"), 10, 16)
	rows, rerr := strconv.ParseUint(c.DefaultQuery("rows", "24"), 10, 16)
	if cerr != nil || rerr != nil || cols == 0 || rows == 0 || cols > 1000 || rows > 500 {
		s.fail(c, errBadRequest("cols and rows must be whole numbers, 1-1000 and 1-500", nil))
		return
	}
	if !websocket.IsWebSocketUpgrade(c.Request) {
		s.fail(c, errBadRequest("this is a websocket endpoint: connect with a websocket client", nil))
		return
	}
	_ = s.store.SeeEnvironment(c.Request.Context(), e.ID)
	if _, ok := s.wake(c, e); !ok {
		return
	}
	u := currentUser(c)
	live, ok := s.openStream(c)
	if !ok {
		return
	}
	defer s.closeStream(live)
	up := websocket.Upgrader{
		ReadBufferSize: 4096, WriteBufferSize: 32 << 10,
		CheckOrigin: s.sameOrigin, // checked above too, before any work
	}
	conn, err := up.Upgrade(c.Writer, c.Request, nil)
	if err != nil {
		return // the upgrader has answered
	}
	s.sockets.Add(1)
	defer s.sockets.Done()
	// Only now, with the websocket up, may a shell start: a plain GET never
	// leaves one behind. Refusals from here on are close frames.
	refuse := func(code int, why string) {
		_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, truncate(why, 120)), time.Now().Add(termWriteWait))
		conn.Close()
	}
	var sess *terminal.Session
	if role == terminal.View {
		// Watchers join a live shell; they never start one.
		sess, err = s.runtime().terminals.Session(token)
		if err == nil && (sess.Env != e.ID || sess.Node != node) {
			err = terminal.ErrNotFound
		}
	} else {
		sess, err = s.runtime().terminals.Open(c.Request.Context(), terminal.Target{Env: e.ID, Cluster: e.ClusterName, Node: node, SignIn: live.sign},
			token, u.ID, uint16(cols), uint16(rows))
	}
	switch {
	case errors.Is(err, terminal.ErrNotFound):
		refuse(websocket.ClosePolicyViolation, "that terminal has closed")
		return
	case errors.Is(err, terminal.ErrTooMany):
		refuse(websocket.ClosePolicyViolation, err.Error())
		return
	case err != nil:
		s.log.Error("starting a terminal", "env", e.ID, "node", node, "err", err)
		refuse(websocket.CloseInternalServerErr, "the shell could not start; retry in a moment")
		return
	}
	if role == terminal.View {
		_ = s.store.Audit(c.Request.Context(), &u.ID, "terminal.watch", e.ID.String(), map[string]any{"node": node}, c.ClientIP())
	}
	s.serveTerminal(conn, sess, u, role, e.ID, live)
}

// serveTerminal runs one socket: this goroutine reads, one writer
// goroutine owns every write.
func (s *Server) serveTerminal(conn *websocket.Conn, sess *terminal.Session, u store.User, role terminal.Role, env uuid.UUID, live *stream) {
	defer conn.Close()
	name := u.Name
	if name == "" {
		name = u.Email
	}
	client, replay, err := sess.Attach(u.ID, name, role)
	if err != nil {
		_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, err.Error()), time.Now().Add(termWriteWait))
		return
	}
	defer sess.Detach(client)

	pongs := make(chan struct{}, 1)
	closing := make(chan []byte, 1) // a close frame for the writer to send
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		// Closing the connection when the writer stops ends the read below.
		defer conn.Close()
		s.termWriter(conn, client, sess, replay, pongs, closing, live)
	}()

	conn.SetReadLimit(termReadLimit)
	_ = conn.SetReadDeadline(time.Now().Add(termPongWait))
	conn.SetPongHandler(func(string) error { return conn.SetReadDeadline(time.Now().Add(termPongWait)) })
	closed := false
	var touched time.Time // the last activity recorded
	seen := time.Now()    // the last time the open terminal was recorded
	closeWith := func(code int, text string) {
		closed = true
		select {
		case closing <- websocket.FormatCloseMessage(code, truncate(text, 120)):
		default:
		}
	}
	for {
		kind, data, err := conn.ReadMessage()
		if err != nil {
			if errors.Is(err, websocket.ErrReadLimit) {
				closeWith(websocket.CloseMessageTooBig, "message too big")
			}
			break
		}
		_ = conn.SetReadDeadline(time.Now().Add(termPongWait))
		if time.Since(seen) > activityEvery {
			// An open terminal (pings included) keeps its environment awake.
			seen = time.Now()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_ = s.store.SeeEnvironment(ctx, env)
			cancel()
		}
		var m termMessage
		if kind != websocket.TextMessage || json.Unmarshal(data, &m) != nil {
			closeWith(websocket.ClosePolicyViolation, "malformed message: send JSON text frames")
			break
		}
		switch m.Type {
		case "input":
			err := sess.Input(client, []byte(m.Data))
			if err == nil && role == terminal.Control && time.Since(touched) > activityEvery {
				touched = time.Now()
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				_ = s.store.TouchEnvironment(ctx, env)
				cancel()
			}
			if errors.Is(err, terminal.ErrViewOnly) {
				select {
				case client.Notes <- terminal.Note{Type: "notice", Text: "you are watching; take over to type"}:
				default:
				}
			}
		case "resize":
			if err := sess.Resize(client, m.Cols, m.Rows); err != nil {
				closeWith(websocket.ClosePolicyViolation, err.Error())
			}
		case "ping":
			select {
			case pongs <- struct{}{}:
			default:
			}
		case "takeover":
			if client.Role() == terminal.View {
				sess.TakeOver(client)
			}
		default:
			closeWith(websocket.ClosePolicyViolation, "unknown message type "+strconv.Quote(m.Type))
		}
		select {
		case <-writerDone:
			return
		default:
		}
	}
	if closed {
		<-writerDone // the close frame goes out before the detach's
	}
	sess.Detach(client)
	<-writerDone
}

func (s *Server) termWriter(conn *websocket.Conn, client *terminal.Client, sess *terminal.Session, replay []byte,
	pongs <-chan struct{}, closing <-chan []byte, live *stream) {
	write := func(kind int, data []byte) error {
		_ = conn.SetWriteDeadline(time.Now().Add(termWriteWait))
		return conn.WriteMessage(kind, data)
	}
	sendJSON := func(v any) error {
		b, _ := json.Marshal(v)
		return write(websocket.TextMessage, b)
	}
	if err := sendJSON(termHello{Type: "hello", Token: sess.ID, Node: sess.Node, Role: client.Role()}); err != nil {
		return
	}
	if len(replay) > 0 && write(websocket.BinaryMessage, replay) != nil {
		return
	}
	ping := time.NewTicker(termPingPeriod)
	defer ping.Stop()
	for {
		select {
		case b := <-client.Out:
			if write(websocket.BinaryMessage, b) != nil {
				return
			}
		case n := <-client.Notes:
			if sendJSON(n) != nil {
				return
			}
		case <-pongs:
			if sendJSON(map[string]string{"type": "pong"}) != nil {
				return
			}
		case <-ping.C:
			if conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(termWriteWait)) != nil {
				return
			}
		case frame := <-closing:
			_ = conn.WriteControl(websocket.CloseMessage, frame, time.Now().Add(termWriteWait))
			return
		case <-client.Done():
			// A shell closed because the sign-in ended says so.
			select {
			case <-live.Done():
				_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.ClosePolicyViolation, live.Why()), time.Now().Add(termWriteWait))
				return
			default:
			}
			// Flush what is queued, then say why.
		flush:
			for {
				select {
				case b := <-client.Out:
					_ = write(websocket.BinaryMessage, b)
				case n := <-client.Notes:
					_ = sendJSON(n)
				default:
					break flush
				}
			}
			reason := client.Reason()
			if reason == "" {
				reason = "detached"
			}
			_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, truncate(reason, 120)), time.Now().Add(termWriteWait))
			return
		case <-s.drain:
			_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "server restarting; reconnecting"), time.Now().Add(termWriteWait))
			return
		case <-live.Done():
			// The sign-in ended: the page must not reconnect on its own.
			_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.ClosePolicyViolation, live.Why()), time.Now().Add(termWriteWait))
			return
		}
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}
