package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"

	"github.com/ckalab/ckalab/cluster"
	clusterimages "github.com/ckalab/ckalab/cluster-images"
	"github.com/ckalab/ckalab/config"
	"github.com/ckalab/ckalab/server"
	"github.com/ckalab/ckalab/store"
	"github.com/ckalab/ckalab/terminal"
)

// echoShell stands in for a pty: it echoes what is typed.
type echoShell struct {
	r    *io.PipeReader
	w    *io.PipeWriter
	once sync.Once
	done chan struct{}
}

func (s *echoShell) Read(p []byte) (int, error) { return s.r.Read(p) }
func (s *echoShell) Write(p []byte) (int, error) {
	go func() { _, _ = s.w.Write(append([]byte(nil), p...)) }()
	return len(p), nil
}
func (s *echoShell) Resize(uint16, uint16) error { return nil }
func (s *echoShell) Wait() error                 { <-s.done; return nil }
func (s *echoShell) Close() error {
	s.once.Do(func() { close(s.done); _ = s.w.Close() })
	return nil
}

type echoLauncher struct{}

func (echoLauncher) Launch(context.Context, string, terminal.Target, uint16, uint16) (terminal.Process, error) {
	r, w := io.Pipe()
	return &echoShell{r: r, w: w, done: make(chan struct{})}, nil
}

// inUse makes an environment in use by owner with the given nodes.
func inUse(t testing.TB, st *store.Store, owner uuid.UUID, nodes ...string) uuid.UUID {
	t.Helper()
	var ns []store.EnvNode
	for i, n := range nodes {
		role := "worker"
		if i == 0 {
			role = "control-plane"
		}
		ns = append(ns, store.EnvNode{Name: n, Role: role, IP: "10.0.0.1"})
	}
	b, _ := json.Marshal(ns)
	id := uuid.New()
	_, err := st.Pool().Exec(context.Background(), `INSERT INTO environments
		(id, user_id, lab_id, state, topology, k8s_version, cluster_name, kubeconfig, nodes, started_at, expires_at)
		VALUES ($1, $2, 'playground', 'in_use', '1cp', '1.34.4', $3, 'kc', $4, now(), now() + interval '1 hour')`,
		id, owner, "c-"+id.String()[:8], b)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func termEnv(t *testing.T, launcher terminal.Launcher, perUser int) *env {
	return termEnvB(t, launcher, perUser)
}

func termEnvB(t testing.TB, launcher terminal.Launcher, perUser int) *env {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	mgr := terminal.NewManager(log, launcher, time.Hour, perUser)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go mgr.Run(ctx)
	return newEnvWith(t, func(d *server.Deps) { d.Terminals = mgr }, func(c *config.Config) { c.TerminalPerUser = perUser })
}

// dial opens a terminal websocket as c; the response is returned on a
// refused handshake.
func (c *client) dial(path string, origin string) (*websocket.Conn, *http.Response, error) {
	d := websocket.Dialer{Jar: c.http.Jar, HandshakeTimeout: 5 * time.Second}
	h := http.Header{}
	if origin == "" {
		origin = c.e.srv.URL
	}
	h.Set("Origin", origin)
	return d.Dial("ws"+strings.TrimPrefix(c.e.srv.URL, "http")+path, h)
}

type term struct {
	t     *testing.T
	conn  *websocket.Conn
	hello map[string]any
	out   bytes.Buffer
	notes []map[string]any
}

func openTerm(t *testing.T, c *client, path string) *term {
	t.Helper()
	conn, resp, err := c.dial(path, "")
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial %s: %v (HTTP %d)", path, err, status)
	}
	t.Cleanup(func() { conn.Close() })
	tm := &term{t: t, conn: conn}
	if err := conn.ReadJSON(&tm.hello); err != nil || tm.hello["type"] != "hello" {
		t.Fatalf("hello: %v %v", tm.hello, err)
	}
	return tm
}

