package main

import (
	"log/slog"

	"github.com/ckalab/ckalab/config"
	"github.com/ckalab/ckalab/sso"
)

// newSSO is the OpenID Connect provider of --oidc-issuer.
func newSSO(cfg *config.Config, log *slog.Logger) (*sso.Provider, error) {
	return sso.New(sso.Config{
		Issuer: cfg.OIDCIssuer, ClientID: cfg.OIDCClientID, ClientSecret: cfg.OIDCClientSecret,
		RedirectURL:      cfg.Origin() + "/api/v1/auth/oidc/callback",
		Scopes:           config.List(cfg.OIDCScopes),
		AllowedDomains:   config.List(cfg.OIDCAllowedDomains),
		GroupsClaim:      cfg.OIDCGroupsClaim,
		AdminGroups:      config.List(cfg.OIDCAdminGroups),
		InstructorGroups: config.List(cfg.OIDCInstructorGroups),
		AllowedGroups:    config.List(cfg.OIDCAllowedGroups),
		TrustEmail:       cfg.OIDCTrustEmail,
	}, log.With("component", "sso"))
}
