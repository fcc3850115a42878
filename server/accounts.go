package server

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ckalab/ckalab/auth"
	"github.com/ckalab/ckalab/store"
)

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// hashWait is how long a request waits for a password hashing slot.
const hashWait = 10 * time.Second

// hashPassword hashes a new password, counted in the metrics.
func (s *Server) hashPassword(ctx context.Context, pw string) (string, error) {
	s.metrics.hashes.Inc()
	return auth.HashPassword(ctx, pw)
}

// checkPassword checks pw against a stored hash; an empty hash (no such
// account) spends the same time and fails.
func (s *Server) checkPassword(ctx context.Context, hash, pw string) error {
	s.metrics.hashes.Inc()
	if hash == "" {
		if err := auth.BurnPasswordCheck(ctx, pw); err != nil {
			return err
		}
		return auth.ErrBadPassword
	}
	return auth.VerifyPassword(ctx, hash, pw)
}

// busy answers a request that found no password hashing slot in time.
func (s *Server) busy(c *gin.Context) {
	c.Header("Retry-After", "5")
	s.fail(c, &apiError{Status: http.StatusServiceUnavailable, Code: "busy",
		Message: "the server is busy signing people in; try again in a few seconds"})
}

// rateLimited answers a client that used up a limiter's allowance.
func (s *Server) rateLimited(c *gin.Context, wait time.Duration, what string) {
	c.Header("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
	s.fail(c, &apiError{Status: http.StatusTooManyRequests, Code: "rate_limited",
		Message: fmt.Sprintf("%s; try again in %d minute(s)", what, int(math.Ceil(wait.Minutes())))})
}

// startSession signs u in: a new session row and its cookie.
func (s *Server) startSession(c *gin.Context, u store.User) (string, error) {
	token, csrf := auth.NewToken(), auth.NewToken()
	expires := time.Now().Add(s.cfg.SessionTTL)
	ua := cleanHeader(c.Request.UserAgent(), maxUserAgentLen)
	if err := s.store.CreateSession(c.Request.Context(), auth.HashToken(token), u.ID, csrf, expires, ua); err != nil {
		return "", err
	}
	http.SetCookie(c.Writer, &http.Cookie{
		Name: sessionCookie, Value: token, Path: "/", Expires: expires, MaxAge: int(s.cfg.SessionTTL.Seconds()),
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: s.cfg.SecureCookies,
	})
	return csrf, nil
}

func (s *Server) login(c *gin.Context) {
	if s.passwordLoginOff(c) {
		return
	}
	var req loginRequest
	if !s.bindJSON(c, &req) {
		return
	}
	var in inputs
	email := in.email("email", req.Email)
	in.password("password", req.Password)
	if !in.ok() {
		s.fail(c, in.err("sign in with an email address and a password"))
		return
	}
	keys := []string{"email:" + email, "client:" + c.ClientIP()}
	if ok, wait := s.limiter.Allow(keys...); !ok {
		s.rateLimited(c, wait, "too many failed sign-ins")
		return
	}
	u, err := s.store.UserByEmail(c.Request.Context(), email)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.fail(c, err)
		return
	}
	ctx, cancel := contextTimeout(c, hashWait)
	defer cancel()
	err = s.checkPassword(ctx, u.PasswordHash, req.Password)
	if errors.Is(err, auth.ErrBusy) {
		s.busy(c)
		return
	}
	if err != nil || u.Disabled {
		s.limiter.Fail(keys...)
		_ = s.store.Audit(c.Request.Context(), nil, "login.failed", email, nil, c.ClientIP())
		s.fail(c, errUnauthorized("wrong email or password"))
		return
	}
	s.limiter.Reset(keys[0])
	csrf, err := s.startSession(c, u)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Set(ctxUser, u)
	_ = s.store.Audit(c.Request.Context(), &u.ID, "login", u.Email, nil, c.ClientIP())
	c.JSON(http.StatusOK, gin.H{"user": toUser(u), "csrfToken": csrf})
}

func (s *Server) logout(c *gin.Context) {
	if h, ok := c.Get(ctxTokenHash); ok {
		if err := s.store.DeleteSession(c.Request.Context(), h.([]byte)); err != nil {
			s.fail(c, err)
			return
		}
		s.endStreamsOf(h.([]byte), "you signed out")
		u := currentUser(c)
		_ = s.store.Audit(c.Request.Context(), &u.ID, "logout", u.Email, nil, c.ClientIP())
	}
	http.SetCookie(c.Writer, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: s.cfg.SecureCookies})
	c.Status(http.StatusNoContent)
}

// session is /me for callers who may not be signed in: 200 either way,
// with user null when anonymous, so the page can boot without an error.
func (s *Server) session(c *gin.Context) {
	if _, ok := c.Get(ctxUser); !ok {
		c.JSON(http.StatusOK, gin.H{"user": nil})
		return
	}
	s.me(c)
}

func (s *Server) me(c *gin.Context) {
	u := currentUser(c)
	sess := c.MustGet(ctxSession).(store.Session)
	cohorts, err := s.store.CohortsOf(c.Request.Context(), u.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := make([]apiCohort, 0, len(cohorts))
	for _, ch := range cohorts {
		out = append(out, toCohort(ch))
	}
	c.JSON(http.StatusOK, gin.H{"user": toUser(u), "csrfToken": sess.CSRFToken, "cohorts": out})
}

// canSeeUser: oneself, an instructor of a cohort the user studies in, or an admin.
func (s *Server) canSeeUser(c *gin.Context, target store.User) (bool, error) {
	u := currentUser(c)
	if u.ID == target.ID || u.Role == store.RoleAdmin {
		return true, nil
	}
	if u.Role != store.RoleInstructor {
		return false, nil
	}
	return s.store.TeachesStudent(c.Request.Context(), u.ID, target.ID)
}

func (s *Server) getUser(c *gin.Context) {
	id, ok := s.paramID(c, "id")
	if !ok {
		return
	}
	target, err := s.store.UserByID(c.Request.Context(), id)
	if err != nil {
		s.fail(c, err)
		return
	}
	ok, err = s.canSeeUser(c, target)
	if err != nil {
		s.fail(c, err)
		return
	}
	if !ok {
		s.fail(c, errForbidden("you may not see this user"))
		return
	}
	c.JSON(http.StatusOK, gin.H{"user": toUser(target)})
}

func (s *Server) listAudit(c *gin.Context) {
	evs, err := s.store.AuditEvents(c.Request.Context(), 200)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := make([]gin.H, 0, len(evs))
	for _, e := range evs {
		out = append(out, gin.H{"id": e.ID, "at": e.At, "actorId": e.ActorID, "action": e.Action, "target": e.Target, "details": e.Details})
	}
	c.JSON(http.StatusOK, gin.H{"events": out})
}
