package server_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
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

// scrape reads /metrics and returns the samples of one metric by their
// label set ("" for none).
func scrape(t *testing.T, e *env, metric string) map[string]float64 {
	t.Helper()
	r, err := http.Get(e.srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	out := map[string]float64{}
	for _, line := range strings.Split(string(b), "\n") {
		rest, ok := strings.CutPrefix(line, metric)
		if !ok || (rest != "" && rest[0] != '{' && rest[0] != ' ') {
			continue
		}
		i := strings.LastIndexByte(rest, ' ')
		v, err := strconv.ParseFloat(rest[i+1:], 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		out[strings.TrimSpace(rest[:i])] = v
	}
	return out
}

func randomWord(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('A' + rand.IntN(26))
	}
	return string(b)
}

// Item 6: neither a client's methods nor its paths become label values.
func TestAbuseMetricLabelsStayBounded(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.client()
	before := scrape(t, e, "ckalab_http_requests_total")
	methods, paths := map[string]bool{}, map[string]bool{}
	for i := 0; i < 1000; i++ {
		// "X…" is never a known method; one is 64 KiB long.
		m := "X" + randomWord(7+rand.IntN(24))
		if i == 0 {
			m = "X" + randomWord(64<<10)
		}
		methods[m] = true
		path := "/" + randomWord(12)
		if i%2 == 0 {
			path = "/api/v1/" + randomWord(12)
		}
		paths[path] = true
		if r := c.do(m, path, nil); r.Status != http.StatusMethodNotAllowed || errCode(r) != "method_not_allowed" {
			t.Fatalf("%.20s… %s: %d %.300s, want 405 in the error shape", m, path, r.Status, fmt.Sprint(r.Body))
		}
	}
	for i := 0; i < 200; i++ {
		path := "/" + randomWord(12)
		if i%2 == 0 {
			path = "/api/v1/" + randomWord(12)
		}
		paths[path] = true
		c.do("GET", path, nil)
	}
	after := scrape(t, e, "ckalab_http_requests_total")
	if n := len(after) - len(before); n > 5 {
		t.Errorf("1200 requests with random methods and paths added %d series, want a handful", n)
	}
	var other float64
	for labels, v := range after {
		for _, part := range strings.Split(strings.Trim(labels, "{}"), ",") {
			k, val, _ := strings.Cut(part, "=")
			val, _ = strconv.Unquote(val)
			if methods[val] || paths[val] {
				t.Fatalf("a client's text became a label value: %.80s", labels)
			}
			if k == "method" && val == "other" {
				other += v
			}
		}
	}
	if other != 1000 {
		t.Errorf("requests counted under method=\"other\": %v, want 1000", other)
	}
	for _, want := range []string{`route="unmatched"`, `route="web"`} {
		found := false
		for labels := range after {
			found = found || strings.Contains(labels, want)
		}
		if !found {
			t.Errorf("no series with %s: %v", want, after)
		}
	}
}

// Item 7: X-Forwarded-For counts only from a configured proxy.
func TestAbuseForwardedForOnlyFromTrustedProxies(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	failLogin := func(e *env, i int, forwarded string) resp {
		return e.client().do("POST", "/api/v1/auth/login",
			map[string]string{"email": fmt.Sprintf("nobody%d@example.com", i), "password": "wrong-password"},
			"X-Forwarded-For", forwarded, "X-Real-Ip", forwarded)
	}
	clients := func(e *env) []string {
		evs, err := e.store.AuditEvents(ctx, 100)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, ev := range evs {
			if ev.Action == "login.failed" {
				out = append(out, ev.Client)
			}
		}
		return out
	}

	// No proxy trusted (the default): each spoofed address is ignored, so
	// the limiter counts every attempt against the real one.
	e := newEnv(t) // 5 failed sign-ins per client
	for i := 0; i < 5; i++ {
		if r := failLogin(e, i, fmt.Sprintf("198.51.100.%d", i+1)); r.Status != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d %v", i, r.Status, r.Body)
		}
	}
	if r := failLogin(e, 99, "198.51.100.99"); r.Status != http.StatusTooManyRequests || errCode(r) != "rate_limited" {
		t.Fatalf("6th failed sign-in with a new spoofed address: %d %v, want 429", r.Status, r.Body)
	}
	got := clients(e)
	if len(got) != 5 {
		t.Fatalf("audited failures: %v", got)
	}
	for _, cl := range got {
		if cl != "127.0.0.1" {
			t.Fatalf("audit log believed a spoofed address: %v", got)
		}
	}

	// The loopback proxy trusted: the address it forwards is the client.
	e = newEnv(t, func(c *config.Config) { c.TrustedProxies = "127.0.0.1" })
	want := map[string]bool{}
	for i := 0; i < 7; i++ {
		addr := fmt.Sprintf("203.0.113.%d", i+1)
		want[addr] = true
		if r := failLogin(e, i, addr); r.Status != http.StatusUnauthorized {
			t.Fatalf("attempt %d through the trusted proxy: %d %v", i, r.Status, r.Body)
		}
	}
	for _, cl := range clients(e) {
		if !want[cl] {
			t.Fatalf("audit log through a trusted proxy: %v, want the forwarded addresses", clients(e))
		}
	}
}