func (tm *term) send(v any) {
	tm.t.Helper()
	if err := tm.conn.WriteJSON(v); err != nil {
		tm.t.Fatal(err)
	}
}

func (tm *term) typeText(s string) { tm.send(map[string]string{"type": "input", "data": s}) }

// until reads until the output contains want.
func (tm *term) until(want string, timeout time.Duration) {
	tm.t.Helper()
	deadline := time.Now().Add(timeout)
	for !strings.Contains(tm.out.String(), want) {
		_ = tm.conn.SetReadDeadline(deadline)
		kind, data, err := tm.conn.ReadMessage()
		if err != nil {
			tm.t.Fatalf("waiting for %q: %v; got %q", want, err, tail(tm.out.String()))
		}
		if kind == websocket.BinaryMessage {
			tm.out.Write(data)
		} else {
			var n map[string]any
			_ = json.Unmarshal(data, &n)
			tm.notes = append(tm.notes, n)
		}
	}
}

func tail(s string) string {
	if len(s) > 300 {
		return "…" + s[len(s)-300:]
	}
	return s
}

// closeCode reads until the server closes and returns the close code.
func (tm *term) closeCode() int {
	tm.t.Helper()
	_ = tm.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, _, err := tm.conn.ReadMessage()
		if ce, ok := err.(*websocket.CloseError); ok {
			return ce.Code
		}
		if err != nil {
			tm.t.Fatalf("want a close frame, got %v", err)
		}
	}
}

