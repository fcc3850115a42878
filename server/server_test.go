package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/ckalab/ckalab/auth"
	"github.com/ckalab/ckalab/config"
	"github.com/ckalab/ckalab/pgserver/pgtest"
	"github.com/ckalab/ckalab/server"
	"github.com/ckalab/ckalab/store"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

type env struct {
	t      testing.TB
	srv    *httptest.Server
	store  *store.Store
	server *server.Server
}

func newEnv(t *testing.T, mod ...func(*config.Config)) *env {
	t.Helper()
	return newEnvWith(t, nil, mod...)
}

// newEnvWith also lets the test add collaborators (environments, terminals).
func newEnvWith(t testing.TB, deps func(*server.Deps), mod ...func(*config.Config)) *env {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := store.Open(context.Background(), log, pgtest.New(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	cfg := config.Config{SessionTTL: time.Hour, LoginRateLimit: 5, ShutdownGrace: time.Second}
	for _, f := range mod {
		f(&cfg)
	}
	web := fstest.MapFS{"index.html": {Data: []byte("<html>app</html>")}, "assets/app.js": {Data: []byte("js")}}
	d := server.Deps{Store: st, Web: web}
	if deps != nil {
		deps(&d)
	}
	s := server.New(cfg, log, d)
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return &env{t: t, srv: ts, store: st, server: s}
}

func (e *env) user(email string, role store.Role) store.User {
	e.t.Helper()
	h, err := auth.HashPassword(context.Background(), "password-"+email)
	if err != nil {
		e.t.Fatal(err)
	}
	u, err := e.store.CreateUser(context.Background(), email, "", role, h)
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

// client is a browser: a cookie jar and the CSRF token from sign-in.
type client struct {
	e    *env
	http *http.Client
	csrf string
}

func (e *env) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{e: e, http: &http.Client{Jar: jar}}
}

type resp struct {
	Status int
	Body   map[string]any
	Header http.Header
}

func (c *client) do(method, path string, body any, hdr ...string) resp {
	c.e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, c.e.srv.URL+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.csrf != "" {
		req.Header.Set("X-CSRF-Token", c.csrf)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	r, err := c.http.Do(req)
	if err != nil {
		c.e.t.Fatal(err)
	}
	defer r.Body.Close()
	out := resp{Status: r.StatusCode, Header: r.Header}
	raw, _ := io.ReadAll(r.Body)
	_ = json.Unmarshal(raw, &out.Body)
	return out
}

func (c *client) login(email, pw string) resp {
	r := c.do("POST", "/api/v1/auth/login", map[string]string{"email": email, "password": pw})
	if tok, ok := r.Body["csrfToken"].(string); ok {
		c.csrf = tok
	}
	return r
}

func errCode(r resp) string {
	e, _ := r.Body["error"].(map[string]any)
	code, _ := e["code"].(string)
	if _, ok := e["message"].(string); !ok {
		return "<no message>"
	}
	return code
}

func TestLoginLogout(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.user("ana@example.com", store.RoleStudent)
	c := e.client()
	if r := c.do("GET", "/api/v1/me", nil); r.Status != 401 || errCode(r) != "unauthorized" {
		t.Fatalf("anonymous /me: %d %v", r.Status, r.Body)
	}
	r := c.login("ANA@example.com", "password-ana@example.com")
	if r.Status != 200 {
		t.Fatalf("login: %d %v", r.Status, r.Body)
	}
	var cookie *http.Cookie
	for _, ck := range (&http.Response{Header: r.Header}).Cookies() {
		if ck.Name == "ckalab_session" {
			cookie = ck
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode || cookie.Secure {
		t.Fatalf("session cookie flags wrong: %+v", cookie)
	}
	if r := c.do("GET", "/api/v1/me", nil); r.Status != 200 || r.Body["user"].(map[string]any)["email"] != "ana@example.com" {
		t.Fatalf("/me: %d %v", r.Status, r.Body)
	}
	if r := c.do("POST", "/api/v1/auth/logout", nil); r.Status != 204 {
		t.Fatalf("logout: %d %v", r.Status, r.Body)
	}
	if r := c.do("GET", "/api/v1/me", nil); r.Status != 401 {
		t.Fatalf("after logout: %d", r.Status)
	}
}

func TestSecureCookieUnderTLS(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *config.Config) { c.SecureCookies = true })
	e.user("ana@example.com", store.RoleStudent)
	r := e.client().login("ana@example.com", "password-ana@example.com")
	if !strings.Contains(r.Header.Get("Set-Cookie"), "Secure") {
		t.Fatalf("cookie not Secure: %s", r.Header.Get("Set-Cookie"))
	}
}

func TestWrongPasswordGivesNoHint(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.user("ana@example.com", store.RoleStudent)
	wrongPw := e.client().login("ana@example.com", "nope-nope")
	noUser := e.client().login("bob@example.com", "nope-nope")
	if wrongPw.Status != 401 || noUser.Status != 401 {
		t.Fatalf("statuses %d %d", wrongPw.Status, noUser.Status)
	}
	m1 := wrongPw.Body["error"].(map[string]any)["message"]
	m2 := noUser.Body["error"].(map[string]any)["message"]
	if m1 != m2 {
		t.Fatalf("messages differ, leaking which part was wrong: %q vs %q", m1, m2)
	}
}

func TestLoginRateLimited(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.user("ana@example.com", store.RoleStudent)
	c := e.client()
	for i := 0; i < 5; i++ {
		if r := c.login("ana@example.com", "wrong-password"); r.Status != 401 {
			t.Fatalf("attempt %d: %d", i, r.Status)
		}
	}
	r := c.login("ana@example.com", "password-ana@example.com")
	if r.Status != 429 || errCode(r) != "rate_limited" || r.Header.Get("Retry-After") == "" {
		t.Fatalf("6th attempt: %d %v", r.Status, r.Body)
	}
}

func TestCSRFRequired(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.user("t@example.com", store.RoleInstructor)
	c := e.client()
	c.login("t@example.com", "password-t@example.com")
	tok := c.csrf
	c.csrf = ""
	if r := c.do("POST", "/api/v1/cohorts", map[string]string{"name": "x"}); r.Status != 403 {
		t.Fatalf("no CSRF token: %d %v", r.Status, r.Body)
	}
	c.csrf = "wrong"
	if r := c.do("POST", "/api/v1/cohorts", map[string]string{"name": "x"}); r.Status != 403 {
		t.Fatalf("wrong CSRF token: %d", r.Status)
	}
	c.csrf = tok
	if r := c.do("POST", "/api/v1/cohorts", map[string]string{"name": "x"}, "Origin", "https://evil.example"); r.Status != 403 {
		t.Fatalf("foreign Origin: %d", r.Status)
	}
	if r := c.do("POST", "/api/v1/cohorts", map[string]string{"name": "x"}); r.Status != 201 {
		t.Fatalf("with token: %d %v", r.Status, r.Body)
	}
	// Sign-in from a plain form of another site is refused.
	anon := e.client()
	r := anon.do("POST", "/api/v1/auth/login", "email=t@example.com&password=x", "Content-Type", "application/x-www-form-urlencoded")
	if r.Status != 415 {
		t.Fatalf("form sign-in: %d", r.Status)
	}
}

func TestErrorShape(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.client()
	cases := []struct {
		method, path string
		body         any
		status       int
		code         string
	}{
		{"GET", "/api/v1/no-such-thing", nil, 404, "not_found"},
		{"POST", "/api/v1/auth/login", "{not json", 400, "bad_request"},
		{"POST", "/api/v1/auth/login", map[string]any{"email": "a@b.c", "password": "x", "extra": 1}, 400, "bad_request"},
		{"POST", "/api/v1/auth/login", map[string]any{"email": "", "password": ""}, 400, "bad_request"},
		{"DELETE", "/api/v1/auth/login", nil, 405, "method_not_allowed"},
		{"GET", "/api/v1/invites/short", nil, 404, "not_found"},
	}
	for _, tc := range cases {
		r := c.do(tc.method, tc.path, tc.body)
		if r.Status != tc.status || errCode(r) != tc.code {
			t.Errorf("%s %s: got %d %q (%v), want %d %q", tc.method, tc.path, r.Status, errCode(r), r.Body, tc.status, tc.code)
		}
	}
}

func TestWebAppServedOutsideAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for path, want := range map[string]string{"/": "<html>app</html>", "/labs/etcd-backup": "<html>app</html>", "/assets/app.js": "js"} {
		r, err := http.Get(e.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(r.Body)
		r.Body.Close()
		if r.StatusCode != 200 || string(b) != want {
			t.Errorf("%s: %d %q", path, r.StatusCode, b)
		}
	}
	r, _ := http.Get(e.srv.URL + "/assets/missing.js")
	if r.StatusCode != 404 {
		t.Errorf("missing asset: %d", r.StatusCode)
	}
}

func TestHealthReadyMetrics(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, p := range []string{"/healthz", "/readyz"} {
		r, err := http.Get(e.srv.URL + p)
		if err != nil || r.StatusCode != 200 {
			t.Fatalf("%s: %v %v", p, r.StatusCode, err)
		}
	}
	r, _ := http.Get(e.srv.URL + "/metrics")
	b, _ := io.ReadAll(r.Body)
	if !strings.Contains(string(b), "ckalab_http_requests_total") {
		t.Fatal("metrics lack the request counter")
	}
	e.store.Close()
	r, _ = http.Get(e.srv.URL + "/readyz")
	if r.StatusCode != 503 {
		t.Fatalf("readyz with the database gone: %d", r.StatusCode)
	}
}

func TestCohortInviteFlowAndIsolation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.user("t@example.com", store.RoleInstructor)
	e.user("t2@example.com", store.RoleInstructor)
	teacher := e.client()
	teacher.login("t@example.com", "password-t@example.com")

	// Students cannot create cohorts.
	e.user("early@example.com", store.RoleStudent)
	early := e.client()
	early.login("early@example.com", "password-early@example.com")
	if r := early.do("POST", "/api/v1/cohorts", map[string]string{"name": "x"}); r.Status != 403 {
		t.Fatalf("student created a cohort: %d", r.Status)
	}

	r := teacher.do("POST", "/api/v1/cohorts", map[string]string{"name": "CKA Autumn"})
	if r.Status != 201 {
		t.Fatalf("create cohort: %d %v", r.Status, r.Body)
	}
	cid := r.Body["cohort"].(map[string]any)["id"].(string)

	// Bad CSV lines are all reported and nothing is created.
	r = teacher.do("POST", "/api/v1/cohorts/"+cid+"/invites", map[string]any{"csv": "email,name\nok@example.com,Ok\nbroken,Bad\n"})
	if r.Status != 400 || len(r.Body["error"].(map[string]any)["details"].([]any)) != 1 {
		t.Fatalf("bad csv: %d %v", r.Status, r.Body)
	}
	r = teacher.do("POST", "/api/v1/cohorts/"+cid+"/invites", map[string]any{"csv": "email,name\nana@example.com,Ana\nbob@example.com,Bob\n"})
	if r.Status != 201 {
		t.Fatalf("csv invites: %d %v", r.Status, r.Body)
	}
	invs := r.Body["invites"].([]any)
	if len(invs) != 2 {
		t.Fatalf("want 2 invites, got %v", invs)
	}
	links := map[string]string{}
	for _, i := range invs {
		m := i.(map[string]any)
		links[m["email"].(string)] = m["link"].(string)
	}
	token := func(link string) string { return link[strings.LastIndex(link, "/")+1:] }

	signUp := func(email string) *client {
		c := e.client()
		tok := token(links[email])
		if r := c.do("GET", "/api/v1/invites/"+tok, nil); r.Status != 200 || r.Body["cohort"].(map[string]any)["name"] != "CKA Autumn" {
			t.Fatalf("invite lookup: %d %v", r.Status, r.Body)
		}
		r := c.do("POST", "/api/v1/invites/"+tok+"/accept", map[string]string{"email": email, "name": "S", "password": "student-password"})
		if r.Status != 200 {
			t.Fatalf("sign up %s: %d %v", email, r.Status, r.Body)
		}
		c.csrf = r.Body["csrfToken"].(string)
		return c
	}
	ana, bob := signUp("ana@example.com"), signUp("bob@example.com")
	anaID := ana.do("GET", "/api/v1/me", nil).Body["user"].(map[string]any)["id"].(string)

	// Duplicate email through a link invite: 409.
	r = teacher.do("POST", "/api/v1/cohorts/"+cid+"/invites", map[string]any{"link": true})
	link := token(r.Body["invites"].([]any)[0].(map[string]any)["link"].(string))
	if r := e.client().do("POST", "/api/v1/invites/"+link+"/accept", map[string]string{"email": "ana@example.com", "password": "whatever-long"}); r.Status != 409 {
		t.Fatalf("duplicate email: %d %v", r.Status, r.Body)
	}

	// A student sees themselves, not another student; their instructor sees them.
	if r := ana.do("GET", "/api/v1/users/"+anaID, nil); r.Status != 200 {
		t.Fatalf("self: %d", r.Status)
	}
	if r := bob.do("GET", "/api/v1/users/"+anaID, nil); r.Status != 403 {
		t.Fatalf("student reading another student: %d", r.Status)
	}
	if r := teacher.do("GET", "/api/v1/users/"+anaID, nil); r.Status != 200 {
		t.Fatalf("instructor reading their student: %d", r.Status)
	}
	other := e.client()
	other.login("t2@example.com", "password-t2@example.com")
	if r := other.do("GET", "/api/v1/users/"+anaID, nil); r.Status != 403 {
		t.Fatalf("instructor of another cohort: %d", r.Status)
	}
	if r := other.do("GET", "/api/v1/cohorts/"+cid, nil); r.Status != 404 {
		t.Fatalf("non-member reading a cohort: %d", r.Status)
	}
	// Students see their cohort but not its member list or invites.
	r = ana.do("GET", "/api/v1/cohorts/"+cid, nil)
	if r.Status != 200 || r.Body["members"] != nil {
		t.Fatalf("student cohort view: %d %v", r.Status, r.Body)
	}
	if r := ana.do("GET", "/api/v1/cohorts/"+cid+"/invites", nil); r.Status != 403 {
		t.Fatalf("student listing invites: %d", r.Status)
	}
	r = teacher.do("GET", "/api/v1/cohorts/"+cid, nil)
	if r.Status != 200 || len(r.Body["members"].([]any)) != 3 {
		t.Fatalf("instructor cohort view: %d %v", r.Status, r.Body)
	}

	// A link grants the role it was made for: another cohort's instructor
	// who opens a student link joins as a student, and gets no instructor
	// power (board, grades, students' terminals) from it.
	if r := other.do("POST", "/api/v1/invites/"+link+"/accept", map[string]any{}); r.Status != 200 {
		t.Fatalf("instructor accepting a student link: %d %v", r.Status, r.Body)
	}
	if r := other.do("GET", "/api/v1/cohorts/"+cid, nil); r.Status != 200 || r.Body["cohort"].(map[string]any)["myRole"] != "student" {
		t.Fatalf("instructor's role through a student link: %d %v", r.Status, r.Body)
	}
	for _, path := range []string{"/board", "/grades.csv", "/invites", "/students/" + anaID} {
		if r := other.do("GET", "/api/v1/cohorts/"+cid+path, nil); r.Status != 403 && r.Status != 404 {
			t.Fatalf("student-link instructor on %s: %d", path, r.Status)
		}
	}
	if r := other.do("GET", "/api/v1/users/"+anaID, nil); r.Status != 403 {
		t.Fatalf("student-link instructor reading a student: %d", r.Status)
	}
	// A co-teacher invite makes an instructor account an instructor, and
	// refuses a student account.
	r = teacher.do("POST", "/api/v1/cohorts/"+cid+"/invites", map[string]any{"link": true, "role": "instructor"})
	if r.Status != 201 || r.Body["invites"].([]any)[0].(map[string]any)["role"] != "instructor" {
		t.Fatalf("instructor invite: %d %v", r.Status, r.Body)
	}
	coLink := token(r.Body["invites"].([]any)[0].(map[string]any)["link"].(string))
	if r := bob.do("POST", "/api/v1/invites/"+coLink+"/accept", map[string]any{}); r.Status != 422 {
		t.Fatalf("student accepting an instructor invite: %d %v", r.Status, r.Body)
	}
	if r := other.do("POST", "/api/v1/invites/"+coLink+"/accept", map[string]any{}); r.Status != 200 {
		t.Fatalf("instructor accepting an instructor invite: %d %v", r.Status, r.Body)
	}
	if r := other.do("GET", "/api/v1/cohorts/"+cid+"/board", nil); r.Status != 200 {
		t.Fatalf("co-teacher's board: %d", r.Status)
	}
	if r := teacher.do("POST", "/api/v1/cohorts/"+cid+"/invites", map[string]any{"link": true, "role": "admin"}); r.Status != 400 {
		t.Fatalf("invite for role admin: %d", r.Status)
	}
}

func TestServeStopsCleanlyOnCancel(t *testing.T) {
	t.Parallel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := store.Open(context.Background(), log, pgtest.New(t))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s := server.New(config.Config{SessionTTL: time.Hour, LoginRateLimit: 5, ShutdownGrace: 5 * time.Second}, log,
		server.Deps{Store: st, Web: fstest.MapFS{"index.html": {Data: []byte("x")}}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	r, err := http.Get("http://" + ln.Addr().String() + "/healthz")
	if err != nil || r.StatusCode != 200 {
		t.Fatalf("healthz: %v", err)
	}
	r.Body.Close()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve returned %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
	if _, err := http.Get("http://" + ln.Addr().String() + "/healthz"); err == nil {
		t.Fatal("still serving after shutdown")
	}
}