// signUpLink makes an instructor with a cohort and a link invite, and
// returns the invite's token.
func signUpLink(t testing.TB, e *env) string {
	t.Helper()
	e.user("teacher@example.com", store.RoleInstructor)
	teacher := e.client()
	if r := teacher.login("teacher@example.com", "password-teacher@example.com"); r.Status != 200 {
		t.Fatalf("login: %d %v", r.Status, r.Body)
	}
	r := teacher.do("POST", "/api/v1/cohorts", map[string]string{"name": "Abuse"})
	if r.Status != http.StatusCreated {
		t.Fatalf("cohort: %d %v", r.Status, r.Body)
	}
	cid := r.Body["cohort"].(map[string]any)["id"].(string)
	r = teacher.do("POST", "/api/v1/cohorts/"+cid+"/invites", map[string]any{"link": true})
	if r.Status != http.StatusCreated {
		t.Fatalf("invite: %d %v", r.Status, r.Body)
	}
	link := r.Body["invites"].([]any)[0].(map[string]any)["link"].(string)
	return link[strings.LastIndex(link, "/")+1:]
}

func signUp(e *env, token, email string) resp {
	return e.client().do("POST", "/api/v1/invites/"+token+"/accept",
		map[string]string{"email": email, "name": "S", "password": "student-password"})
}

// Item 8: an invite that does not exist costs no password hash.
func TestAbuseUnknownInviteCostsNoHash(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	token := signUpLink(t, e)
	hashes := func() float64 { return scrape(t, e, "ckalab_password_hashes_total")[""] }
	before := hashes()
	for i := 0; i < 20; i++ {
		if r := signUp(e, auth.NewToken(), fmt.Sprintf("s%d@example.com", i)); r.Status != http.StatusNotFound || errCode(r) != "not_found" {
			t.Fatalf("unknown invite: %d %v", r.Status, r.Body)
		}
	}
	if n := hashes() - before; n != 0 {
		t.Fatalf("20 sign-ups with unknown invites computed %v password hashes, want 0", n)
	}
	if r := signUp(e, token, "real@example.com"); r.Status != 200 {
		t.Fatalf("sign-up: %d %v", r.Status, r.Body)
	}
	if n := hashes() - before; n != 1 {
		t.Fatalf("a sign-up counted %v hashes, want 1", n)
	}
}

// Item 8: sign-ups through an invite are limited per client address.
func TestAbuseSignUpsRateLimited(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *config.Config) { c.LoginRateLimit = 1 }) // 5 sign-ups per client
	token := signUpLink(t, e)
	for i := 0; i < 5; i++ {
		if r := signUp(e, token, fmt.Sprintf("s%d@example.com", i)); r.Status != 200 {
			t.Fatalf("sign-up %d: %d %v", i, r.Status, r.Body)
		}
	}
	r := signUp(e, token, "one-too-many@example.com")
	if r.Status != http.StatusTooManyRequests || errCode(r) != "rate_limited" || r.Header.Get("Retry-After") == "" {
		t.Fatalf("6th sign-up from one address: %d %v, want 429 with Retry-After", r.Status, r.Body)
	}
	// Sign-ups and sign-ins are counted apart.
	if r := e.client().login("s0@example.com", "student-password"); r.Status != 200 {
		t.Fatalf("sign-in after the sign-ups: %d %v", r.Status, r.Body)
	}
}