func TestTerminalAccessControl(t *testing.T) {
	t.Parallel()
	e := termEnv(t, echoLauncher{}, 2)
	ctx := context.Background()
	ana := e.user("ana@example.com", store.RoleStudent)
	e.user("bo@example.com", store.RoleStudent)
	teach := e.user("t@example.com", store.RoleInstructor)
	e.user("t2@example.com", store.RoleInstructor)
	cohort, err := e.store.CreateCohort(ctx, "CKA", teach.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.AddMember(ctx, cohort.ID, ana.ID, store.CohortStudent); err != nil {
		t.Fatal(err)
	}
	envID := inUse(t, e.store, ana.ID, "c-control-plane", "c-worker")
	path := "/api/v1/environments/" + envID.String() + "/terminal"
	login := func(email string) *client {
		c := e.client()
		if r := c.login(email, "password-"+email); r.Status != 200 {
			t.Fatalf("login %s: %d", email, r.Status)
		}
		return c
	}
	refused := func(c *client, p, origin string, want int) {
		t.Helper()
		conn, resp, err := c.dial(p, origin)
		if err == nil {
			conn.Close()
			t.Fatalf("%s: connected, want HTTP %d", p, want)
		}
		if resp == nil || resp.StatusCode != want {
			t.Fatalf("%s: %v, want HTTP %d", p, err, want)
		}
	}
	refused(e.client(), path, "", 401)
	anaC, boC, teachC, otherC := login("ana@example.com"), login("bo@example.com"), login("t@example.com"), login("t2@example.com")
	refused(boC, path, "", 403)
	refused(anaC, path, "https://evil.example", 403)
	refused(anaC, path+"?node=elsewhere", "", 400)
	refused(anaC, path+"?cols=abc", "", 400)
	refused(anaC, path+"?rows=0", "", 400)
	if r := anaC.do("GET", "/api/v1/environments/"+envID.String()+"/events?after=x", nil); r.Status != 400 || errCode(r) != "bad_request" {
		t.Fatalf("bad after: %d %v", r.Status, r.Body)
	}
	if r := anaC.do("GET", "/api/v1/environments/"+envID.String()+"/events?after=0", nil); r.Status != 200 {
		t.Fatalf("events: %d %v", r.Status, r.Body)
	}

	// The owner types and sees the echo; the hello carries a reconnect token.
	own := openTerm(t, anaC, path)
	if own.hello["role"] != "control" || own.hello["node"] != "c-control-plane" {
		t.Fatalf("hello %v", own.hello)
	}
	own.typeText("kubectl get nodes\r")
	own.until("kubectl get nodes", 2*time.Second)
	token := own.hello["token"].(string)

	refused(otherC, path+"?token="+token, "", 403) // instructor of another cohort
	refused(teachC, path, "", 400)                 // watching needs a token
	watch := openTerm(t, teachC, path+"?token="+token)
	if watch.hello["role"] != "view" {
		t.Fatalf("instructor role %v", watch.hello)
	}
	watch.until("kubectl get nodes", 2*time.Second) // replay
	// A watcher with a dead token is told so, and no shell starts for them.
	dead, _, err := teachC.dial(path+"?token=0123456789abcdef0123456789abcdef", "")
	if err != nil {
		t.Fatal(err)
	}
	if code := (&term{t: t, conn: dead}).closeCode(); code != websocket.ClosePolicyViolation {
		t.Fatalf("watching a dead terminal: close %d", code)
	}
	r := teachC.do("GET", "/api/v1/environments/"+envID.String()+"/terminals", nil)
	if r.Status != 200 || len(r.Body["terminals"].([]any)) != 1 {
		t.Fatalf("terminal list: %d %v", r.Status, r.Body)
	}
	watch.typeText("rm -rf /\r")
	watch.send(map[string]string{"type": "takeover"})
	watch.typeText("echo instructor-here\r")
	own.until("instructor-here", 2*time.Second)
	if strings.Contains(own.out.String(), "rm -rf") {
		t.Fatal("a watching instructor typed before taking over")
	}
	noticed := false
	for _, n := range own.notes {
		noticed = noticed || (n["type"] == "notice" && strings.Contains(fmt.Sprint(n["text"]), "taken over"))
	}
	if !noticed {
		t.Fatalf("student not told of the takeover: %v", own.notes)
	}

	// Reconnect with the token replays the shell's output.
	again := openTerm(t, anaC, path+"?token="+token)
	if again.hello["token"] != token {
		t.Fatalf("reconnect got another shell: %v", again.hello)
	}
	again.until("instructor-here", 2*time.Second)

	// Oversized and malformed messages close that socket only.
	big := openTerm(t, anaC, path+"?token="+token)
	_ = big.conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"input","data":"`+strings.Repeat("x", 70<<10)+`"}`))
	if code := big.closeCode(); code != websocket.CloseMessageTooBig {
		t.Fatalf("oversized message: close %d", code)
	}
	bad := openTerm(t, anaC, path+"?token="+token)
	_ = bad.conn.WriteMessage(websocket.TextMessage, []byte(`not json`))
	if code := bad.closeCode(); code != websocket.ClosePolicyViolation {
		t.Fatalf("malformed message: close %d", code)
	}
	own.typeText("still-alive\r")
	own.until("still-alive", 2*time.Second)

	// Two shells per user here: a third is refused, with the reason, once
	// the websocket is up (the page shows it and does not retry).
	openTerm(t, anaC, path+"?node=c-worker")
	conn, _, err := anaC.dial(path+"?node=c-worker", "")
	if err != nil {
		t.Fatalf("third shell: %v", err)
	}
	third := &term{t: t, conn: conn}
	if code := third.closeCode(); code != websocket.ClosePolicyViolation {
		t.Fatalf("third shell: close %d, want %d", code, websocket.ClosePolicyViolation)
	}
}

// countingLauncher counts the shells it starts.
type countingLauncher struct{ n atomic.Int32 }

func (l *countingLauncher) Launch(ctx context.Context, id string, t terminal.Target, cols, rows uint16) (terminal.Process, error) {
	l.n.Add(1)
	return echoLauncher{}.Launch(ctx, id, t, cols, rows)
}

// A shell starts only on a websocket; live connections are capped per user
// and end when their sign-in does.
func TestTerminalStreamsFollowTheSignIn(t *testing.T) {
	t.Parallel()
	l := &countingLauncher{}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	mgr := terminal.NewManager(log, l, time.Hour, 10)
	e := newEnvWith(t, func(d *server.Deps) { d.Terminals = mgr }, func(c *config.Config) { c.StreamsPerUser = 3 })
	ana := e.user("ana@example.com", store.RoleStudent)
	envID := inUse(t, e.store, ana.ID, "c-control-plane")
	path := "/api/v1/environments/" + envID.String() + "/terminal"
	c := e.client()
	c.login("ana@example.com", "password-ana@example.com")

	// A plain GET (no websocket upgrade) starts nothing.
	if r := c.do("GET", path, nil); r.Status != 400 {
		t.Fatalf("plain GET: %d %v", r.Status, r.Body)
	}
	if n := l.n.Load(); n != 0 {
		t.Fatalf("a plain GET started %d shell(s)", n)
	}

	// Three live connections (one shell, reattached twice); a fourth is refused.
	first := openTerm(t, c, path)
	token := first.hello["token"].(string)
	second := openTerm(t, c, path+"?token="+token)
	third := openTerm(t, c, path+"?token="+token)
	if _, resp, err := c.dial(path+"?token="+token, ""); err == nil || resp == nil || resp.StatusCode != 429 {
		t.Fatalf("fourth live connection: %v", err)
	}
	third.conn.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		conn, _, err := c.dial(path+"?token="+token, "")
		if err == nil {
			conn.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a closed connection's place was not given back: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Signing out ends them, with a reason, and the page must not reconnect.
	if r := c.do("POST", "/api/v1/auth/logout", map[string]any{}); r.Status != 204 {
		t.Fatalf("logout: %d", r.Status)
	}
	for _, tm := range []*term{first, second} {
		_ = tm.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		for {
			_, _, err := tm.conn.ReadMessage()
			if ce, ok := err.(*websocket.CloseError); ok {
				if ce.Code != websocket.ClosePolicyViolation || !strings.Contains(ce.Text, "signed out") {
					t.Fatalf("close after sign-out: %d %q", ce.Code, ce.Text)
				}
				break
			}
			if err != nil {
				t.Fatalf("want a close frame after sign-out, got %v", err)
			}
		}
	}
	if n := l.n.Load(); n != 1 {
		t.Fatalf("started %d shells, want 1", n)
	}
	// The shell started under that sign-in ends too.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err := mgr.Session(token); errors.Is(err, terminal.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the shell outlived the sign-out")
		}
	}
}

// TestTerminalInNodeContainer runs the real launcher: `docker exec` into a
// container made from the node image, never a host shell.
func TestTerminalInNodeContainer(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Docker and the node image")
	}
	t.Parallel()
	name := fmt.Sprintf("ckterm%d", time.Now().UnixNano()%100000)
	image := "ckalab/node:v" + clusterimages.KubernetesVersion()
	// Labelled as kind labels a node: the backend finds a cluster's nodes
	// by that label, never by name.
	if out, err := exec.Command("docker", "run", "-d", "--name", name, "--hostname", name,
		"--label", "io.x-k8s.kind.cluster="+name, "--label", "io.x-k8s.kind.role=control-plane",
		"--entrypoint", "sleep", image, "infinity").CombinedOutput(); err != nil {
		t.Fatalf("container: %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("docker", "rm", "-f", name).Run() })
	clusters := cluster.New(slog.New(slog.NewTextHandler(io.Discard, nil)), t.TempDir())
	launcher := terminal.LauncherFunc(func(ctx context.Context, id string, tg terminal.Target, cols, rows uint16) (terminal.Process, error) {
		return clusters.Shell(ctx, tg.Cluster, tg.Node, id, cols, rows)
	})
	// Another cluster's name does not reach this node.
	if _, err := clusters.Shell(context.Background(), "ckalab-someone-else", name, "x", 80, 24); !errors.Is(err, cluster.ErrNotFound) {
		t.Fatalf("shell through another cluster: %v, want ErrNotFound", err)
	}
	e := termEnv(t, launcher, 4)
	ana := e.user("ana@example.com", store.RoleStudent)
	envID := inUse(t, e.store, ana.ID, name)
	if _, err := e.store.Pool().Exec(context.Background(), `UPDATE environments SET cluster_name = $2 WHERE id = $1`, envID, name); err != nil {
		t.Fatal(err)
	}
	c := e.client()
	c.login("ana@example.com", "password-ana@example.com")
	path := "/api/v1/environments/" + envID.String() + "/terminal?cols=100&rows=30"
	tm := openTerm(t, c, path)

	tm.typeText("echo $((6*7))-$(whoami)-$(hostname)\r")
	tm.until("42-root-"+name, 10*time.Second)
	tm.typeText("stty size\r")
	tm.until("30 100", 5*time.Second)
	// The docker CLI passes the new size on asynchronously: ask until it shows.
	tm.send(map[string]any{"type": "resize", "cols": 132, "rows": 43})
	for i := 0; !strings.Contains(tm.out.String(), "43 132"); i++ {
		if i == 20 {
			t.Fatalf("resize never reached the shell: %q", tail(tm.out.String()))
		}
		time.Sleep(100 * time.Millisecond)
		tm.out.Reset()
		tm.typeText("stty size\r")
		tm.until("# ", 5*time.Second) // the next prompt
	}
	tm.typeText("type k; echo KUBECONFIG=$KUBECONFIG\r")
	tm.until("KUBECONFIG=/etc/kubernetes/admin.conf", 5*time.Second)

	// Ctrl-C stops a flood at once.
	tm.typeText("yes\r")
	tm.until("y\r\ny\r\ny", 5*time.Second)
	sent := time.Now()
	tm.send(map[string]string{"type": "input", "data": "\x03"})
	tm.typeText("echo stopped-$((1+1))\r")
	tm.until("stopped-2", 10*time.Second)
	t.Logf("BENCH Ctrl-C after yes until the next command's output: %s", time.Since(sent).Round(time.Millisecond))

	// Reconnect: a new socket with the token sees the earlier output.
	token := tm.hello["token"].(string)
	tm.conn.Close()
	again := openTerm(t, c, path+"&token="+token)
	again.until("stopped-2", 5*time.Second)

	// The shell exits: the socket closes with the reason.
	again.typeText("exit\r")
	if code := again.closeCode(); code != websocket.CloseNormalClosure {
		t.Fatalf("exit: close %d", code)
	}
}

// A terminal opened under a sign-in ends when that sign-in expires.
func TestTerminalEndsWhenTheSignInExpires(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, func(d *server.Deps) {
		d.Terminals = terminal.NewManager(slog.New(slog.NewTextHandler(io.Discard, nil)), echoLauncher{}, time.Hour, 4)
	}, func(c *config.Config) { c.SessionTTL = 2 * time.Second })
	ana := e.user("ana@example.com", store.RoleStudent)
	envID := inUse(t, e.store, ana.ID, "c-control-plane")
	c := e.client()
	c.login("ana@example.com", "password-ana@example.com")
	tm := openTerm(t, c, "/api/v1/environments/"+envID.String()+"/terminal")
	_ = tm.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, _, err := tm.conn.ReadMessage()
		if ce, ok := err.(*websocket.CloseError); ok {
			if ce.Code != websocket.ClosePolicyViolation || !strings.Contains(ce.Text, "expired") {
				t.Fatalf("close at expiry: %d %q", ce.Code, ce.Text)
			}
			return
		}
		if err != nil {
			t.Fatalf("want a close frame at expiry, got %v", err)
		}
	}
}
