package server

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/ckalab/ckalab/auth"
	"github.com/ckalab/ckalab/sso"
	"github.com/ckalab/ckalab/store"
)

// ssoCookie binds a sign-in in flight to the browser that began it.
const (
	ssoCookie     = "ckalab_sso"
	ssoCookiePath = "/api/v1/auth/oidc/"
)

// signInMethods tells the sign-in and invite pages what to offer.
func (s *Server) signInMethods(c *gin.Context) {
	out := gin.H{"password": !s.cfg.NoPasswordLogin, "sso": nil}
	if s.sso != nil {
		out["sso"] = gin.H{"name": s.cfg.OIDCName, "start": "/api/v1/auth/oidc/start"}
	}
	c.JSON(http.StatusOK, out)
}

// passwordLoginOff refuses a password sign-in or sign-up when the server
// takes single sign-on only.
func (s *Server) passwordLoginOff(c *gin.Context) bool {
	if !s.cfg.NoPasswordLogin {
		return false
	}
	s.fail(c, &apiError{Status: http.StatusForbidden, Code: "password_login_disabled",
		Message: "password sign-in is turned off on this server: use \"Sign in with " + s.cfg.OIDCName + "\""})
	return true
}

// safeNext keeps a return path on this server: an absolute path, not
// "//host" or "/\host", which browsers read as another site.
func safeNext(next string) string {
	if len(next) > 500 || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") {
		return "/"
	}
	// Browsers drop tabs and newlines and read a backslash as a slash:
	// "/\t/evil" is "//evil" to them.
	for i := 0; i < len(next); i++ {
		if next[i] < 0x20 || next[i] == 0x7f || next[i] == '\\' {
			return "/"
		}
	}
	if u, err := url.Parse(next); err != nil || u.Scheme != "" || u.Host != "" {
		return "/"
	}
	return next
}

// ssoFailed sends the browser back to the page it came from with a code
// the page explains (codes, not text: the URL cannot put words in our mouth).
func (s *Server) ssoFailed(c *gin.Context, code, invite string) {
	page := "/login"
	if invite != "" {
		page = "/join/" + url.PathEscape(invite)
	}
	c.Redirect(http.StatusFound, page+"?sso_error="+url.QueryEscape(code))
}

// ssoStart sends the browser to the provider.
func (s *Server) ssoStart(c *gin.Context) {
	if s.sso == nil {
		s.fail(c, errNotFound("single sign-on is not configured on this server"))
		return
	}
	invite := c.Query("invite")
	if len(invite) > 100 || strings.ContainsAny(invite, "/?#% ") {
		s.fail(c, errBadRequest("malformed invite token", nil))
		return
	}
	authURL, state, err := s.sso.Begin(c.Request.Context(), invite, safeNext(c.Query("next")))
	if err != nil {
		s.log.Warn("single sign-on: cannot begin", "err", err)
		s.ssoFailed(c, "unavailable", invite)
		return
	}
	http.SetCookie(c.Writer, &http.Cookie{Name: ssoCookie, Value: state, Path: ssoCookiePath,
		MaxAge: int(sso.LoginTTL.Seconds()), HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: s.cfg.SecureCookies})
	c.Header("Cache-Control", "no-store")
	c.Redirect(http.StatusFound, authURL)
}