// Item 9: every user string is bounded and plain text; a bad one is a 400
// in the error shape, never a 500 from the database.
func TestInputLimits(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	token := signUpLink(t, e)
	teacher := e.client()
	teacher.login("teacher@example.com", "password-teacher@example.com")
	r := teacher.do("POST", "/api/v1/cohorts", map[string]string{"name": "Limits"})
	cid := r.Body["cohort"].(map[string]any)["id"].(string)

	long := func(n int) string { return strings.Repeat("é", n) } // 2 bytes each
	email255 := strings.Repeat("a", 243) + "@example.com"
	login := func(email, pw string) map[string]string { return map[string]string{"email": email, "password": pw} }
	accept := func(email, name, pw string) map[string]string {
		return map[string]string{"email": email, "name": name, "password": pw}
	}
	cases := []struct {
		name     string
		c        *client
		path     string
		body     any
		wantText string // part of the details
	}{
		{"login NUL in email", e.client(), "/api/v1/auth/login", login("ana\x00@example.com", "student-password"), "email: must not contain control characters"},
		{"login NUL in password", e.client(), "/api/v1/auth/login", login("ana@example.com", "pass\x00word-long"), "password: must not contain control characters"},
		{"login escape in email", e.client(), "/api/v1/auth/login", login("\x1b[2Jana@example.com", "student-password"), "email: must not contain control characters"},
		{"login email too long", e.client(), "/api/v1/auth/login", login(email255, "student-password"), "email: at most 254"},
		{"login not an email", e.client(), "/api/v1/auth/login", login("ana", "student-password"), "email: not an email address"},
		{"login password too long", e.client(), "/api/v1/auth/login", login("ana@example.com", strings.Repeat("p", 1025)), "password: at most 1024 bytes"},
		{"sign-up NUL in email", e.client(), "/api/v1/invites/" + token + "/accept", accept("s\x00@example.com", "S", "student-password"), "email: must not"},
		{"sign-up NUL in name", e.client(), "/api/v1/invites/" + token + "/accept", accept("s1@example.com", "S\x00", "student-password"), "name: must not"},
		{"sign-up newline in name", e.client(), "/api/v1/invites/" + token + "/accept", accept("s1@example.com", "An\nna", "student-password"), "name: must not"},
		{"sign-up name too long", e.client(), "/api/v1/invites/" + token + "/accept", accept("s1@example.com", long(201), "student-password"), "name: at most 200"},
		{"sign-up NUL in password", e.client(), "/api/v1/invites/" + token + "/accept", accept("s1@example.com", "S", "student\x00password"), "password: must not"},
		{"sign-up email too long", e.client(), "/api/v1/invites/" + token + "/accept", accept(email255, "S", "student-password"), "email: at most 254"},
		{"sign-up display-name address", e.client(), "/api/v1/invites/" + token + "/accept", accept("Ana <ana@example.com>", "S", "student-password"), "email: not an email address"},
		{"cohort NUL in name", teacher, "/api/v1/cohorts", map[string]string{"name": "Autumn\x00"}, "name: must not"},
		{"cohort DEL in name", teacher, "/api/v1/cohorts", map[string]string{"name": "Autumn\x7f"}, "name: must not"},
		{"cohort name too long", teacher, "/api/v1/cohorts", map[string]string{"name": long(201)}, "name: at most 200"},
		{"cohort blank name", teacher, "/api/v1/cohorts", map[string]string{"name": " \t"}, "name: required"},
		{"invite NUL in email", teacher, "/api/v1/cohorts/" + cid + "/invites", map[string]any{"emails": []string{"bob\x00@example.com"}}, "emails[0]"},
		{"invite email too long", teacher, "/api/v1/cohorts/" + cid + "/invites", map[string]any{"emails": []string{email255}}, "at most 254"},
		{"invite NUL in CSV email", teacher, "/api/v1/cohorts/" + cid + "/invites", map[string]any{"csv": "email\nbob\x00@example.com\n"}, "csv line 2"},
	}
	for _, tc := range cases {
		r := tc.c.do("POST", tc.path, tc.body)
		details := fmt.Sprint(r.Body["error"])
		if r.Status != http.StatusBadRequest || errCode(r) != "bad_request" || !strings.Contains(details, tc.wantText) {
			t.Errorf("%s: %d %v, want 400 bad_request mentioning %q", tc.name, r.Status, r.Body, tc.wantText)
		}
	}

	// At the limits, and beyond ASCII, inputs pass.
	if r := teacher.do("POST", "/api/v1/cohorts", map[string]string{"name": long(200)}); r.Status != http.StatusCreated {
		t.Errorf("a 200-character cohort name: %d %v", r.Status, r.Body)
	}
	if r := signUp(e, token, "ana@example.com"); r.Status != 200 {
		t.Fatalf("sign-up: %d %v", r.Status, r.Body)
	}
	// A User-Agent that is not UTF-8 is stored cleaned, not refused by the database.
	if r := e.client().do("POST", "/api/v1/auth/login", login("ana@example.com", "student-password"), "User-Agent", "probe\xff\xfe"+strings.Repeat("é", 400)); r.Status != 200 {
		t.Errorf("sign-in with a binary User-Agent: %d %v", r.Status, r.Body)
	}
}

