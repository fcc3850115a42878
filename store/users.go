package store

import (
	"context"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Role is a user's platform-wide role.
type Role string

const (
	RoleStudent    Role = "student"
	RoleInstructor Role = "instructor"
	RoleAdmin      Role = "admin"
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool {
	return r == RoleStudent || r == RoleInstructor || r == RoleAdmin
}

// User is an account.
type User struct {
	ID           uuid.UUID
	Email        string
	Name         string
	Role         Role
	PasswordHash string
	CreatedAt    time.Time
	Disabled     bool
}

const userCols = `id, email, name, role, password_hash, created_at, disabled_at IS NOT NULL`

func scanUser(row pgx.Row) (User, error) {
	var u User
	err := row.Scan(&u.ID, &u.Email, &u.Name, &u.Role, &u.PasswordHash, &u.CreatedAt, &u.Disabled)
	return u, err
}

// NormalizeEmail is the form emails are stored and looked up in.
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// CreateUser adds an account. A taken email gives ErrConflict.
func (s *Store) CreateUser(ctx context.Context, email, name string, role Role, passwordHash string) (User, error) {
	return createUser(ctx, s.pool, email, name, role, passwordHash)
}

type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func createUser(ctx context.Context, q querier, email, name string, role Role, passwordHash string) (User, error) {
	u, err := scanUser(q.QueryRow(ctx, `INSERT INTO users (id, email, name, role, password_hash)
		VALUES ($1, $2, $3, $4, $5) RETURNING `+userCols,
		uuid.New(), NormalizeEmail(email), strings.TrimSpace(name), role, passwordHash))
	return u, mapErr(err, "create user")
}

// UserByEmail finds an account by email.
func (s *Store) UserByEmail(ctx context.Context, email string) (User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE email = $1`, NormalizeEmail(email)))
	return u, mapErr(err, "find user")
}

// UserByID finds an account by id.
func (s *Store) UserByID(ctx context.Context, id uuid.UUID) (User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE id = $1`, id))
	return u, mapErr(err, "find user")
}

// SetPassword replaces a user's password hash and ends their sessions.
func (s *Store) SetPassword(ctx context.Context, id uuid.UUID, passwordHash string) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE users SET password_hash = $2 WHERE id = $1`, id, passwordHash)
		if err != nil {
			return mapErr(err, "set password")
		}
		if tag.RowsAffected() == 0 {
			return mapErr(pgx.ErrNoRows, "set password")
		}
		_, err = tx.Exec(ctx, `DELETE FROM web_sessions WHERE user_id = $1`, id)
		return mapErr(err, "end sessions")
	})
}
