package server

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ckalab/ckalab/auth"
	"github.com/ckalab/ckalab/store"
)

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// startSession signs u in: a new session row and its cookie.
func (s *Server) startSession(c *gin.Context, u store.User) (string, error) {
	token, csrf := auth.NewToken(), auth.NewToken()
	expires := time.Now().Add(s.cfg.SessionTTL)
	if err := s.store.CreateSession(c.Request.Context(), auth.HashToken(token), u.ID, csrf, expires, c.Request.UserAgent()); err != nil {
		return "", err
	}
	http.SetCookie(c.Writer, &http.Cookie{
		Name: sessionCookie, Value: token, Path: "/", Expires: expires, MaxAge: int(s.cfg.SessionTTL.Seconds()),
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: s.cfg.SecureCookies,
	})
	return csrf, nil
}

func (s *Server) login(c *gin.Context) {
	var req loginRequest
	if !s.bindJSON(c, &req) {
		return
	}
	email := store.NormalizeEmail(req.Email)
	if email == "" || req.Password == "" {
		s.fail(c, errBadRequest("email and password are required", nil))
		return
	}
	keys := []string{"email:" + email, "client:" + c.ClientIP()}
	if ok, wait := s.limiter.Allow(keys...); !ok {
		mins := int(math.Ceil(wait.Minutes()))
		c.Header("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
		s.fail(c, &apiError{Status: http.StatusTooManyRequests, Code: "rate_limited",
			Message: fmt.Sprintf("too many failed sign-ins; try again in %d minute(s)", mins)})
		return
	}
	u, err := s.store.UserByEmail(c.Request.Context(), email)
	switch {
	case errors.Is(err, store.ErrNotFound):
		auth.BurnPasswordCheck(req.Password)
	case err != nil:
		s.fail(c, err)
		return
	default:
		err = auth.VerifyPassword(u.PasswordHash, req.Password)
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

// trimmed bounds free text from requests.
func trimmed(s string, max int) string {
	s = strings.TrimSpace(s)
	if len(s) > max {
		s = s[:max]
	}
	return s
}
