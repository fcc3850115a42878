// Package sso signs people in through an OpenID Connect provider: the
// authorization code flow with PKCE, state and nonce; the ID token checked
// for signature, issuer, audience and expiry; and the operator's policy
// (email domains, groups mapped to roles). It owns no HTTP routes and no
// accounts: package server calls Begin and Finish and keeps the accounts.
package sso

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// Roles a sign-in can map to; they match the store's account roles.
const (
	RoleStudent    = "student"
	RoleInstructor = "instructor"
	RoleAdmin      = "admin"
)

// Why a sign-in is refused. Each has a stable code the page explains.
var (
	// ErrExpired: the sign-in took longer than LoginTTL, or its state is
	// unknown (another browser, a replayed callback).
	ErrExpired = errors.New("sign-in expired or not started here")
	// ErrUnavailable: the provider's discovery or token endpoint failed.
	ErrUnavailable = errors.New("identity provider unavailable")
	// ErrToken: the ID token failed verification (signature, issuer,
	// audience, expiry, nonce) or lacked a needed claim.
	ErrToken = errors.New("identity token refused")
	// ErrDenied: the operator's policy refuses this person.
	ErrDenied = errors.New("not allowed to sign in")
)

const (
	// LoginTTL bounds the time from Begin to Finish.
	LoginTTL = 10 * time.Minute
	// maxPending caps sign-ins in flight, so a flood of Begin calls cannot
	// grow memory without bound.
	maxPending = 10000
	// retryDiscovery spaces discovery attempts after a failure.
	retryDiscovery = 10 * time.Second
)

// Config is the relying party's setup (from config.Config in serve).
type Config struct {
	Issuer       string
	ClientID     string
	ClientSecret string
	// RedirectURL is ckalab's callback, registered at the provider.
	RedirectURL string
	// Scopes requested besides openid (default email, profile).
	Scopes []string
	// AllowedDomains: email domains that may sign in; empty allows any.
	AllowedDomains []string
	// GroupsClaim names the ID token claim that lists groups.
	GroupsClaim string
	// AdminGroups and InstructorGroups map groups to roles; when either is
	// set, the role follows the groups at every sign-in.
	AdminGroups, InstructorGroups []string
	// AllowedGroups: when set, only members of one of them (or of a role
	// group) may sign in.
	AllowedGroups []string
	// TrustEmail takes an email as verified when the provider does not say
	// (Microsoft Entra ID sends no email_verified). An email_verified of
	// false is refused either way.
	TrustEmail bool
	// HTTPClient talks to the provider (default: 10 s timeout).
	HTTPClient *http.Client
	// Now is the clock used to check token expiry (default time.Now).
	Now func() time.Time
}

// Identity is who the provider says signed in.
type Identity struct {
	// Issuer is the configured issuer (a provider may spell its own
	// issuer two ways; the account must not depend on which).
	Issuer, Subject string
	Email           string
	// EmailVerified is nil when the provider does not say.
	EmailVerified *bool
	Name          string
	// Groups is nil when the token has no groups claim.
	Groups []string
}

// Login is a sign-in in flight, from Begin to Finish.
type Login struct {
	state, nonce, verifier string
	// Invite is the invite token the sign-in should accept, if any.
	Invite string
	// Next is the page to return to (a path on this server).
	Next    string
	expires time.Time
}

// Provider is one OpenID Connect provider.
type Provider struct {
	cfg Config
	log *slog.Logger

	// discovering serialises discovery; mu guards the rest, never held
	// across a network call.
	discovering sync.Mutex
	mu          sync.Mutex
	oidc        *oidc.Provider // nil until discovery succeeded
	failedAt    time.Time
	pending     map[string]Login
}

// New checks cfg and returns a Provider. Discovery happens at the first
// sign-in (and again after a failure), so a provider that is down when
// ckalab starts does not stop it.
func New(cfg Config, log *slog.Logger) (*Provider, error) {
	var errs []string
	if cfg.Issuer == "" {
		errs = append(errs, "--oidc-issuer is empty")
	}
	if cfg.ClientID == "" {
		errs = append(errs, "--oidc-client-id is empty")
	}
	if !strings.HasPrefix(cfg.RedirectURL, "http://") && !strings.HasPrefix(cfg.RedirectURL, "https://") {
		errs = append(errs, fmt.Sprintf("redirect URL %q is not http(s): set --public-url", cfg.RedirectURL))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("single sign-on: %s", strings.Join(errs, "; "))
	}
	if cfg.Scopes == nil {
		cfg.Scopes = []string{"email", "profile"}
	}
	if cfg.GroupsClaim == "" {
		cfg.GroupsClaim = "groups"
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	for i, d := range cfg.AllowedDomains {
		cfg.AllowedDomains[i] = strings.ToLower(strings.TrimPrefix(strings.TrimSpace(d), "@"))
	}
	return &Provider{cfg: cfg, log: log, pending: map[string]Login{}}, nil
}

// discover returns the provider's endpoints and keys, discovering them once.
func (p *Provider) discover(ctx context.Context) (*oidc.Provider, error) {
	known := func() (*oidc.Provider, error) {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.oidc != nil {
			return p.oidc, nil
		}
		if !p.failedAt.IsZero() && time.Since(p.failedAt) < retryDiscovery {
			return nil, fmt.Errorf("%w: discovery failed moments ago", ErrUnavailable)
		}
		return nil, nil
	}
	if op, err := known(); op != nil || err != nil {
		return op, err
	}
	p.discovering.Lock()
	defer p.discovering.Unlock()
	if op, err := known(); op != nil || err != nil {
		return op, err
	}
	op, err := oidc.NewProvider(oidc.ClientContext(ctx, p.cfg.HTTPClient), p.cfg.Issuer)
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		p.failedAt = time.Now()
		return nil, fmt.Errorf("%w: discover %s: %w", ErrUnavailable, p.cfg.Issuer, err)
	}
	p.oidc = op
	return op, nil
}