// ssoCallback ends a sign-in: the code becomes a verified identity, the
// identity an account (found, linked or created), and the account a session.
func (s *Server) ssoCallback(c *gin.Context) {
	if s.sso == nil {
		s.fail(c, errNotFound("single sign-on is not configured on this server"))
		return
	}
	ctx := c.Request.Context()
	state, code := c.Query("state"), c.Query("code")
	cookie, _ := c.Cookie(ssoCookie)
	http.SetCookie(c.Writer, &http.Cookie{Name: ssoCookie, Value: "", Path: ssoCookiePath, MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: s.cfg.SecureCookies})
	c.Header("Cache-Control", "no-store")
	if state == "" || !auth.TokensEqual(cookie, state) {
		// Not begun in this browser: a forged or replayed callback.
		s.log.Warn("single sign-on: state does not match this browser's sign-in", "client", c.ClientIP())
		s.ssoFailed(c, "expired", "")
		return
	}
	if e := c.Query("error"); e != "" || code == "" {
		l, _ := s.sso.Cancel(state)
		s.log.Info("single sign-on: the provider refused", "error", cleanHeader(e, 64))
		s.ssoFailed(c, "refused", l.Invite)
		return
	}
	id, l, err := s.sso.Finish(ctx, state, code)
	if err != nil {
		s.log.Warn("single sign-on: sign-in failed", "err", err, "client", c.ClientIP())
		switch {
		case errors.Is(err, sso.ErrExpired):
			s.ssoFailed(c, "expired", l.Invite)
		case errors.Is(err, sso.ErrUnavailable):
			s.ssoFailed(c, "unavailable", l.Invite)
		default:
			s.ssoFailed(c, "token", l.Invite)
		}
		return
	}
	d, err := s.sso.Authorize(id)
	var denial *sso.Denial
	if errors.As(err, &denial) {
		s.log.Info("single sign-on: refused by policy", "email", id.Email, "reason", denial.Reason)
		_ = s.store.Audit(ctx, nil, "login.sso.denied", id.Email, map[string]any{"reason": denial.Code}, c.ClientIP())
		s.ssoFailed(c, denial.Code, l.Invite)
		return
	}
	if d.NoGroupsClaim {
		s.log.Warn("single sign-on: role groups are set but the token lists no groups; role kept (ask for the groups scope or set --oidc-groups-claim)", "email", id.Email)
	}
	mayCreate := d.MayCreate
	if l.Invite != "" {
		// An invite lets its holder in, as the password sign-up does.
		if _, _, err := s.store.InviteByToken(ctx, auth.HashToken(l.Invite)); err != nil {
			s.ssoFailed(c, "invite", l.Invite)
			return
		}
		mayCreate = true
	}
	r, err := s.store.SignInExternal(ctx, store.ExternalSignIn{
		Identity:         store.ExternalIdentity{Issuer: id.Issuer, Subject: id.Subject, Email: id.Email, Name: id.Name},
		Role:             store.Role(d.Role),
		AdminsFromGroups: d.AdminsFromGroups,
		MayCreate:        mayCreate,
	})
	switch {
	case errors.Is(err, store.ErrUnlinkable):
		s.ssoFailed(c, "unlinkable", l.Invite)
		return
	case errors.Is(err, store.ErrNoAccount):
		s.ssoFailed(c, "invite_required", "")
		return
	case errors.Is(err, store.ErrDisabled):
		_ = s.store.Audit(ctx, nil, "login.sso.disabled", id.Email, nil, c.ClientIP())
		s.ssoFailed(c, "disabled", l.Invite)
		return
	case err != nil:
		s.log.Error("single sign-on: account", "err", err)
		s.ssoFailed(c, "error", l.Invite)
		return
	}
	u := r.User
	if r.KeptLastAdmin {
		s.log.Warn("single sign-on: the groups would demote the last admin; kept as admin", "email", u.Email)
	}
	// A browser signed in as someone else: that session ends here.
	if h, ok := c.Get(ctxTokenHash); ok {
		_ = s.store.DeleteSession(ctx, h.([]byte))
	}
	if _, err := s.startSession(c, u); err != nil {
		s.log.Error("single sign-on: session", "err", err)
		s.ssoFailed(c, "error", l.Invite)
		return
	}
	action := "login.sso"
	switch {
	case r.Created:
		action = "user.create.sso"
	case r.Linked:
		action = "user.link.sso"
	}
	_ = s.store.Audit(ctx, &u.ID, action, u.Email, map[string]any{"role": string(u.Role)}, c.ClientIP())
	if r.OldRole != "" {
		_ = s.store.Audit(ctx, &u.ID, "user.role.sso", u.Email, map[string]any{"from": string(r.OldRole), "to": string(u.Role)}, c.ClientIP())
	}
	if l.Invite != "" {
		// The invite page asks before enrolling (a POST with the CSRF
		// token): a link alone cannot enrol anyone.
		c.Redirect(http.StatusFound, "/join/"+url.PathEscape(l.Invite))
		return
	}
	c.Redirect(http.StatusFound, safeNext(l.Next))
}
