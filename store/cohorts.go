package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// CohortRole is a member's role within one cohort.
type CohortRole string

const (
	CohortStudent    CohortRole = "student"
	CohortInstructor CohortRole = "instructor"
)

// Cohort is a class.
type Cohort struct {
	ID            uuid.UUID
	Name          string
	CreatedBy     uuid.UUID
	CreatedAt     time.Time
	ShowSolutions bool
	// Filled by listings for the asking user.
	MyRole      CohortRole
	Students    int
	Instructors int
}

// Member is a user in a cohort.
type Member struct {
	User     User
	Role     CohortRole
	JoinedAt time.Time
}

// CreateCohort makes a cohort with its creator as its first instructor.
func (s *Store) CreateCohort(ctx context.Context, name string, creator uuid.UUID) (Cohort, error) {
	var c Cohort
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO cohorts (id, name, created_by) VALUES ($1, $2, $3)
			RETURNING id, name, created_by, created_at, show_solutions`, uuid.New(), strings.TrimSpace(name), creator).
			Scan(&c.ID, &c.Name, &c.CreatedBy, &c.CreatedAt, &c.ShowSolutions)
		if err != nil {
			return mapErr(err, "create cohort")
		}
		_, err = tx.Exec(ctx, `INSERT INTO cohort_members (cohort_id, user_id, role) VALUES ($1, $2, 'instructor')`, c.ID, creator)
		return mapErr(err, "add instructor")
	})
	c.MyRole, c.Instructors = CohortInstructor, 1
	return c, err
}

const cohortListCols = `c.id, c.name, c.created_by, c.created_at, c.show_solutions,
	(SELECT count(*) FROM cohort_members m2 WHERE m2.cohort_id = c.id AND m2.role = 'student'),
	(SELECT count(*) FROM cohort_members m2 WHERE m2.cohort_id = c.id AND m2.role = 'instructor')`

func scanCohorts(rows pgx.Rows, withRole bool) ([]Cohort, error) {
	defer rows.Close()
	var out []Cohort
	for rows.Next() {
		var c Cohort
		dest := []any{&c.ID, &c.Name, &c.CreatedBy, &c.CreatedAt, &c.ShowSolutions, &c.Students, &c.Instructors}
		if withRole {
			dest = append(dest, &c.MyRole)
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// CohortsOf lists the cohorts a user belongs to, with their role in each.
func (s *Store) CohortsOf(ctx context.Context, userID uuid.UUID) ([]Cohort, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+cohortListCols+`, m.role FROM cohorts c
		JOIN cohort_members m ON m.cohort_id = c.id AND m.user_id = $1
		WHERE c.archived_at IS NULL ORDER BY c.created_at DESC`, userID)
	if err != nil {
		return nil, mapErr(err, "list cohorts")
	}
	cs, err := scanCohorts(rows, true)
	return cs, mapErr(err, "list cohorts")
}

// AllCohorts lists every cohort (for admins).
func (s *Store) AllCohorts(ctx context.Context) ([]Cohort, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+cohortListCols+` FROM cohorts c WHERE c.archived_at IS NULL ORDER BY c.created_at DESC`)
	if err != nil {
		return nil, mapErr(err, "list cohorts")
	}
	cs, err := scanCohorts(rows, false)
	return cs, mapErr(err, "list cohorts")
}

// Cohort finds one cohort.
func (s *Store) Cohort(ctx context.Context, id uuid.UUID) (Cohort, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+cohortListCols+` FROM cohorts c WHERE c.id = $1 AND c.archived_at IS NULL`, id)
	if err != nil {
		return Cohort{}, mapErr(err, "find cohort")
	}
	cs, err := scanCohorts(rows, false)
	if err == nil && len(cs) == 0 {
		err = pgx.ErrNoRows
	}
	if err != nil {
		return Cohort{}, mapErr(err, "find cohort")
	}
	return cs[0], nil
}

// CohortRoleOf returns a user's role in a cohort; ErrNotFound if not a member.
func (s *Store) CohortRoleOf(ctx context.Context, cohortID, userID uuid.UUID) (CohortRole, error) {
	var r CohortRole
	err := s.pool.QueryRow(ctx, `SELECT role FROM cohort_members WHERE cohort_id = $1 AND user_id = $2`, cohortID, userID).Scan(&r)
	return r, mapErr(err, "find membership")
}

// TeachesStudent reports whether instructor is an instructor of a cohort
// in which student is a student.
func (s *Store) TeachesStudent(ctx context.Context, instructor, student uuid.UUID) (bool, error) {
	var ok bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM cohort_members i
		JOIN cohort_members st ON st.cohort_id = i.cohort_id
		WHERE i.user_id = $1 AND i.role = 'instructor' AND st.user_id = $2 AND st.role = 'student')`,
		instructor, student).Scan(&ok)
	return ok, mapErr(err, "check teaching")
}

