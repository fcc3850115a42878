package server_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/oauth2-proxy/mockoidc"

	"github.com/ckalab/ckalab/config"
	"github.com/ckalab/ckalab/pgserver/pgtest"
	"github.com/ckalab/ckalab/server"
	"github.com/ckalab/ckalab/sso"
	"github.com/ckalab/ckalab/store"
)

// newSSOEnv is a server whose single sign-on is a real OpenID Connect
// provider (mockoidc) on loopback.
func newSSOEnv(t *testing.T, mod func(*sso.Config), cmod ...func(*config.Config)) (*env, *mockoidc.MockOIDC) {
	t.Helper()
	m, err := mockoidc.Run()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Shutdown() })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := store.Open(context.Background(), log, pgtest.New(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	ts := httptest.NewUnstartedServer(nil)
	base := "http://" + ts.Listener.Addr().String()
	sc := sso.Config{Issuer: m.Issuer(), ClientID: m.ClientID, ClientSecret: m.ClientSecret,
		RedirectURL: base + "/api/v1/auth/oidc/callback", Scopes: []string{"email", "profile", "groups"}}
	if mod != nil {
		mod(&sc)
	}
	p, err := sso.New(sc, log)
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Config{SessionTTL: time.Hour, LoginRateLimit: 5, ShutdownGrace: time.Second, PublicURL: base, OIDCName: "Mock IdP"}
	for _, f := range cmod {
		f(&cfg)
	}
	web := fstest.MapFS{"index.html": {Data: []byte("<html>app</html>")}}
	s := server.New(cfg, log, server.Deps{Store: st, Web: web, SSO: p})
	ts.Config.Handler = s.Handler()
	ts.Start()
	t.Cleanup(ts.Close)
	return &env{t: t, srv: ts, store: st}, m
}

// ssoSignIn runs the whole browser flow for user: ckalab → provider →
// ckalab's callback → the page. It returns the client and the page's URL.
func ssoSignIn(e *env, m *mockoidc.MockOIDC, user mockoidc.User, query string) (*client, *url.URL) {
	e.t.Helper()
	c := e.client()
	m.QueueUser(user)
	r, err := c.http.Get(e.srv.URL + "/api/v1/auth/oidc/start" + query)
	if err != nil {
		e.t.Fatal(err)
	}
	r.Body.Close()
	return c, r.Request.URL
}

func ssoError(u *url.URL) string { return u.Query().Get("sso_error") }

func meOf(t *testing.T, c *client) (store.Role, string, int) {
	t.Helper()
	r := c.do("GET", "/api/v1/me", nil)
	if r.Status != 200 {
		return "", "", len(r.Body)
	}
	u := r.Body["user"].(map[string]any)
	return store.Role(u["role"].(string)), u["email"].(string), len(r.Body["cohorts"].([]any))
}

func mockUser(sub, email string, groups ...string) *mockoidc.MockUser {
	return &mockoidc.MockUser{Subject: sub, Email: email, EmailVerified: true, PreferredUsername: "Pat " + sub, Groups: groups}
}

// unverified says email_verified: false in its ID token (MockUser omits
// a false claim).
type unverified struct{ *mockoidc.MockUser }

func (u unverified) Claims(_ []string, c *mockoidc.IDTokenClaims) (jwt.Claims, error) {
	return &struct {
		*mockoidc.IDTokenClaims
		Email         string `json:"email"`
		EmailVerified bool   `json:"email_verified"`
	}{c, u.Email, false}, nil
}

// forged is a user whose ID token the provider signs with altered claims.
type forged struct {
	*mockoidc.MockUser
	alter func(*mockoidc.IDTokenClaims)
}

func (f forged) Claims(scope []string, c *mockoidc.IDTokenClaims) (jwt.Claims, error) {
	f.alter(c)
	return f.MockUser.Claims(scope, c)
}

func TestSSOSignInCreatesAndFindsTheAccount(t *testing.T) {
	t.Parallel()
	e, m := newSSOEnv(t, func(c *sso.Config) { c.AllowedDomains = []string{"example.com"} })
	c, page := ssoSignIn(e, m, mockUser("s-1", "Pat@Example.com"), "?next=/labs/x")
	if page.Path != "/labs/x" || ssoError(page) != "" {
		t.Fatalf("landed on %s, want /labs/x", page)
	}
	role, email, _ := meOf(t, c)
	if role != store.RoleStudent || email != "pat@example.com" {
		t.Fatalf("first sign-in made %q %q, want a student pat@example.com", role, email)
	}
	u, err := e.store.UserByEmail(context.Background(), "pat@example.com")
	if err != nil || u.PasswordHash != "" || u.Name != "Pat s-1" {
		t.Fatalf("account %+v, %v: want no password and the provider's name", u, err)
	}
	// The same person again: the same account, whose email follows the
	// provider's.
	c2, _ := ssoSignIn(e, m, mockUser("s-1", "pat.new@example.com"), "")
	if _, email, _ := meOf(t, c2); email != "pat.new@example.com" {
		t.Fatalf("second sign-in is %q, want the first account with the new email", email)
	}
	if _, err := e.store.UserByEmail(context.Background(), "pat@example.com"); err == nil {
		t.Fatal("a second account was made")
	}
	// No password works for an account made by single sign-on.
	if r := e.client().login("pat.new@example.com", ""); r.Status != 400 && r.Status != 401 {
		t.Fatalf("password sign-in of an SSO account: %d", r.Status)
	}
	// An open redirect is refused: next stays on this server.
	for _, next := range []string{"//evil.example/x", "/%09/evil.example", "/%5Cevil.example", "https://evil.example/"} {
		c := e.client()
		c.http.CheckRedirect = func(r *http.Request, via []*http.Request) error {
			if r.URL.Host != via[0].URL.Host && !strings.Contains(r.URL.Path, "/oidc/") {
				return http.ErrUseLastResponse
			}
			return nil
		}
		m.QueueUser(mockUser("s-1", "pat.new@example.com"))
		r, err := c.http.Get(e.srv.URL + "/api/v1/auth/oidc/start?next=" + next)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if loc := r.Header.Get("Location"); loc != "" || r.Request.URL.Path != "/" {
			t.Fatalf("next=%s: sent to %q (page %s)", next, loc, r.Request.URL)
		}
	}
	// Without domains or groups to limit who signs in, only an invite
	// (or an existing account) lets a new person in.
	e2, m2 := newSSOEnv(t, nil)
	if _, page := ssoSignIn(e2, m2, mockUser("x", "x@example.com"), ""); ssoError(page) != "invite_required" {
		t.Fatalf("open sign-up without limits: %s", page)
	}
}

func TestSSOGroupsDecideRoles(t *testing.T) {
	t.Parallel()
	e, m := newSSOEnv(t, func(c *sso.Config) {
		c.AdminGroups, c.InstructorGroups, c.AllowedGroups = []string{"ops"}, []string{"teachers"}, []string{"cka-2026"}
	})
	for _, tc := range []struct {
		sub    string
		groups []string
		want   store.Role
		code   string
	}{
		{"t-1", []string{"teachers"}, store.RoleInstructor, ""},
		{"a-1", []string{"ops", "teachers"}, store.RoleAdmin, ""},
		{"s-1", []string{"cka-2026"}, store.RoleStudent, ""},
		{"x-1", []string{"marketing"}, "", "group"},
		// Roles follow the groups at every sign-in: t-1 left "teachers".
		{"t-1", []string{"cka-2026"}, store.RoleStudent, ""},
	} {
		c, page := ssoSignIn(e, m, mockUser(tc.sub, tc.sub+"@example.com", tc.groups...), "")
		if got := ssoError(page); got != tc.code {
			t.Fatalf("%s %v: sso_error %q, want %q", tc.sub, tc.groups, got, tc.code)
		}
		if role, _, _ := meOf(t, c); role != tc.want {
			t.Fatalf("%s %v: role %q, want %q", tc.sub, tc.groups, role, tc.want)
		}
	}
	if _, err := e.store.UserByEmail(context.Background(), "x-1@example.com"); err == nil {
		t.Fatal("a refused person got an account")
	}
}

func TestSSORefusesBadTokensAndPeople(t *testing.T) {
	t.Parallel()
	e, m := newSSOEnv(t, func(c *sso.Config) { c.AllowedDomains = []string{"school.edu"} })
	silent := mockUser("nv-1", "nv@school.edu")
	silent.EmailVerified = false
	for _, tc := range []struct {
		name string
		user mockoidc.User
		code string
	}{
		{"allowed", mockUser("ok-1", "ok@school.edu"), ""},
		{"other domain", mockUser("d-1", "d@gmail.com"), "domain"},
		{"unverified email", unverified{mockUser("u-1", "u@school.edu")}, "email_unverified"},
		{"no email_verified claim", silent, "email_unverified"},
		{"unicode email", mockUser("uc-1", "Kelvin@school.edu"), "token"},
		{"wrong audience", forged{mockUser("aud-1", "aud@school.edu"), func(c *mockoidc.IDTokenClaims) {
			c.Audience = jwt.ClaimStrings{"another-client"}
		}}, "token"},
		{"expired", forged{mockUser("exp-1", "exp@school.edu"), func(c *mockoidc.IDTokenClaims) {
			c.IssuedAt = jwt.NewNumericDate(time.Now().Add(-2 * time.Hour))
			c.NotBefore = c.IssuedAt
			c.ExpiresAt = jwt.NewNumericDate(time.Now().Add(-time.Hour))
		}}, "token"},
		{"another issuer", forged{mockUser("iss-1", "iss@school.edu"), func(c *mockoidc.IDTokenClaims) {
			c.Issuer = "https://evil.example"
		}}, "token"},
		{"wrong nonce", forged{mockUser("n-1", "n@school.edu"), func(c *mockoidc.IDTokenClaims) { c.Nonce = "replayed" }}, "token"},
	} {
		c, page := ssoSignIn(e, m, tc.user, "")
		if got := ssoError(page); got != tc.code {
			t.Errorf("%s: sso_error %q, want %q (landed on %s)", tc.name, got, tc.code, page)
			continue
		}
		_, _, n := meOf(t, c)
		if signedIn := c.do("GET", "/api/v1/me", nil).Status == 200; signedIn != (tc.code == "") {
			t.Errorf("%s: signed in %v (%d)", tc.name, signedIn, n)
		}
	}
}

func TestSSOStateBindsTheBrowser(t *testing.T) {
	t.Parallel()
	e, m := newSSOEnv(t, func(c *sso.Config) { c.AllowedDomains = []string{"example.com"} })
	// The victim's browser begins; the attacker's browser gets the
	// provider's redirect (login CSRF): no session without the cookie.
	victim := e.client()
	victim.http.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	m.QueueUser(mockUser("v-1", "v@example.com"))
	r, err := victim.http.Get(e.srv.URL + "/api/v1/auth/oidc/start")
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	auth, err := url.Parse(r.Header.Get("Location"))
	if err != nil || r.StatusCode != http.StatusFound {
		t.Fatalf("start: %d %v", r.StatusCode, err)
	}
	q := auth.Query()
	if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("nonce") == "" || q.Get("state") == "" {
		t.Fatalf("authorization request lacks PKCE, nonce or state: %s", auth.RawQuery)
	}
	r, err = victim.http.Get(auth.String())
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	callback := r.Header.Get("Location")
	jar, _ := cookiejar.New(nil)
	attacker := &client{e: e, http: &http.Client{Jar: jar}}
	r, err = attacker.http.Get(callback)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if ssoError(r.Request.URL) != "expired" || attacker.do("GET", "/api/v1/me", nil).Status != 401 {
		t.Fatalf("a callback from another browser signed in (landed on %s)", r.Request.URL)
	}
	// The browser that began completes it; the state is then spent: the
	// same callback with the same cookie signs nobody in again.
	var stateCookie string
	for _, ck := range victim.http.Jar.Cookies(&url.URL{Scheme: "http", Host: strings.TrimPrefix(e.srv.URL, "http://"), Path: "/api/v1/auth/oidc/callback"}) {
		if ck.Name == "ckalab_sso" {
			stateCookie = ck.Value
		}
	}
	victim.http.CheckRedirect = nil
	r, err = victim.http.Get(callback)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if ssoError(r.Request.URL) != "" || victim.do("GET", "/api/v1/me", nil).Status != 200 {
		t.Fatalf("the browser that began could not finish (landed on %s)", r.Request.URL)
	}
	replay := e.client()
	replay.http.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	req, _ := http.NewRequest("GET", callback, nil)
	req.AddCookie(&http.Cookie{Name: "ckalab_sso", Value: stateCookie})
	r, err = replay.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if loc := r.Header.Get("Location"); !strings.Contains(loc, "sso_error=expired") || replay.do("GET", "/api/v1/me", nil).Status != 401 {
		t.Fatalf("a replayed callback: %s", loc)
	}
}

func TestSSOLinksAndJoins(t *testing.T) {
	t.Parallel()
	e, m := newSSOEnv(t, nil)
	e.user("ana@example.com", store.RoleInstructor)
	old := e.client()
	if r := old.login("ana@example.com", "password-ana@example.com"); r.Status != 200 {
		t.Fatalf("login: %d", r.Status)
	}
	// A verified email links the existing account. Whoever set its
	// password (someone who signed up with Ana's email first?) loses it.
	c, page := ssoSignIn(e, m, mockUser("ana-sub", "ana@example.com"), "")
	if role, _, _ := meOf(t, c); role != store.RoleInstructor || ssoError(page) != "" {
		t.Fatalf("link: role %q, page %s", role, page)
	}
	if r := e.client().login("ana@example.com", "password-ana@example.com"); r.Status != 401 {
		t.Fatalf("password after linking: %d, want 401", r.Status)
	}
	if r := old.do("GET", "/api/v1/me", nil); r.Status != 401 {
		t.Fatalf("a password session survived the link: %d", r.Status)
	}
	// Another identity with the same email: unverified, or not saying,
	// is refused; verified, the account is already linked.
	if _, page := ssoSignIn(e, m, unverified{mockUser("mallory", "ana@example.com")}, ""); ssoError(page) != "email_unverified" {
		t.Fatalf("unverified takeover: %s", page)
	}
	if _, page := ssoSignIn(e, m, mockUser("mallory", "ana@example.com"), ""); ssoError(page) != "unlinkable" {
		t.Fatalf("second identity: %s", page)
	}
	// An invite lets a new person in; the invite page then asks before
	// enrolling (a link alone enrols nobody).
	token := signUpLink(t, e)
	c, page = ssoSignIn(e, m, mockUser("stu-1", "stu@example.com"), "?invite="+token)
	if _, _, cohorts := meOf(t, c); cohorts != 0 || page.Path != "/join/"+token || ssoError(page) != "" {
		t.Fatalf("invite through single sign-on: %d cohorts, landed on %s", cohorts, page)
	}
	c.csrf = c.do("GET", "/api/v1/me", nil).Body["csrfToken"].(string)
	if r := c.do("POST", "/api/v1/invites/"+token+"/accept", map[string]any{}, "Origin", e.srv.URL); r.Status != 200 {
		t.Fatalf("join: %d %v", r.Status, r.Body)
	}
	if _, _, cohorts := meOf(t, c); cohorts != 1 {
		t.Fatalf("after Join: %d cohorts", cohorts)
	}
	if _, page := ssoSignIn(e, m, mockUser("stu-2", "stu2@example.com"), "?invite=no-such-invite-token-0123456789"); ssoError(page) != "invite" || !strings.HasPrefix(page.Path, "/join/") {
		t.Fatalf("unknown invite: landed on %s", page)
	}
	if _, err := e.store.UserByEmail(context.Background(), "stu2@example.com"); err == nil {
		t.Fatal("an unknown invite made an account")
	}
}

func TestSSORolesNeverLoseTheLastAdmin(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// Only instructor groups: admins stay admins.
	e, m := newSSOEnv(t, func(c *sso.Config) { c.InstructorGroups = []string{"teachers"} })
	e.user("root@example.com", store.RoleAdmin)
	if c, _ := ssoSignIn(e, m, mockUser("root", "root@example.com"), ""); func() store.Role { r, _, _ := meOf(t, c); return r }() != store.RoleAdmin {
		t.Fatal("an admin was demoted though no admin groups are set")
	}
	// A token without a groups claim keeps roles (a provider not asked
	// for groups must not demote every instructor).
	e.user("teach@example.com", store.RoleInstructor)
	nogroups := mockUser("teach", "teach@example.com")
	nogroups.Groups = nil
	if c, _ := ssoSignIn(e, m, nogroups, ""); func() store.Role { r, _, _ := meOf(t, c); return r }() != store.RoleInstructor {
		t.Fatal("no groups claim demoted an instructor")
	}
	// Left the teachers' group: a student now, and no longer an instructor
	// of the cohort made before.
	c, _ := ssoSignIn(e, m, mockUser("teach", "teach@example.com", "teachers"), "")
	c.csrf = c.do("GET", "/api/v1/me", nil).Body["csrfToken"].(string)
	r := c.do("POST", "/api/v1/cohorts", map[string]string{"name": "Old class"}, "Origin", e.srv.URL)
	if r.Status != http.StatusCreated {
		t.Fatalf("cohort: %d %v", r.Status, r.Body)
	}
	cid := r.Body["cohort"].(map[string]any)["id"].(string)
	c, _ = ssoSignIn(e, m, mockUser("teach", "teach@example.com", "students"), "")
	if role, _, _ := meOf(t, c); role != store.RoleStudent {
		t.Fatalf("left the teachers' group: %q", role)
	}
	if r := c.do("GET", "/api/v1/cohorts/"+cid+"/invites", nil); r.Status != http.StatusForbidden {
		t.Fatalf("a demoted instructor still reads invites: %d", r.Status)
	}
	// With admin groups: an admin outside them is demoted, unless last.
	e2, m2 := newSSOEnv(t, func(c *sso.Config) { c.AdminGroups = []string{"ops"} })
	e2.user("a1@example.com", store.RoleAdmin)
	e2.user("a2@example.com", store.RoleAdmin)
	if c, _ := ssoSignIn(e2, m2, mockUser("a1", "a1@example.com", "staff"), ""); func() store.Role { r, _, _ := meOf(t, c); return r }() != store.RoleStudent {
		t.Fatal("an admin outside the admin groups kept the role")
	}
	if c, _ := ssoSignIn(e2, m2, mockUser("a2", "a2@example.com", "staff"), ""); func() store.Role { r, _, _ := meOf(t, c); return r }() != store.RoleAdmin {
		t.Fatal("the last admin was demoted")
	}
	evs, err := e2.store.AuditEvents(ctx, 50)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, ev := range evs {
		found = found || (ev.Action == "user.role.sso" && ev.Target == "a1@example.com")
	}
	if !found {
		t.Fatal("the role change is not in the audit log")
	}
}

func TestSSOOnlyTurnsPasswordsOff(t *testing.T) {
	t.Parallel()
	e, m := newSSOEnv(t, nil, func(c *config.Config) { c.NoPasswordLogin = true })
	e.user("ana@example.com", store.RoleStudent)
	r := e.client().do("GET", "/api/v1/auth/methods", nil)
	sso, _ := r.Body["sso"].(map[string]any)
	if r.Body["password"] != false || sso["name"] != "Mock IdP" {
		t.Fatalf("methods: %v", r.Body)
	}
	if r := e.client().login("ana@example.com", "password-ana@example.com"); r.Status != 403 || errCode(r) != "password_login_disabled" {
		t.Fatalf("password sign-in with passwords off: %d %v", r.Status, r.Body)
	}
	e.user("teacher@example.com", store.RoleInstructor)
	if c, page := ssoSignIn(e, m, mockUser("t", "teacher@example.com"), ""); ssoError(page) != "" || c.do("GET", "/api/v1/me", nil).Status != 200 {
		t.Fatalf("single sign-on with passwords off: %s", page)
	}
}

func TestSSONotConfigured(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if r := e.client().do("GET", "/api/v1/auth/oidc/start", nil); r.Status != 404 {
		t.Fatalf("start without a provider: %d", r.Status)
	}
	if r := e.client().do("GET", "/api/v1/auth/methods", nil); r.Body["password"] != true || r.Body["sso"] != nil {
		t.Fatalf("methods without a provider: %v", r.Body)
	}
}
