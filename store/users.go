package store

import (
	"context"
	"errors"
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

// ExternalIdentity is a person as an OpenID Connect provider names them;
// the provider has verified the email.
type ExternalIdentity struct {
	Issuer, Subject string
	Email, Name     string
}

// ExternalSignIn is what a sign-in through a provider asks of the store.
type ExternalSignIn struct {
	Identity ExternalIdentity
	// Role is the role the provider's groups give; empty keeps the
	// account's role (a new account is a student).
	Role Role
	// AdminsFromGroups: admin groups are configured, so an admin outside
	// them is demoted. Otherwise admins stay admins.
	AdminsFromGroups bool
	// MayCreate: a person without an account gets one.
	MayCreate bool
}

// ExternalResult says what a sign-in through a provider did.
type ExternalResult struct {
	User            User
	Created, Linked bool
	// OldRole is the role before this sign-in changed it; empty: unchanged.
	OldRole Role
	// KeptLastAdmin: the groups would have demoted the last admin.
	KeptLastAdmin bool
}

var (
	// ErrUnlinkable means an account with the identity's email is linked
	// to another identity of the provider.
	ErrUnlinkable = errors.New("an account with this email is linked to another identity")
	// ErrNoAccount means nobody has this identity or email and MayCreate
	// was false.
	ErrNoAccount = errors.New("no account for this identity")
	// ErrDisabled means the account is disabled.
	ErrDisabled = errors.New("account disabled")
)

// SignInExternal finds the account of an external identity, links the
// account with its email the first time (its password and sessions end:
// whoever set that password, the provider's person owns the account now),
// or creates a password-less account. It then applies the groups' role:
// never lowering the last admin, and ending the account's sessions when
// the role is lowered.
func (s *Store) SignInExternal(ctx context.Context, in ExternalSignIn) (ExternalResult, error) {
	var r ExternalResult
	id := in.Identity
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		r = ExternalResult{}
		u, err := scanUser(tx.QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE oidc_issuer = $1 AND oidc_subject = $2 FOR UPDATE`, id.Issuer, id.Subject))
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			var linked *string
			err = tx.QueryRow(ctx, `SELECT `+userCols+`, oidc_subject FROM users WHERE email = $1 FOR UPDATE`, NormalizeEmail(id.Email)).
				Scan(&u.ID, &u.Email, &u.Name, &u.Role, &u.PasswordHash, &u.CreatedAt, &u.Disabled, &linked)
			switch {
			case errors.Is(err, pgx.ErrNoRows):
				if !in.MayCreate {
					return ErrNoAccount
				}
				role := in.Role
				if role == "" {
					role = RoleStudent
				}
				if u, err = createUser(ctx, tx, id.Email, id.Name, role, ""); err != nil {
					return err
				}
				r.Created = true
			case err != nil:
				return mapErr(err, "find user")
			case linked != nil:
				return ErrUnlinkable
			case u.Disabled:
				return ErrDisabled
			default:
				r.Linked = true
				if _, err := tx.Exec(ctx, `UPDATE users SET password_hash = '' WHERE id = $1`, u.ID); err != nil {
					return mapErr(err, "link account")
				}
				if _, err := tx.Exec(ctx, `DELETE FROM web_sessions WHERE user_id = $1`, u.ID); err != nil {
					return mapErr(err, "end sessions")
				}
				u.PasswordHash = ""
			}
			_, err = tx.Exec(ctx, `UPDATE users SET oidc_issuer = $2, oidc_subject = $3 WHERE id = $1`, u.ID, id.Issuer, id.Subject)
			if err != nil {
				return mapErr(err, "link account")
			}
		case err != nil:
			return mapErr(err, "find user")
		case u.Disabled:
			return ErrDisabled
		default:
			// The provider's verified email moved: follow it unless taken.
			if e := NormalizeEmail(id.Email); e != u.Email {
				tag, err := tx.Exec(ctx, `UPDATE users SET email = $2 WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM users WHERE email = $2)`, u.ID, e)
				if err != nil {
					return mapErr(err, "update email")
				}
				if tag.RowsAffected() == 1 {
					u.Email = e
				}
			}
		}
		return setExternalRole(ctx, tx, &u, in, &r)
	})
	return r, err
}

var roleRank = map[Role]int{RoleStudent: 0, RoleInstructor: 1, RoleAdmin: 2}

func setExternalRole(ctx context.Context, tx pgx.Tx, u *User, in ExternalSignIn, r *ExternalResult) error {
	r.User = *u
	if in.Role == "" || in.Role == u.Role || (u.Role == RoleAdmin && !in.AdminsFromGroups) {
		return nil
	}
	if u.Role == RoleAdmin {
		var others int
		err := tx.QueryRow(ctx, `SELECT count(*) FROM users WHERE role = 'admin' AND disabled_at IS NULL AND id <> $1`, u.ID).Scan(&others)
		if err != nil {
			return mapErr(err, "count admins")
		}
		if others == 0 {
			r.KeptLastAdmin = true
			return nil
		}
	}
	if _, err := tx.Exec(ctx, `UPDATE users SET role = $2 WHERE id = $1`, u.ID, in.Role); err != nil {
		return mapErr(err, "set role")
	}
	if roleRank[in.Role] < roleRank[u.Role] {
		if _, err := tx.Exec(ctx, `DELETE FROM web_sessions WHERE user_id = $1`, u.ID); err != nil {
			return mapErr(err, "end sessions")
		}
	}
	r.OldRole, u.Role = u.Role, in.Role
	r.User = *u
	return nil
}