// StudentCohort is the cohort a student works in: the one they joined last
// as a student (not archived); not valid when none.
func (s *Store) StudentCohort(ctx context.Context, userID uuid.UUID) (uuid.NullUUID, error) {
	var id uuid.NullUUID
	err := s.pool.QueryRow(ctx, `SELECT m.cohort_id FROM cohort_members m JOIN cohorts c ON c.id = m.cohort_id
		WHERE m.user_id = $1 AND m.role = 'student' AND c.archived_at IS NULL ORDER BY m.joined_at DESC LIMIT 1`, userID).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return uuid.NullUUID{}, nil
	}
	return id, mapErr(err, "student cohort")
}

// TeachesIn reports whether the user is an instructor of the cohort (not archived).
func (s *Store) TeachesIn(ctx context.Context, userID, cohortID uuid.UUID) (bool, error) {
	var ok bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM cohort_members m JOIN cohorts c ON c.id = m.cohort_id
		WHERE m.user_id = $1 AND m.cohort_id = $2 AND m.role = 'instructor' AND c.archived_at IS NULL)`, userID, cohortID).Scan(&ok)
	return ok, mapErr(err, "check teaching")
}

// Members lists a cohort's members, instructors first.
func (s *Store) Members(ctx context.Context, cohortID uuid.UUID) ([]Member, error) {
	rows, err := s.pool.Query(ctx, `SELECT u.id, u.email, u.name, u.role, '', u.created_at, u.disabled_at IS NOT NULL, m.role, m.joined_at
		FROM cohort_members m JOIN users u ON u.id = m.user_id
		WHERE m.cohort_id = $1 ORDER BY m.role DESC, u.email`, cohortID)
	if err != nil {
		return nil, mapErr(err, "list members")
	}
	defer rows.Close()
	var out []Member
	for rows.Next() {
		var m Member
		u := &m.User
		if err := rows.Scan(&u.ID, &u.Email, &u.Name, &u.Role, &u.PasswordHash, &u.CreatedAt, &u.Disabled, &m.Role, &m.JoinedAt); err != nil {
			return nil, mapErr(err, "list members")
		}
		out = append(out, m)
	}
	return out, mapErr(rows.Err(), "list members")
}

// AddMember enrols a user; an existing membership is left as it is.
func (s *Store) AddMember(ctx context.Context, cohortID, userID uuid.UUID, role CohortRole) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO cohort_members (cohort_id, user_id, role) VALUES ($1, $2, $3)
		ON CONFLICT DO NOTHING`, cohortID, userID, role)
	return mapErr(err, "add member")
}

// Invite lets someone join a cohort.
type Invite struct {
	ID        uuid.UUID
	CohortID  uuid.UUID
	Role      CohortRole // what accepting it makes you in the cohort
	Email     *string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    *time.Time
}

// CreateInvite records an invite for role under the hash of its token. An
// email invite replaces an unused one for the same email.
func (s *Store) CreateInvite(ctx context.Context, cohortID uuid.UUID, role CohortRole, email *string, tokenHash []byte, by uuid.UUID, expires time.Time) (Invite, error) {
	if email != nil {
		e := NormalizeEmail(*email)
		email = &e
	}
	var inv Invite
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if email != nil {
			if _, err := tx.Exec(ctx, `DELETE FROM invites WHERE cohort_id = $1 AND email = $2 AND used_at IS NULL`, cohortID, *email); err != nil {
				return err
			}
		}
		return tx.QueryRow(ctx, `INSERT INTO invites (id, cohort_id, role, email, token_hash, created_by, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id, cohort_id, role, email, created_at, expires_at, used_at`,
			uuid.New(), cohortID, role, email, tokenHash, by, expires).
			Scan(&inv.ID, &inv.CohortID, &inv.Role, &inv.Email, &inv.CreatedAt, &inv.ExpiresAt, &inv.UsedAt)
	})
	return inv, mapErr(err, "create invite")
}

