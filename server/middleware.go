package server

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ckalab/ckalab/auth"
	"github.com/ckalab/ckalab/store"
)

const (
	ctxRequestID = "ckalab.request_id"
	ctxUser      = "ckalab.user"
	ctxSession   = "ckalab.session"
	ctxTokenHash = "ckalab.token_hash"

	sessionCookie = "ckalab_session"
	csrfHeader    = "X-CSRF-Token"
)

// observe gives each request an id, recovers panics into the error shape,
// and logs and counts the request. It logs the route template, never the
// raw path or query (invite tokens live there), nor any header or body.
func (s *Server) observe() gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		var b [8]byte
		_, _ = rand.Read(b[:])
		id := hex.EncodeToString(b[:])
		c.Set(ctxRequestID, id)
		c.Header("X-Request-Id", id)
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.Error("panic serving request", "route", c.FullPath(), "panic", fmt.Sprint(p), "stack", string(debug.Stack()), "request_id", id)
				if !c.Writer.Written() {
					c.AbortWithStatusJSON(http.StatusInternalServerError, gin.H{"error": &apiError{Code: "internal", Message: "internal error; the server log has details (request " + id + ")"}})
				}
			}
			route := c.FullPath()
			if route == "" {
				route = "unmatched"
				if !strings.HasPrefix(c.Request.URL.Path, "/api/") {
					route = "web"
				}
			}
			d := time.Since(start)
			s.metrics.observe(c, route, d)
			level := slog.LevelInfo
			if route == "web" || route == "/healthz" || route == "/readyz" || route == "/metrics" {
				level = slog.LevelDebug
			}
			attrs := []any{"method", methodLabel(c.Request.Method), "route", route, "status", c.Writer.Status(),
				"duration_ms", d.Milliseconds(), "bytes", c.Writer.Size(), "request_id", id, "client", c.ClientIP()}
			if u, ok := c.Get(ctxUser); ok {
				attrs = append(attrs, "user", u.(store.User).ID)
			}
			s.log.Log(c.Request.Context(), level, "http request", attrs...)
		}()
		if !knownMethod(c.Request.Method) {
			// Refused before any handler runs, and counted as "other":
			// a method is client text of any length.
			s.fail(c, &apiError{Status: http.StatusMethodNotAllowed, Code: "method_not_allowed", Message: "this HTTP method is not allowed"})
			return
		}
		c.Next()
	}
}

// longLived lifts the server's read and write deadlines for a route that
// streams for as long as it is open (server-sent events, websockets); the
// deadlines guard every other request against slow clients.
func (s *Server) longLived() gin.HandlerFunc {
	return func(c *gin.Context) {
		rc := http.NewResponseController(c.Writer)
		for _, err := range []error{rc.SetReadDeadline(time.Time{}), rc.SetWriteDeadline(time.Time{})} {
			if err != nil && !errors.Is(err, http.ErrNotSupported) {
				s.log.Warn("lift deadlines of a long-lived request", "route", c.FullPath(), "err", err)
			}
		}
		c.Next()
	}
}

// loadSession puts the signed-in user, if any, into the context.
func (s *Server) loadSession() gin.HandlerFunc {
	return func(c *gin.Context) {
		ck, err := c.Request.Cookie(sessionCookie)
		if err != nil || ck.Value == "" || len(ck.Value) > 100 {
			c.Next()
			return
		}
		h := auth.HashToken(ck.Value)
		sess, u, err := s.store.SessionUser(c.Request.Context(), h)
		if err != nil {
			if !errors.Is(err, store.ErrNotFound) {
				s.fail(c, err)
				return
			}
			c.Next()
			return
		}
		c.Set(ctxUser, u)
		c.Set(ctxSession, sess)
		c.Set(ctxTokenHash, h)
		c.Next()
	}
}

// sameOrigin reports whether the request's Origin (if any) is this server.
func (s *Server) sameOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		// Browsers send Origin on every cross-site unsafe request and on
		// websockets; its absence means a non-browser client.
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if s.cfg.PublicURL != "" {
		return strings.EqualFold(strings.TrimRight(origin, "/"), s.cfg.Origin())
	}
	return strings.EqualFold(u.Host, r.Host)
}

// protect refuses cross-site and CSRF-less state changes. With a session,
// unsafe methods need the session's CSRF token in X-CSRF-Token; without
// one (sign-in, invite sign-up) the JSON body requirement and Origin check
// keep plain HTML forms of other sites out.
func (s *Server) protect() gin.HandlerFunc {
	return func(c *gin.Context) {
		switch c.Request.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			c.Next()
			return
		}
		if !s.sameOrigin(c.Request) {
			s.fail(c, errForbidden("cross-origin request refused"))
			return
		}
		if v, ok := c.Get(ctxSession); ok {
			if !auth.TokensEqual(c.GetHeader(csrfHeader), v.(store.Session).CSRFToken) {
				s.fail(c, errForbidden("missing or wrong CSRF token: reload the page and try again"))
				return
			}
		}
		c.Next()
	}
}

// currentUser is the signed-in user; requireUser has run before.
func currentUser(c *gin.Context) store.User {
	return c.MustGet(ctxUser).(store.User)
}

// requireUser refuses anonymous callers with 401.
func (s *Server) requireUser() gin.HandlerFunc {
	return func(c *gin.Context) {
		if _, ok := c.Get(ctxUser); !ok {
			s.fail(c, errUnauthorized("sign in first"))
			return
		}
		c.Next()
	}
}

// requireRole refuses users without one of roles with 403.
func (s *Server) requireRole(roles ...store.Role) gin.HandlerFunc {
	return func(c *gin.Context) {
		u := currentUser(c)
		for _, r := range roles {
			if u.Role == r {
				c.Next()
				return
			}
		}
		s.fail(c, errForbidden("this needs the "+string(roles[0])+" role"))
	}
}

// bindJSON decodes a JSON body strictly into v, or writes a 400.
func (s *Server) bindJSON(c *gin.Context, v any) bool {
	ct := c.ContentType()
	if ct != "application/json" {
		s.fail(c, &apiError{Status: http.StatusUnsupportedMediaType, Code: "unsupported_media_type", Message: "send a JSON body with Content-Type: application/json"})
		return false
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, 1<<20)
	dec := jsonDecoder(c.Request.Body)
	if err := dec.Decode(v); err != nil {
		s.fail(c, errBadRequest("malformed JSON body: "+err.Error(), nil))
		return false
	}
	if _, err := dec.Token(); err != io.EOF {
		s.fail(c, errBadRequest("malformed JSON body: one JSON value only, with nothing after it", nil))
		return false
	}
	return true
}