// Item 9: with the read and write deadlines a server sets, the live board
// (server-sent events) and a terminal (websocket) outlive them.
func TestAbuseLongLivedRoutesOutliveDeadlines(t *testing.T) {
	t.Parallel()
	base := termEnv(t, echoLauncher{}, 4)
	ts := httptest.NewUnstartedServer(base.srv.Config.Handler)
	ts.Config.ReadTimeout, ts.Config.WriteTimeout = time.Second, time.Second
	ts.Start()
	t.Cleanup(ts.Close)
	e := &env{t: t, srv: ts, store: base.store}

	token := signUpLink(t, e)
	teacher := e.client()
	teacher.login("teacher@example.com", "password-teacher@example.com")
	cid := teacher.do("GET", "/api/v1/cohorts", nil).Body["cohorts"].([]any)[0].(map[string]any)["id"].(string)
	req, _ := http.NewRequest("GET", ts.URL+"/api/v1/cohorts/"+cid+"/board/events", nil)
	res, err := teacher.http.Do(req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("board events: %v %v", res, err)
	}
	defer res.Body.Close()
	events := boardEvents(t, res.Body)
	waitBoard(t, events, func(boardJSON) bool { return true })

	student := e.user("student@example.com", store.RoleStudent)
	sc := e.client()
	sc.login("student@example.com", "password-student@example.com")
	tm := openTerm(t, sc, "/api/v1/environments/"+inUse(t, e.store, student.ID, "node-a").String()+"/terminal")

	time.Sleep(2500 * time.Millisecond) // past both deadlines
	if r := signUp(e, token, "late@example.com"); r.Status != 200 {
		t.Fatalf("sign-up: %d %v", r.Status, r.Body)
	}
	waitBoard(t, events, func(b boardJSON) bool {
		for _, s := range b.Students {
			if s.User.Email == "late@example.com" {
				return true
			}
		}
		return false
	})
	tm.typeText("still here\n")
	tm.until("still here", 5*time.Second)
}

// Item 9: Serve deletes sessions past their expiry, and only those.
func TestAbuseServePurgesExpiredSessions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := store.Open(ctx, log, pgtest.New(t))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	u, err := st.CreateUser(ctx, "ana@example.com", "", store.RoleStudent, "x")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Pool().Exec(ctx, `INSERT INTO web_sessions (token_hash, user_id, csrf_token, created_at, expires_at)
		VALUES ('expired', $1, 'c', now() - interval '2 hours', now() - interval '1 hour')`, u.ID); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateSession(ctx, []byte("live"), u.ID, "c", time.Now().Add(time.Hour), "ua"); err != nil {
		t.Fatal(err)
	}
	count := func(token string) int {
		var n int
		if err := st.Pool().QueryRow(ctx, `SELECT count(*) FROM web_sessions WHERE token_hash = $1`, []byte(token)).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	s := server.New(config.Config{SessionTTL: time.Hour, LoginRateLimit: 5, ShutdownGrace: time.Second}, log,
		server.Deps{Store: st, Web: fstest.MapFS{"index.html": {Data: []byte("x")}}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Serve(sctx, ln) }()
	deadline := time.Now().Add(10 * time.Second)
	for count("expired") != 0 {
		if time.Now().After(deadline) {
			t.Fatal("Serve did not purge the expired session")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if count("live") != 1 {
		t.Fatal("Serve purged a live session")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
}
