package oidc

import (
	"slices"
	"time"

	"github.com/zitadel/oidc/v3/pkg/op"

	zoidc "github.com/zitadel/oidc/v3/pkg/oidc"
)

// client is a registered application as the library sees it (op.Client).
type client struct {
	cfg ClientConfig
	// loginURL is where the library sends the browser with a new authorization
	// request: this realm's resume endpoint, which signs the user in through the
	// browser door or answers at once.
	loginURL func(id string) string
}

var _ op.Client = (*client)(nil)

func (c *client) GetID() string                    { return c.cfg.ClientID }
func (c *client) RedirectURIs() []string           { return c.cfg.RedirectURIs }
func (c *client) PostLogoutRedirectURIs() []string { return c.cfg.PostLogoutRedirectURIs }
func (c *client) LoginURL(id string) string        { return c.loginURL(id) }
func (c *client) IDTokenLifetime() time.Duration   { return c.cfg.IDTokenLifetime }
func (c *client) ClockSkew() time.Duration         { return 0 }

// DevMode lets the library accept an http redirect URI of a public client: config
// validation admits http only for loopback hosts, where a browser app under
// development runs.
func (c *client) DevMode() bool { return true }

// AccessTokenType is opaque bearer: the token is the sealed id of its record in the
// store, so revocation is immediate and every instance sees it.
func (c *client) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeBearer }

// ApplicationType is user_agent for a public client (a browser app) and web otherwise;
// redirect URIs are matched exactly either way.
func (c *client) ApplicationType() op.ApplicationType {
	if c.cfg.Public {
		return op.ApplicationTypeUserAgent
	}
	return op.ApplicationTypeWeb
}

// AuthMethod is none for a public client; a confidential one authenticates with its
// secret by HTTP Basic (or in the form: the provider accepts client_secret_post too).
func (c *client) AuthMethod() zoidc.AuthMethod {
	if c.cfg.Public {
		return zoidc.AuthMethodNone
	}
	return zoidc.AuthMethodBasic
}

// ResponseTypes is the code flow only: no implicit or hybrid tokens in URLs.
func (c *client) ResponseTypes() []zoidc.ResponseType {
	return []zoidc.ResponseType{zoidc.ResponseTypeCode}
}

func (c *client) GrantTypes() []zoidc.GrantType {
	out := make([]zoidc.GrantType, 0, len(c.cfg.GrantTypes))
	for _, g := range c.cfg.GrantTypes {
		out = append(out, zoidc.GrantType(g))
	}
	return out
}

func (c *client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

func (c *client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

// IsScopeAllowed admits the configured scopes; the library drops any other.
func (c *client) IsScopeAllowed(scope string) bool { return slices.Contains(c.cfg.Scopes, scope) }

// IDTokenUserinfoClaimsAssertion puts the profile and email claims in the ID token
// too, as AM does, so an application needs no userinfo call for them.
func (c *client) IDTokenUserinfoClaimsAssertion() bool { return true }

func (c *client) allows(grant string) bool { return slices.Contains(c.cfg.GrantTypes, grant) }
