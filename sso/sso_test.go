package sso

import (
	"errors"
	"testing"
)

func TestAuthorize(t *testing.T) {
	yes, no := true, false
	p, err := New(Config{Issuer: "https://idp.example", ClientID: "c", RedirectURL: "https://labs.example/cb",
		AllowedDomains: []string{"@School.edu"}, AdminGroups: []string{"ops"}, InstructorGroups: []string{"teachers"}, AllowedGroups: []string{"cka"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		id     Identity
		role   string
		denial string
	}{
		{"admin", Identity{Email: "a@school.edu", EmailVerified: &yes, Groups: []string{"ops"}}, RoleAdmin, ""},
		{"instructor", Identity{Email: "t@school.edu", EmailVerified: &yes, Groups: []string{"teachers", "cka"}}, RoleInstructor, ""},
		{"student", Identity{Email: "s@school.edu", EmailVerified: &yes, Groups: []string{"cka"}}, RoleStudent, ""},
		{"outside the groups", Identity{Email: "x@school.edu", EmailVerified: &yes, Groups: []string{"hr"}}, "", "group"},
		{"no groups claim", Identity{Email: "x@school.edu", EmailVerified: &yes}, "", "group"},
		{"other domain", Identity{Email: "a@gmail.com", EmailVerified: &yes, Groups: []string{"ops"}}, "", "domain"},
		{"unverified", Identity{Email: "a@school.edu", EmailVerified: &no, Groups: []string{"ops"}}, "", "email_unverified"},
		{"not saying", Identity{Email: "a@school.edu", Groups: []string{"ops"}}, "", "email_unverified"},
	} {
		d, err := p.Authorize(tc.id)
		var den *Denial
		switch {
		case tc.denial != "" && (!errors.As(err, &den) || den.Code != tc.denial || !errors.Is(err, ErrDenied)):
			t.Errorf("%s: %v, want denial %q", tc.name, err, tc.denial)
		case tc.denial == "" && (err != nil || d.Role != tc.role || !d.MayCreate || !d.AdminsFromGroups):
			t.Errorf("%s: %+v %v, want role %q", tc.name, d, err, tc.role)
		}
	}
	// Only instructor groups, a token without groups: the role is kept.
	p2, _ := New(Config{Issuer: "i", ClientID: "c", RedirectURL: "http://x/cb", InstructorGroups: []string{"teachers"}, TrustEmail: true}, nil)
	d, err := p2.Authorize(Identity{Email: "t@x.org"})
	if err != nil || d.Role != "" || !d.NoGroupsClaim || d.MayCreate || d.AdminsFromGroups {
		t.Fatalf("no groups claim: %+v %v", d, err)
	}
}

func TestClaimsAreCleaned(t *testing.T) {
	for e, ok := range map[string]bool{
		"a@b.c": true, "a.b+c@d.example": true, "": false, "@b.c": false, "a@": false, "a@b@c": false,
		"a b@c.d": false, "a\t@c.d": false, "\u212aelvin@c.d": false, string(make([]byte, 255)) + "@c.d": false,
	} {
		if plainEmail(e) != ok {
			t.Errorf("plainEmail(%q) = %v", e, !ok)
		}
	}
	if got := cleanName(" Pat\u202e\x07 Doe "); got != "Pat Doe" {
		t.Errorf("cleanName: %q", got)
	}
}

func TestNewNeedsIssuerClientAndRedirect(t *testing.T) {
	if _, err := New(Config{RedirectURL: "/cb"}, nil); err == nil {
		t.Fatal("an empty configuration was accepted")
	}
}
