package server

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ckalab/ckalab/auth"
	"github.com/ckalab/ckalab/store"
)

func (s *Server) listCohorts(c *gin.Context) {
	u := currentUser(c)
	var cs []store.Cohort
	var err error
	if u.Role == store.RoleAdmin {
		cs, err = s.store.AllCohorts(c.Request.Context())
	} else {
		cs, err = s.store.CohortsOf(c.Request.Context(), u.ID)
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	out := make([]apiCohort, 0, len(cs))
	for _, ch := range cs {
		out = append(out, toCohort(ch))
	}
	c.JSON(http.StatusOK, gin.H{"cohorts": out})
}

func (s *Server) createCohort(c *gin.Context) {
	var req struct {
		Name string `json:"name"`
	}
	if !s.bindJSON(c, &req) {
		return
	}
	var in inputs
	name := in.name("name", req.Name, true)
	if !in.ok() {
		s.fail(c, in.err("the cohort needs a name of 1 to 200 characters"))
		return
	}
	u := currentUser(c)
	ch, err := s.store.CreateCohort(c.Request.Context(), name, u.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	_ = s.store.Audit(c.Request.Context(), &u.ID, "cohort.create", ch.ID.String(), map[string]any{"name": name}, c.ClientIP())
	c.JSON(http.StatusCreated, gin.H{"cohort": toCohort(ch)})
}

// cohortAccess loads a cohort the caller belongs to (admins see all) and
// the caller's role in it. Non-members get 404, so ids do not leak.
func (s *Server) cohortAccess(c *gin.Context) (store.Cohort, store.CohortRole, bool) {
	id, ok := s.paramID(c, "id")
	if !ok {
		return store.Cohort{}, "", false
	}
	u := currentUser(c)
	role, err := s.store.CohortRoleOf(c.Request.Context(), id, u.ID)
	if errors.Is(err, store.ErrNotFound) && u.Role == store.RoleAdmin {
		role, err = store.CohortInstructor, nil
	}
	if role == store.CohortInstructor && u.Role == store.RoleStudent {
		// Demoted since (e.g. by single sign-on's groups): no longer teaches.
		role = store.CohortStudent
	}
	if err != nil {
		s.fail(c, err)
		return store.Cohort{}, "", false
	}
	ch, err := s.store.Cohort(c.Request.Context(), id)
	if err != nil {
		s.fail(c, err)
		return store.Cohort{}, "", false
	}
	ch.MyRole = role
	return ch, role, true
}

func (s *Server) instructorCohort(c *gin.Context) (store.Cohort, bool) {
	ch, role, ok := s.cohortAccess(c)
	if ok && role != store.CohortInstructor {
		s.fail(c, errForbidden("only the cohort's instructors may do this"))
		return ch, false
	}
	return ch, ok
}

func (s *Server) getCohort(c *gin.Context) {
	ch, role, ok := s.cohortAccess(c)
	if !ok {
		return
	}
	resp := gin.H{"cohort": toCohort(ch)}
	if role == store.CohortInstructor {
		ms, err := s.store.Members(c.Request.Context(), ch.ID)
		if err != nil {
			s.fail(c, err)
			return
		}
		out := make([]apiMember, 0, len(ms))
		for _, m := range ms {
			out = append(out, apiMember{User: toUser(m.User), Role: string(m.Role), JoinedAt: m.JoinedAt})
		}
		resp["members"] = out
	}
	c.JSON(http.StatusOK, resp)
}

func (s *Server) listInvites(c *gin.Context) {
	ch, ok := s.instructorCohort(c)
	if !ok {
		return
	}
	invs, err := s.store.Invites(c.Request.Context(), ch.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := make([]apiInvite, 0, len(invs))
	for _, i := range invs {
		out = append(out, toInvite(i))
	}
	c.JSON(http.StatusOK, gin.H{"invites": out})
}

type inviteRequest struct {
	Emails        []string `json:"emails"`
	CSV           string   `json:"csv"`
	Link          bool     `json:"link"`
	ExpiresInDays int      `json:"expiresInDays"`
	// Role is what the invite makes its user in the cohort: student (the
	// default) or instructor (co-teachers; needs an instructor account).
	Role string `json:"role"`
}

// parseInviteEmails collects emails from a list and a CSV (any column
// holding an address; a header row is skipped) and reports each bad entry.
func parseInviteEmails(req inviteRequest) ([]string, []string) {
	var emails, bad []string
	seen := map[string]bool{}
	add := func(raw, where string) {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			return
		}
		if p := emailProblem(raw); p != "" {
			bad = append(bad, fmt.Sprintf("%s: %.80q: %s", where, raw, p))
			return
		}
		e := store.NormalizeEmail(raw)
		if !seen[e] {
			seen[e] = true
			emails = append(emails, e)
		}
	}
	for i, e := range req.Emails {
		add(e, fmt.Sprintf("emails[%d]", i))
	}
	if strings.TrimSpace(req.CSV) != "" {
		r := csv.NewReader(strings.NewReader(req.CSV))
		r.FieldsPerRecord = -1
		r.TrimLeadingSpace = true
		for line := 1; ; line++ {
			rec, err := r.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				bad = append(bad, fmt.Sprintf("csv line %d: %v", line, err))
				break
			}
			found := false
			for _, f := range rec {
				if strings.Contains(f, "@") {
					add(f, fmt.Sprintf("csv line %d", line))
					found = true
					break
				}
			}
			if !found && !(line == 1 && len(rec) > 0 && strings.EqualFold(strings.TrimSpace(rec[0]), "email")) && strings.TrimSpace(strings.Join(rec, "")) != "" {
				bad = append(bad, fmt.Sprintf("csv line %d: no email address", line))
			}
		}
	}
	return emails, bad
}

func (s *Server) baseURL(c *gin.Context) string {
	if s.cfg.PublicURL != "" {
		return s.cfg.Origin()
	}
	scheme := "http"
	if c.Request.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + c.Request.Host
}

func (s *Server) createInvites(c *gin.Context) {
	ch, ok := s.instructorCohort(c)
	if !ok {
		return
	}
	var req inviteRequest
	if !s.bindJSON(c, &req) {
		return
	}
	emails, bad := parseInviteEmails(req)
	if len(bad) > 0 {
		s.fail(c, errBadRequest(fmt.Sprintf("%d invalid entr(ies); nothing was sent", len(bad)), bad))
		return
	}
	if len(emails) == 0 && !req.Link {
		s.fail(c, errBadRequest("give emails, a CSV of emails, or link: true for a cohort link", nil))
		return
	}
	if len(emails) > 1000 {
		s.fail(c, errBadRequest("at most 1000 emails at once", nil))
		return
	}
	days := req.ExpiresInDays
	if days <= 0 {
		days = 14
	}
	if days > 365 {
		s.fail(c, errBadRequest("expiresInDays must be at most 365", nil))
		return
	}
	role := store.CohortStudent
	switch req.Role {
	case "", string(store.CohortStudent):
	case string(store.CohortInstructor):
		role = store.CohortInstructor
	default:
		s.fail(c, errBadRequest("role must be student or instructor", nil))
		return
	}
	expires := time.Now().Add(time.Duration(days) * 24 * time.Hour)
	u := currentUser(c)
	var out []apiInvite
	mk := func(email *string) error {
		token := auth.NewToken()
		inv, err := s.store.CreateInvite(c.Request.Context(), ch.ID, role, email, auth.HashToken(token), u.ID, expires)
		if err != nil {
			return err
		}
		ai := toInvite(inv)
		ai.Link = s.baseURL(c) + "/join/" + token
		out = append(out, ai)
		return nil
	}
	if req.Link {
		if err := mk(nil); err != nil {
			s.fail(c, err)
			return
		}
	}
	for _, e := range emails {
		e := e
		if err := mk(&e); err != nil {
			s.fail(c, err)
			return
		}
	}
	_ = s.store.Audit(c.Request.Context(), &u.ID, "cohort.invite", ch.ID.String(), map[string]any{"emails": len(emails), "link": req.Link}, c.ClientIP())
	c.JSON(http.StatusCreated, gin.H{"invites": out})
}

func (s *Server) inviteToken(c *gin.Context) ([]byte, bool) {
	t := c.Param("token")
	if len(t) < 20 || len(t) > 100 {
		s.fail(c, errNotFound("this invite does not exist or has expired; ask your instructor for a new one"))
		return nil, false
	}
	return auth.HashToken(t), true
}

func (s *Server) getInvite(c *gin.Context) {
	h, ok := s.inviteToken(c)
	if !ok {
		return
	}
	inv, name, err := s.store.InviteByToken(c.Request.Context(), h)
	if errors.Is(err, store.ErrNotFound) {
		s.fail(c, errNotFound("this invite does not exist or has expired; ask your instructor for a new one"))
		return
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"cohort": gin.H{"id": inv.CohortID, "name": name}, "email": inv.Email, "expiresAt": inv.ExpiresAt})
}

