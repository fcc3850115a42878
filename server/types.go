package server

import (
	"time"

	"github.com/google/uuid"

	"github.com/ckalab/ckalab/store"
)

// API types: database rows never reach JSON directly.

type apiUser struct {
	ID        uuid.UUID `json:"id"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	CreatedAt time.Time `json:"createdAt"`
}

func toUser(u store.User) apiUser {
	return apiUser{ID: u.ID, Email: u.Email, Name: u.Name, Role: string(u.Role), CreatedAt: u.CreatedAt}
}

type apiCohort struct {
	ID            uuid.UUID `json:"id"`
	Name          string    `json:"name"`
	CreatedAt     time.Time `json:"createdAt"`
	MyRole        string    `json:"myRole,omitempty"`
	Students      int       `json:"students"`
	Instructors   int       `json:"instructors"`
	ShowSolutions bool      `json:"showSolutions"`
}

func toCohort(c store.Cohort) apiCohort {
	return apiCohort{ID: c.ID, Name: c.Name, CreatedAt: c.CreatedAt, MyRole: string(c.MyRole),
		Students: c.Students, Instructors: c.Instructors, ShowSolutions: c.ShowSolutions}
}

type apiMember struct {
	User     apiUser   `json:"user"`
	Role     string    `json:"role"`
	JoinedAt time.Time `json:"joinedAt"`
}

type apiInvite struct {
	ID        uuid.UUID  `json:"id"`
	Role      string     `json:"role"`
	Email     *string    `json:"email"`
	CreatedAt time.Time  `json:"createdAt"`
	ExpiresAt time.Time  `json:"expiresAt"`
	UsedAt    *time.Time `json:"usedAt"`
	// Link is present only in the answer that created the invite.
	Link string `json:"link,omitempty"`
}

func toInvite(i store.Invite) apiInvite {
	return apiInvite{ID: i.ID, Role: string(i.Role), Email: i.Email, CreatedAt: i.CreatedAt, ExpiresAt: i.ExpiresAt, UsedAt: i.UsedAt}
}
