package server

import (
	"context"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
)

func contextTimeout(c *gin.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.Request.Context(), d)
}

// paramID parses a UUID path parameter or writes a 400.
func (s *Server) paramID(c *gin.Context, name string) (uuid.UUID, bool) {
	id, err := uuid.Parse(c.Param(name))
	if err != nil {
		s.fail(c, errBadRequest(name+" must be a UUID", nil))
		return uuid.Nil, false
	}
	return id, true
}

// audit records an action in the audit log; a failed write is logged, not
// returned: the action itself has happened.
func (s *Server) audit(c *gin.Context, actor *uuid.UUID, action, target string, details map[string]any) {
	if err := s.store.Audit(c.Request.Context(), actor, action, target, details, c.ClientIP()); err != nil {
		s.log.Error("audit log write failed", "action", action, "target", target, "err", err)
	}
}