func (p *Provider) oauth2(op *oidc.Provider) *oauth2.Config {
	return &oauth2.Config{
		ClientID: p.cfg.ClientID, ClientSecret: p.cfg.ClientSecret, RedirectURL: p.cfg.RedirectURL,
		Endpoint: op.Endpoint(), Scopes: append([]string{oidc.ScopeOpenID}, p.cfg.Scopes...),
	}
}

// Begin starts a sign-in: it returns the provider's authorization URL and
// the state the caller must bind to the browser (a cookie) and give back
// to Finish.
func (p *Provider) Begin(ctx context.Context, invite, next string) (authURL, state string, err error) {
	op, err := p.discover(ctx)
	if err != nil {
		return "", "", err
	}
	l := Login{state: random(), nonce: random(), verifier: oauth2.GenerateVerifier(),
		Invite: invite, Next: next, expires: time.Now().Add(LoginTTL)}
	p.mu.Lock()
	p.prune()
	if len(p.pending) >= maxPending {
		// A flood can only cancel sign-ins in flight (people retry), not
		// block new ones or grow memory.
		p.evictOldest()
	}
	p.pending[l.state] = l
	p.mu.Unlock()
	u := p.oauth2(op).AuthCodeURL(l.state, oidc.Nonce(l.nonce), oauth2.S256ChallengeOption(l.verifier))
	return u, l.state, nil
}

// prune drops expired sign-ins; p.mu is held.
func (p *Provider) prune() {
	now := time.Now()
	for k, l := range p.pending {
		if now.After(l.expires) {
			delete(p.pending, k)
		}
	}
}

// evictOldest drops the sign-in that expires first; p.mu is held.
func (p *Provider) evictOldest() {
	var oldest string
	var at time.Time
	for k, l := range p.pending {
		if oldest == "" || l.expires.Before(at) {
			oldest, at = k, l.expires
		}
	}
	delete(p.pending, oldest)
}

// Cancel ends a sign-in the provider refused, and returns what Begin was
// asked.
func (p *Provider) Cancel(state string) (Login, bool) { return p.take(state) }

// take removes and returns the sign-in with this state, once.
func (p *Provider) take(state string) (Login, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	l, ok := p.pending[state]
	delete(p.pending, state)
	if !ok || time.Now().After(l.expires) {
		return Login{}, false
	}
	return l, true
}

