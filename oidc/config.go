package oidc

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/arbor-auth/arbor/door"
	"github.com/arbor-auth/arbor/identity"
)

// Config is the "oidc" section of the config file. The provider is off unless it
// declares at least one client.
//
//	oidc:
//	  clients:
//	    - client_id: my-spa
//	      public: true
//	      redirect_uris: [https://app.example.com/callback]
//	      cors_origins: [https://app.example.com]
type Config struct {
	// SigningAlg is the ID token signature algorithm: ES256 (the default) or RS256.
	SigningAlg string `yaml:"signing_alg"`
	// KeyRotation is how long a signing key signs before a new one replaces it
	// (default 720h). A retired key stays published until every token it signed has
	// expired.
	KeyRotation time.Duration `yaml:"key_rotation"`
	// ACR names the session levels in the acr claim ({10: pwd, 20: mfa}); a level
	// without a name is its number as a string ("10", "20").
	ACR map[int]string `yaml:"acr"`
	// Clients are the registered applications.
	Clients []ClientConfig `yaml:"clients"`
}

// ClientConfig is one registered application (an OAuth 2.0 client).
type ClientConfig struct {
	// ClientID identifies the client in requests.
	ClientID string `yaml:"client_id"`
	// Realm is the realm whose users sign in to it (default "/"); the client is served
	// only at that realm's paths.
	Realm string `yaml:"realm"`
	// Public marks a client that cannot keep a secret (a browser or mobile app): it
	// must use PKCE with S256 and has no secret.
	Public bool `yaml:"public"`
	// SecretHash is the argon2id or bcrypt hash of a confidential client's secret
	// (`echo -n SECRET | arbor users hash`, or `go run . users hash`); the secret itself is never configured.
	SecretHash string `yaml:"secret_hash"`
	// RedirectURIs are the exact URIs an authorization may return to.
	RedirectURIs []string `yaml:"redirect_uris"`
	// PostLogoutRedirectURIs are the exact URIs endSession may return to.
	PostLogoutRedirectURIs []string `yaml:"post_logout_redirect_uris"`
	// Scopes the client may ask for (default: openid profile email offline_access).
	Scopes []string `yaml:"scopes"`
	// Journeys the client may ask for through acr_values or AM's service parameter;
	// the first is the one its users sign in with (default: the realm's default
	// journey, and no other).
	Journeys []string `yaml:"journeys"`
	// GrantTypes the client may use: authorization_code, refresh_token and, for a
	// confidential client, client_credentials (default: authorization_code and
	// refresh_token).
	GrantTypes []string `yaml:"grant_types"`
	// CORSOrigins are the browser origins allowed to call the token, userinfo,
	// revocation and endSession endpoints (with credentials and the Authorization
	// header).
	CORSOrigins []string `yaml:"cors_origins"`
	// AccessTokenLifetime defaults to 1h, RefreshTokenLifetime to 720h (counted from
	// the sign-in: rotation does not extend it) and IDTokenLifetime to 1h.
	AccessTokenLifetime  time.Duration `yaml:"access_token_lifetime"`
	RefreshTokenLifetime time.Duration `yaml:"refresh_token_lifetime"`
	IDTokenLifetime      time.Duration `yaml:"id_token_lifetime"`
}

// Enabled reports whether the section declares a client.
func (c Config) Enabled() bool { return len(c.Clients) > 0 }

// Defaults of the section.
const (
	DefaultKeyRotation          = 720 * time.Hour
	DefaultAccessTokenLifetime  = time.Hour
	DefaultRefreshTokenLifetime = 720 * time.Hour
	DefaultIDTokenLifetime      = time.Hour
)

// Grant types a client may be given.
const (
	GrantCode              = "authorization_code"
	GrantRefresh           = "refresh_token"
	GrantClientCredentials = "client_credentials"
)

// defaultScopes are the scopes of a client that names none.
var defaultScopes = []string{"openid", "profile", "email", "offline_access"}

// normalize fills the defaults in and returns every problem of the section, each
// naming the client and field.
func (c *Config) normalize(defaultJourney func(realm string) string) error {
	var errs []error
	switch c.SigningAlg {
	case "":
		c.SigningAlg = "ES256"
	case "ES256", "RS256":
	default:
		errs = append(errs, fmt.Errorf("signing_alg %q is not ES256 or RS256", c.SigningAlg))
	}
	if c.KeyRotation == 0 {
		c.KeyRotation = DefaultKeyRotation
	}
	if c.KeyRotation < time.Minute {
		errs = append(errs, fmt.Errorf("key_rotation %s is shorter than a minute", c.KeyRotation))
	}
	seen := map[string]bool{}
	for i := range c.Clients {
		cl := &c.Clients[i]
		where := fmt.Sprintf("clients[%d]", i)
		if cl.ClientID != "" {
			where = fmt.Sprintf("client %q", cl.ClientID)
		}
		for _, err := range cl.normalize(defaultJourney) {
			errs = append(errs, fmt.Errorf("%s: %w", where, err))
		}
		if seen[cl.ClientID] {
			errs = append(errs, fmt.Errorf("%s: declared twice", where))
		}
		seen[cl.ClientID] = true
	}
	return errors.Join(errs...)
}

