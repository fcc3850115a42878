package server_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/ckalab/ckalab/store"
)

// fuzzRoute is a JSON endpoint as one kind of caller reaches it.
type fuzzRoute struct {
	method, path string
	caller       *client
	// unavailable is an error code a 5xx may carry here (a collaborator
	// this test does not provide), after the body was decoded.
	unavailable string
	// noBody: an empty body is a valid request here.
	noBody bool
}

// FuzzJSONBodies posts arbitrary bodies to every JSON endpoint: none may
// panic or answer 5xx; garbage is a 400; every error is in the error shape.
func FuzzJSONBodies(f *testing.F) {
	e := newEnvWith(f, nil)
	token := signUpLink(f, e)
	teacher := e.client()
	teacher.login("teacher@example.com", "password-teacher@example.com")
	cid := teacher.do("GET", "/api/v1/cohorts", nil).Body["cohorts"].([]any)[0].(map[string]any)["id"].(string)
	student := e.user("student@example.com", store.RoleStudent)
	sc := e.client()
	sc.login("student@example.com", "password-student@example.com")
	env := inUse(f, e.store, student.ID, "node-a").String()
	anon := &client{e: e, http: &http.Client{}} // keeps no cookie: stays anonymous
	routes := []fuzzRoute{
		{"POST", "/api/v1/auth/login", anon, "", false},
		{"POST", "/api/v1/cohorts", teacher, "", false},
		{"PATCH", "/api/v1/cohorts/" + cid, teacher, "", false},
		{"POST", "/api/v1/cohorts/" + cid + "/invites", teacher, "", false},
		{"POST", "/api/v1/invites/" + token + "/accept", anon, "", false},
		{"POST", "/api/v1/invites/" + token + "/accept", sc, "", true}, // signed in: joins
		{"POST", "/api/v1/environments", sc, "environments_unavailable", false},
		{"POST", "/api/v1/environments/" + env + "/extend", sc, "", false},
		{"POST", "/api/v1/environments/" + env + "/hints", sc, "", false},
	}
	for i := range routes {
		for _, body := range []string{`{}`, `null`, `{"email":"a@b.c","password":"pass-word-1"}`, `{"name":"x"}`,
			`{"emails":["a@b.c"],"link":true,"expiresInDays":3}`, `{"minutes":15}`, `{"taskId":"t"}`, `{"lab":"x"}`,
			`{"showSolutions":true}`, `{"name":"a\u0000"}`, `{} {}`, `{"email":`, "\xff"} {
			f.Add(uint8(i), []byte(body))
		}
	}
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		r := routes[int(route)%len(routes)]
		req, err := http.NewRequest(r.method, e.srv.URL+r.path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		if r.caller.csrf != "" {
			req.Header.Set("X-CSRF-Token", r.caller.csrf)
		}
		res, err := r.caller.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(res.Body)
		res.Body.Close()
		var out struct {
			Error *struct{ Code, Message string }
		}
		_ = json.Unmarshal(raw, &out)
		switch {
		case res.StatusCode >= 400 && (out.Error == nil || out.Error.Code == "" || out.Error.Message == ""):
			t.Fatalf("%s %s %q: %d %q is not in the error shape", r.method, r.path, body, res.StatusCode, raw)
		case res.StatusCode >= 500 && !(r.unavailable != "" && out.Error.Code == r.unavailable):
			t.Fatalf("%s %s %q: %d %q", r.method, r.path, body, res.StatusCode, raw)
		case !json.Valid(body) && !(r.noBody && len(body) == 0) && res.StatusCode != http.StatusBadRequest:
			t.Fatalf("%s %s %q is not JSON: %d %q, want 400", r.method, r.path, body, res.StatusCode, raw)
		}
	})
}

// FuzzTerminalMessages sends arbitrary frames on a terminal websocket:
// the server never panics, and either goes on (a ping still gets its
// pong) or closes with a close frame that says why.
func FuzzTerminalMessages(f *testing.F) {
	e := termEnvB(f, echoLauncher{}, 4)
	student := e.user("student@example.com", store.RoleStudent)
	c := e.client()
	c.login("student@example.com", "password-student@example.com")
	path := "/api/v1/environments/" + inUse(f, e.store, student.ID, "node-a").String() + "/terminal"
	hello := func(conn *websocket.Conn) (map[string]any, error) {
		var h map[string]any
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		err := conn.ReadJSON(&h)
		return h, err
	}
	conn, _, err := c.dial(path, "")
	if err != nil {
		f.Fatal(err)
	}
	h, err := hello(conn)
	conn.Close()
	if err != nil {
		f.Fatal(err)
	}
	path += "?token=" + h["token"].(string) // every run reattaches this shell
	for _, m := range []string{`{"type":"input","data":"ls\r"}`, `{"type":"resize","cols":120,"rows":40}`,
		`{"type":"resize","cols":0,"rows":65535}`, `{"type":"ping"}`, `{"type":"takeover"}`, `{"type":"nope"}`,
		`{"type":"input","data":1}`, `{"cols":-1}`, `[]`, `null`, ``, "\x00\xff"} {
		f.Add([]byte(m), false)
	}
	f.Add([]byte(`{"type":"input","data":"x"}`), true)
	f.Fuzz(func(t *testing.T, frame []byte, binary bool) {
		conn, res, err := c.dial(path, "")
		if err != nil {
			t.Fatalf("dial: %v %v", res, err)
		}
		defer conn.Close()
		if h, err := hello(conn); err != nil || h["type"] != "hello" {
			t.Fatalf("hello: %v %v", h, err)
		}
		kind := websocket.TextMessage
		if binary {
			kind = websocket.BinaryMessage
		}
		_ = conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
		if err := conn.WriteMessage(kind, frame); err != nil {
			t.Fatal(err)
		}
		_ = conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"ping"}`)) // fails if the server has closed
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		for {
			kind, data, err := conn.ReadMessage()
			var ce *websocket.CloseError
			switch {
			case errors.As(err, &ce):
				switch ce.Code {
				case websocket.CloseNormalClosure, websocket.ClosePolicyViolation, websocket.CloseMessageTooBig:
					return
				}
				t.Fatalf("frame %q: closed with %d %q", frame, ce.Code, ce.Text)
			case err != nil:
				t.Fatalf("frame %q: the socket ended without a close frame: %v", frame, err)
			case kind == websocket.TextMessage && strings.Contains(string(data), `"pong"`):
				return
			}
		}
	})
}