// Invites lists a cohort's open invites.
func (s *Store) Invites(ctx context.Context, cohortID uuid.UUID) ([]Invite, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, cohort_id, role, email, created_at, expires_at, used_at FROM invites
		WHERE cohort_id = $1 ORDER BY created_at DESC`, cohortID)
	if err != nil {
		return nil, mapErr(err, "list invites")
	}
	defer rows.Close()
	var out []Invite
	for rows.Next() {
		var inv Invite
		if err := rows.Scan(&inv.ID, &inv.CohortID, &inv.Role, &inv.Email, &inv.CreatedAt, &inv.ExpiresAt, &inv.UsedAt); err != nil {
			return nil, mapErr(err, "list invites")
		}
		out = append(out, inv)
	}
	return out, mapErr(rows.Err(), "list invites")
}

// InviteByToken finds a usable invite and its cohort's name.
func (s *Store) InviteByToken(ctx context.Context, tokenHash []byte) (Invite, string, error) {
	var inv Invite
	var name string
	err := s.pool.QueryRow(ctx, `SELECT i.id, i.cohort_id, i.role, i.email, i.created_at, i.expires_at, i.used_at, c.name
		FROM invites i JOIN cohorts c ON c.id = i.cohort_id
		WHERE i.token_hash = $1 AND i.used_at IS NULL AND i.expires_at > now() AND c.archived_at IS NULL`, tokenHash).
		Scan(&inv.ID, &inv.CohortID, &inv.Role, &inv.Email, &inv.CreatedAt, &inv.ExpiresAt, &inv.UsedAt, &name)
	return inv, name, mapErr(err, "find invite")
}

// NewAccount is the account to create when accepting an invite without one.
type NewAccount struct {
	Email, Name, PasswordHash string
}

// AcceptInvite enrols a user through an invite, creating the account when
// acct is given. Email invites are single-use and bound to their email. The
// invite's role is what the user becomes, whatever their account's role:
// an instructor opening a student link joins as a student. An instructor
// invite needs an instructor (or admin) account and never demotes.
func (s *Store) AcceptInvite(ctx context.Context, tokenHash []byte, existing *User, acct *NewAccount) (User, uuid.UUID, error) {
	var u User
	var cohortID uuid.UUID
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var id uuid.UUID
		var email *string
		var role CohortRole
		err := tx.QueryRow(ctx, `SELECT i.id, i.cohort_id, i.email, i.role FROM invites i JOIN cohorts c ON c.id = i.cohort_id
			WHERE i.token_hash = $1 AND i.used_at IS NULL AND i.expires_at > now() AND c.archived_at IS NULL
			FOR UPDATE OF i`, tokenHash).Scan(&id, &cohortID, &email, &role)
		if err != nil {
			return mapErr(err, "find invite")
		}
		switch {
		case existing != nil:
			u = *existing
		case acct != nil:
			if u, err = createUser(ctx, tx, acct.Email, acct.Name, RoleStudent, acct.PasswordHash); err != nil {
				return err
			}
		default:
			return fmt.Errorf("accept invite: %w: no account", ErrInvalid)
		}
		if email != nil && *email != u.Email {
			return fmt.Errorf("accept invite: %w: this invite is for another email address", ErrInvalid)
		}
		if role == CohortInstructor && u.Role == RoleStudent {
			return fmt.Errorf("accept invite: %w: this invite is for an instructor; sign in with an instructor account", ErrInvalid)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO cohort_members (cohort_id, user_id, role) VALUES ($1, $2, $3)
			ON CONFLICT (cohort_id, user_id) DO UPDATE SET role = 'instructor' WHERE excluded.role = 'instructor'`,
			cohortID, u.ID, role); err != nil {
			return mapErr(err, "add member")
		}
		if email != nil {
			_, err = tx.Exec(ctx, `UPDATE invites SET used_at = now(), used_by = $2 WHERE id = $1`, id, u.ID)
		}
		return mapErr(err, "use invite")
	})
	return u, cohortID, err
}

// SetShowSolutions lets (or stops) a cohort's students see lab solutions
// after an attempt.
func (s *Store) SetShowSolutions(ctx context.Context, cohortID uuid.UUID, show bool) error {
	tag, err := s.pool.Exec(ctx, `UPDATE cohorts SET show_solutions = $2 WHERE id = $1`, cohortID, show)
	if err != nil {
		return mapErr(err, "show solutions")
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// SolutionsVisible reports whether the environment's cohort, one the student
// is in, shows solutions (never without a cohort).
func (s *Store) SolutionsVisible(ctx context.Context, userID uuid.UUID, cohortID uuid.NullUUID) (bool, error) {
	if !cohortID.Valid {
		return false, nil
	}
	var ok bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM cohort_members m JOIN cohorts c ON c.id = m.cohort_id
		WHERE m.user_id = $1 AND c.id = $2 AND c.show_solutions AND c.archived_at IS NULL)`, userID, cohortID.UUID).Scan(&ok)
	return ok, mapErr(err, "solutions visible")
}