func (cl *ClientConfig) normalize(defaultJourney func(realm string) string) []error {
	var errs []error
	if cl.ClientID == "" || len(cl.ClientID) > 128 || strings.ContainsAny(cl.ClientID, " \t\r\n:") {
		errs = append(errs, errors.New("client_id must be 1 to 128 characters without spaces or colons"))
	}
	realm, err := door.NormalizeRealm(cl.Realm)
	if err != nil {
		errs = append(errs, err)
	}
	cl.Realm = realm
	switch {
	case cl.Public && cl.SecretHash != "":
		errs = append(errs, errors.New("a public client has no secret_hash"))
	case !cl.Public && cl.SecretHash == "":
		errs = append(errs, errors.New("a confidential client needs secret_hash (or public: true)"))
	case !cl.Public:
		// Verifying against an empty secret parses the hash (and costs one hash at start).
		if _, err := identity.VerifyPassword(cl.SecretHash, ""); err != nil {
			errs = append(errs, errors.New("secret_hash is not an argon2id or bcrypt hash (make one with: echo -n SECRET | arbor users hash)"))
		}
	}
	if len(cl.GrantTypes) == 0 {
		cl.GrantTypes = []string{GrantCode, GrantRefresh}
	}
	for _, g := range cl.GrantTypes {
		switch g {
		case GrantCode, GrantRefresh:
		case GrantClientCredentials:
			if cl.Public {
				errs = append(errs, errors.New("a public client cannot use client_credentials"))
			}
		default:
			errs = append(errs, fmt.Errorf("grant type %q is not %s, %s or %s", g, GrantCode, GrantRefresh, GrantClientCredentials))
		}
	}
	if slices.Contains(cl.GrantTypes, GrantCode) && len(cl.RedirectURIs) == 0 {
		errs = append(errs, errors.New("redirect_uris is empty"))
	}
	for _, u := range append(slices.Clone(cl.RedirectURIs), cl.PostLogoutRedirectURIs...) {
		if err := checkRedirectURI(u); err != nil {
			errs = append(errs, err)
		}
	}
	for _, o := range cl.CORSOrigins {
		if u, err := url.Parse(o); err != nil || u.Scheme == "" || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			errs = append(errs, fmt.Errorf("cors origin %q is not scheme://host[:port]", o))
		}
	}
	if len(cl.Scopes) == 0 {
		cl.Scopes = slices.Clone(defaultScopes)
	}
	if !slices.Contains(cl.Scopes, "openid") {
		cl.Scopes = append(cl.Scopes, "openid")
	}
	if len(cl.Journeys) == 0 && defaultJourney != nil && err == nil {
		cl.Journeys = []string{defaultJourney(realm)}
	}
	for _, d := range []struct {
		v   *time.Duration
		def time.Duration
		key string
	}{
		{&cl.AccessTokenLifetime, DefaultAccessTokenLifetime, "access_token_lifetime"},
		{&cl.RefreshTokenLifetime, DefaultRefreshTokenLifetime, "refresh_token_lifetime"},
		{&cl.IDTokenLifetime, DefaultIDTokenLifetime, "id_token_lifetime"},
	} {
		if *d.v == 0 {
			*d.v = d.def
		}
		if *d.v < time.Second {
			errs = append(errs, fmt.Errorf("%s %s is shorter than a second", d.key, *d.v))
		}
	}
	return errs
}

// checkRedirectURI accepts an absolute URI without a fragment: https anywhere, http
// only for a loopback host, or a custom scheme (a native app's).
func checkRedirectURI(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("redirect URI %q is not an absolute URI without a fragment", s)
	}
	if u.Scheme == "http" {
		h := u.Hostname()
		if h != "localhost" && h != "127.0.0.1" && h != "::1" && !strings.HasSuffix(h, ".localhost") {
			return fmt.Errorf("redirect URI %q uses http for a host other than loopback: use https", s)
		}
	}
	return nil
}

// maxLifetime is the longest a token of any client can live: old signing keys stay
// published for that long.
func (c Config) maxLifetime() time.Duration {
	m := time.Hour
	for _, cl := range c.Clients {
		m = max(m, cl.AccessTokenLifetime, cl.IDTokenLifetime)
	}
	return m
}
