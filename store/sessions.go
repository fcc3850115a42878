package store

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// Session is a signed-in browser.
type Session struct {
	UserID    uuid.UUID
	CSRFToken string
	ExpiresAt time.Time
}

// CreateSession records a sign-in under the hash of its cookie token.
func (s *Store) CreateSession(ctx context.Context, tokenHash []byte, userID uuid.UUID, csrf string, expires time.Time, userAgent string) error {
	if len(userAgent) > 300 {
		userAgent = userAgent[:300]
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO web_sessions (token_hash, user_id, csrf_token, expires_at, user_agent)
		VALUES ($1, $2, $3, $4, $5)`, tokenHash, userID, csrf, expires, userAgent)
	return mapErr(err, "create session")
}

// SessionUser returns the live session with that token hash and its user.
// Expired sessions and disabled users are ErrNotFound.
func (s *Store) SessionUser(ctx context.Context, tokenHash []byte) (Session, User, error) {
	var sess Session
	var u User
	err := s.pool.QueryRow(ctx, `UPDATE web_sessions ws SET last_seen_at = now()
		FROM users u
		WHERE ws.token_hash = $1 AND ws.expires_at > now() AND u.id = ws.user_id AND u.disabled_at IS NULL
		RETURNING ws.user_id, ws.csrf_token, ws.expires_at,
		  u.id, u.email, u.name, u.role, u.password_hash, u.created_at, u.disabled_at IS NOT NULL`, tokenHash).
		Scan(&sess.UserID, &sess.CSRFToken, &sess.ExpiresAt,
			&u.ID, &u.Email, &u.Name, &u.Role, &u.PasswordHash, &u.CreatedAt, &u.Disabled)
	return sess, u, mapErr(err, "find session")
}

// DeleteSession ends a sign-in.
func (s *Store) DeleteSession(ctx context.Context, tokenHash []byte) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM web_sessions WHERE token_hash = $1`, tokenHash)
	return mapErr(err, "delete session")
}

// DeleteExpiredSessions removes sessions past their expiry.
func (s *Store) DeleteExpiredSessions(ctx context.Context) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM web_sessions WHERE expires_at <= now()`)
	return tag.RowsAffected(), mapErr(err, "delete expired sessions")
}