// Finish ends a sign-in: the code is exchanged (with the PKCE verifier) and
// the ID token verified. The Login tells the caller what Begin was asked.
func (p *Provider) Finish(ctx context.Context, state, code string) (Identity, Login, error) {
	l, ok := p.take(state)
	if !ok {
		return Identity{}, Login{}, ErrExpired
	}
	op, err := p.discover(ctx)
	if err != nil {
		return Identity{}, l, err
	}
	tok, err := p.oauth2(op).Exchange(oidc.ClientContext(ctx, p.cfg.HTTPClient), code, oauth2.VerifierOption(l.verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode < 500 {
			return Identity{}, l, fmt.Errorf("%w: the provider refused the code: %s", ErrToken, re.ErrorCode)
		}
		return Identity{}, l, fmt.Errorf("%w: exchange code: %w", ErrUnavailable, err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return Identity{}, l, fmt.Errorf("%w: the token response has no id_token", ErrToken)
	}
	v := op.Verifier(&oidc.Config{ClientID: p.cfg.ClientID, Now: p.cfg.Now})
	idt, err := v.Verify(ctx, raw)
	if err != nil {
		return Identity{}, l, fmt.Errorf("%w: %w", ErrToken, err)
	}
	if len(idt.Audience) > 1 {
		var azp struct {
			AZP string `json:"azp"`
		}
		if err := idt.Claims(&azp); err != nil || azp.AZP != p.cfg.ClientID {
			return Identity{}, l, fmt.Errorf("%w: a token for several audiences was not issued to this client (azp)", ErrToken)
		}
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(l.nonce)) != 1 {
		return Identity{}, l, fmt.Errorf("%w: nonce does not match this sign-in", ErrToken)
	}
	id, err := p.identity(idt)
	return id, l, err
}

// identity reads the claims ckalab uses.
func (p *Provider) identity(idt *oidc.IDToken) (Identity, error) {
	var claims map[string]json.RawMessage
	if err := idt.Claims(&claims); err != nil {
		return Identity{}, fmt.Errorf("%w: claims: %w", ErrToken, err)
	}
	id := Identity{Issuer: p.cfg.Issuer, Subject: idt.Subject}
	str := func(k string) string {
		var s string
		_ = json.Unmarshal(claims[k], &s)
		return strings.TrimSpace(s)
	}
	id.Email = str("email")
	if !plainEmail(id.Email) {
		return id, fmt.Errorf("%w: the token has no usable email (ask for the email scope)", ErrToken)
	}
	id.Email = strings.ToLower(id.Email)
	id.Name = cleanName(str("name"))
	if id.Name == "" {
		id.Name = cleanName(str("preferred_username"))
	}
	if raw, ok := claims["email_verified"]; ok {
		// Some providers send "true" as a string.
		var b bool
		if json.Unmarshal(raw, &b) != nil {
			b = strings.EqualFold(strings.Trim(string(raw), `"`), "true")
		}
		id.EmailVerified = &b
	}
	if raw, ok := claims[p.cfg.GroupsClaim]; ok {
		if json.Unmarshal(raw, &id.Groups) != nil {
			var one string
			if json.Unmarshal(raw, &one) == nil && one != "" {
				id.Groups = []string{one}
			}
		}
	}
	if id.Subject == "" || len(id.Subject) > 255 {
		return id, fmt.Errorf("%w: the token has no usable subject", ErrToken)
	}
	return id, nil
}

// plainEmail accepts what the store keeps: printable ASCII with one @,
// at most 254 bytes (no Unicode that lower-casing could fold into
// another account's address).
func plainEmail(e string) bool {
	at := strings.IndexByte(e, '@')
	if len(e) > 254 || at < 1 || at != strings.LastIndexByte(e, '@') || at == len(e)-1 {
		return false
	}
	for i := 0; i < len(e); i++ {
		if e[i] <= ' ' || e[i] >= 0x7f {
			return false
		}
	}
	return true
}

// cleanName drops control and formatting characters and keeps 200 runes.
func cleanName(n string) string {
	n = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return -1
		}
		return r
	}, n)
	if r := []rune(n); len(r) > 200 {
		n = string(r[:200])
	}
	return strings.TrimSpace(n)
}

// Denial is a policy refusal with a code the page explains.
type Denial struct{ Code, Reason string }

func (d *Denial) Error() string { return d.Reason }
func (d *Denial) Unwrap() error { return ErrDenied }

// Decision is what the policy allows a person who may sign in.
type Decision struct {
	// Role is what the groups give; empty keeps the account's role (no
	// role groups configured, or the token lists no groups).
	Role string
	// AdminsFromGroups: admin groups are configured.
	AdminsFromGroups bool
	// MayCreate: a person without an account may get one without an
	// invite (sign-in is limited to domains or groups).
	MayCreate bool
	// NoGroupsClaim: role groups are configured but the token lists no
	// groups (ask for the groups scope, or check --oidc-groups-claim).
	NoGroupsClaim bool
}

// Authorize applies the operator's policy to id.
func (p *Provider) Authorize(id Identity) (Decision, error) {
	verified := p.cfg.TrustEmail
	if id.EmailVerified != nil {
		verified = *id.EmailVerified
	}
	if !verified {
		return Decision{}, &Denial{"email_unverified", fmt.Sprintf("the provider has not verified %s", id.Email)}
	}
	if len(p.cfg.AllowedDomains) > 0 {
		domain := id.Email[strings.LastIndex(id.Email, "@")+1:]
		if !slices.Contains(p.cfg.AllowedDomains, domain) {
			return Decision{}, &Denial{"domain", fmt.Sprintf("email domain %s is not allowed", domain)}
		}
	}
	in := func(groups []string) bool {
		return slices.ContainsFunc(groups, func(g string) bool { return slices.Contains(id.Groups, g) })
	}
	d := Decision{AdminsFromGroups: len(p.cfg.AdminGroups) > 0,
		MayCreate: len(p.cfg.AllowedDomains) > 0 || len(p.cfg.AllowedGroups) > 0}
	switch {
	case in(p.cfg.AdminGroups):
		d.Role = RoleAdmin
	case in(p.cfg.InstructorGroups):
		d.Role = RoleInstructor
	case len(p.cfg.AllowedGroups) > 0 && !in(p.cfg.AllowedGroups):
		return Decision{}, &Denial{"group", "not in a group allowed to sign in"}
	case len(p.cfg.AdminGroups) > 0 || len(p.cfg.InstructorGroups) > 0:
		d.Role = RoleStudent
	}
	if d.Role != "" && id.Groups == nil {
		d.Role, d.NoGroupsClaim = "", true
	}
	return d, nil
}

func random() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err))
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
