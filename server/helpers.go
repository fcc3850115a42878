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
