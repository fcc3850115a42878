package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/google/uuid"
)

// AuditEvent is one recorded action.
type AuditEvent struct {
	ID      int64
	At      time.Time
	ActorID *uuid.UUID
	Action  string
	Target  string
	Details json.RawMessage
	Client  string
}

// Audit records an action. details must not hold secrets.
func (s *Store) Audit(ctx context.Context, actor *uuid.UUID, action, target string, details map[string]any, client string) error {
	b, err := json.Marshal(details)
	if err != nil || details == nil {
		b = []byte("{}")
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO audit_events (actor_id, action, target, details, client)
		VALUES ($1, $2, $3, $4, $5)`, actor, action, target, b, client)
	return mapErr(err, "audit")
}

// AuditEvents returns the newest events, newest first.
func (s *Store) AuditEvents(ctx context.Context, limit int) ([]AuditEvent, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, at, actor_id, action, target, details, client
		FROM audit_events ORDER BY id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, mapErr(err, "list audit events")
	}
	defer rows.Close()
	var out []AuditEvent
	for rows.Next() {
		var e AuditEvent
		if err := rows.Scan(&e.ID, &e.At, &e.ActorID, &e.Action, &e.Target, &e.Details, &e.Client); err != nil {
			return nil, mapErr(err, "list audit events")
		}
		out = append(out, e)
	}
	return out, mapErr(rows.Err(), "list audit events")
}