type acceptRequest struct {
	Email    string `json:"email"`
	Name     string `json:"name"`
	Password string `json:"password"`
}

// acceptInvite enrols the signed-in user, or signs up a new student.
func (s *Server) acceptInvite(c *gin.Context) {
	h, ok := s.inviteToken(c)
	if !ok {
		return
	}
	var existing *store.User
	var acct *store.NewAccount
	if v, ok := c.Get(ctxUser); ok {
		u := v.(store.User)
		existing = &u
		// An empty JSON object is fine for a signed-in user.
		if c.Request.ContentLength != 0 {
			var ignore map[string]any
			if !s.bindJSON(c, &ignore) {
				return
			}
		}
	} else {
		if s.passwordLoginOff(c) {
			return
		}
		var req acceptRequest
		if !s.bindJSON(c, &req) {
			return
		}
		var in inputs
		email := in.email("email", req.Email)
		name := in.name("name", req.Name, false)
		in.password("password", req.Password)
		if in.ok() {
			if err := auth.CheckPasswordPolicy(req.Password); err != nil {
				in.add("password", err.Error())
			}
		}
		if !in.ok() {
			s.fail(c, in.err("cannot create the account"))
			return
		}
		// Each sign-up costs a password hash: limit them per client, and
		// spend none on an invite that does not exist.
		key := "client:" + c.ClientIP()
		if ok, wait := s.signups.Allow(key); !ok {
			s.rateLimited(c, wait, "too many sign-ups from your address")
			return
		}
		if _, _, err := s.store.InviteByToken(c.Request.Context(), h); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				err = errNotFound("this invite does not exist or has expired; ask your instructor for a new one")
			}
			s.fail(c, err)
			return
		}
		s.signups.Fail(key)
		ctx, cancel := contextTimeout(c, hashWait)
		defer cancel()
		hash, err := s.hashPassword(ctx, req.Password)
		if errors.Is(err, auth.ErrBusy) {
			s.busy(c)
			return
		}
		if err != nil {
			s.fail(c, err)
			return
		}
		acct = &store.NewAccount{Email: email, Name: name, PasswordHash: hash}
	}
	u, cohortID, err := s.store.AcceptInvite(c.Request.Context(), h, existing, acct)
	switch {
	case errors.Is(err, store.ErrNotFound):
		s.fail(c, errNotFound("this invite does not exist or has expired; ask your instructor for a new one"))
		return
	case errors.Is(err, store.ErrConflict):
		s.fail(c, errConflict("an account with this email exists: sign in first, then open the invite link again"))
		return
	case err != nil:
		s.fail(c, err)
		return
	}
	resp := gin.H{"user": toUser(u), "cohortId": cohortID}
	if existing == nil {
		csrf, err := s.startSession(c, u)
		if err != nil {
			s.fail(c, err)
			return
		}
		resp["csrfToken"] = csrf
	}
	_ = s.store.Audit(c.Request.Context(), &u.ID, "cohort.join", cohortID.String(), nil, c.ClientIP())
	c.JSON(http.StatusOK, resp)
}

// updateCohort changes a cohort's settings (its instructors only).
func (s *Server) updateCohort(c *gin.Context) {
	var req struct {
		ShowSolutions *bool `json:"showSolutions"`
	}
	if !s.bindJSON(c, &req) {
		return
	}
	ch, role, ok := s.cohortAccess(c)
	if !ok {
		return
	}
	if role != store.CohortInstructor {
		s.fail(c, errForbidden("only the cohort's instructors change its settings"))
		return
	}
	if req.ShowSolutions != nil {
		if err := s.store.SetShowSolutions(c.Request.Context(), ch.ID, *req.ShowSolutions); err != nil {
			s.fail(c, err)
			return
		}
		ch.ShowSolutions = *req.ShowSolutions
		u := currentUser(c)
		_ = s.store.Audit(c.Request.Context(), &u.ID, "cohort.show_solutions", ch.ID.String(), map[string]any{"show": *req.ShowSolutions}, c.ClientIP())
	}
	c.JSON(http.StatusOK, gin.H{"cohort": toCohort(ch)})
}
