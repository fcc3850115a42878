package server

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/ckalab/ckalab/provision"
	"github.com/ckalab/ckalab/store"
	"github.com/ckalab/ckalab/terminal"
)

// apiError is the one error shape of the JSON API:
// {"error":{"code":"…","message":"…","details":…}}.
type apiError struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Details any    `json:"details,omitempty"`
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

func errBadRequest(msg string, details any) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: "bad_request", Message: msg, Details: details}
}
func errUnauthorized(msg string) *apiError {
	return &apiError{Status: http.StatusUnauthorized, Code: "unauthorized", Message: msg}
}
func errForbidden(msg string) *apiError {
	return &apiError{Status: http.StatusForbidden, Code: "forbidden", Message: msg}
}
func errNotFound(msg string) *apiError {
	return &apiError{Status: http.StatusNotFound, Code: "not_found", Message: msg}
}
func errConflict(msg string) *apiError {
	return &apiError{Status: http.StatusConflict, Code: "conflict", Message: msg}
}

// statusOf maps the sentinel errors of the domain packages to HTTP, in
// exactly one place.
func statusOf(err error) *apiError {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.Is(err, store.ErrNotFound):
		return errNotFound("not found")
	case errors.Is(err, store.ErrConflict):
		return errConflict("already exists")
	case errors.Is(err, provision.ErrQuota):
		return &apiError{Status: http.StatusConflict, Code: "quota", Message: err.Error()}
	case errors.Is(err, provision.ErrCapacity):
		return &apiError{Status: http.StatusServiceUnavailable, Code: "out_of_capacity", Message: err.Error()}
	case errors.Is(err, terminal.ErrTooMany):
		return &apiError{Status: http.StatusTooManyRequests, Code: "too_many_terminals", Message: err.Error()}
	case errors.Is(err, terminal.ErrNotFound):
		return errNotFound("that terminal has closed")
	case errors.Is(err, store.ErrLimit):
		return &apiError{Status: http.StatusConflict, Code: "limit", Message: err.Error()}
	case errors.Is(err, store.ErrInvalid):
		return &apiError{Status: http.StatusUnprocessableEntity, Code: "invalid", Message: err.Error()}
	}
	return nil
}

// fail writes err in the error shape; unknown errors are logged and hidden.
func (s *Server) fail(c *gin.Context, err error) {
	ae := statusOf(err)
	if ae == nil {
		s.log.Error("request failed", "route", c.FullPath(), "err", err, "request_id", c.GetString(ctxRequestID))
		ae = &apiError{Status: http.StatusInternalServerError, Code: "internal", Message: "internal error; the server log has details (request " + c.GetString(ctxRequestID) + ")"}
	}
	c.AbortWithStatusJSON(ae.Status, gin.H{"error": ae})
}
