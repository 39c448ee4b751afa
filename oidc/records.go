package oidc

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"time"

	zoidc "github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// Store keys. Secrets (codes, refresh tokens) appear only as their SHA-256; access
// tokens are sealed record ids, so the store holds no token a client could present.
func authRequestKey(id string) string    { return "oidc:authreq:" + id }
func codeKey(code string) string         { return "oidc:code:" + digest(code) }
func usedCodeKey(code string) string     { return "oidc:usedcode:" + digest(code) }
func grantKey(id string) string          { return "oidc:grant:{" + id + "}" }
func accessKey(id string) string         { return "oidc:at:" + id }
func refreshKey(token string) string     { return "oidc:rt:" + digest(token) }
func sessionEndKey(handle string) string { return "oidc:sessionend:" + handle }
func sidKey(handle string) string        { return "oidc:sid:" + handle }

// digest is the store name of a secret: its SHA-256, base64url. The secrets are 256-bit
// random values, so a fast hash is enough.
func digest(s string) string {
	h := sha256.Sum256([]byte(s))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// randomID returns n random bytes, base64url.
func randomID(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Lifetimes of the short-lived records.
const (
	// authRequestTTL bounds an authorization request, the sign-in journey included.
	authRequestTTL = 15 * time.Minute
	// codeTTL bounds an authorization code between its issue and its exchange.
	codeTTL = time.Minute
)

// authRequest is an authorization request between /authorize and the code exchange
// (op.AuthRequest).
type authRequest struct {
	ID                  string             `json:"id"`
	Realm               string             `json:"realm"`
	ClientID            string             `json:"client_id"`
	RedirectURI         string             `json:"redirect_uri"`
	State               string             `json:"state,omitempty"`
	Nonce               string             `json:"nonce,omitempty"`
	ResponseType        zoidc.ResponseType `json:"response_type"`
	ResponseMode        zoidc.ResponseMode `json:"response_mode,omitempty"`
	Scopes              []string           `json:"scopes"`
	CodeChallenge       string             `json:"code_challenge,omitempty"`
	CodeChallengeMethod string             `json:"code_challenge_method,omitempty"`
	Prompt              []string           `json:"prompt,omitempty"`
	MaxAge              *uint              `json:"max_age,omitempty"`
	Locale              string             `json:"locale,omitempty"`
	// Journey is the journey the client asked for (acr_values or service); empty for
	// its default one.
	Journey string    `json:"journey,omitempty"`
	Created time.Time `json:"created"`
	// LoginSent records that the browser was sent to the browser door once: coming
	// back without a session that satisfies the request is then a failure, not a loop.
	LoginSent bool `json:"login_sent,omitempty"`

	// Set once a session satisfied the request.
	Subject  string    `json:"sub,omitempty"`
	AuthTime time.Time `json:"auth_time,omitzero"`
	AMR      []string  `json:"amr,omitempty"`
	ACR      string    `json:"acr,omitempty"`
	SID      string    `json:"sid,omitempty"`
	IsDone   bool      `json:"done,omitempty"`
}

var _ op.AuthRequest = (*authRequest)(nil)

func (a *authRequest) GetID() string                       { return a.ID }
func (a *authRequest) GetACR() string                      { return a.ACR }
func (a *authRequest) GetAMR() []string                    { return a.AMR }
func (a *authRequest) GetAudience() []string               { return []string{a.ClientID} }
func (a *authRequest) GetAuthTime() time.Time              { return a.AuthTime }
func (a *authRequest) GetClientID() string                 { return a.ClientID }
func (a *authRequest) GetNonce() string                    { return a.Nonce }
func (a *authRequest) GetRedirectURI() string              { return a.RedirectURI }
func (a *authRequest) GetResponseType() zoidc.ResponseType { return a.ResponseType }
func (a *authRequest) GetResponseMode() zoidc.ResponseMode { return a.ResponseMode }
func (a *authRequest) GetScopes() []string                 { return a.Scopes }
func (a *authRequest) GetState() string                    { return a.State }
func (a *authRequest) GetSubject() string                  { return a.Subject }
func (a *authRequest) Done() bool                          { return a.IsDone }
func (a *authRequest) GetCodeChallenge() *zoidc.CodeChallenge {
	if a.CodeChallenge == "" {
		return nil
	}
	return &zoidc.CodeChallenge{Challenge: a.CodeChallenge, Method: zoidc.CodeChallengeMethod(a.CodeChallengeMethod)}
}

// grant is one authorization: the tokens of one code exchange (or one client
// credentials request) and every rotation of its refresh token. Revoking it revokes
// them all; so does ending the Arbor session it came from.
type grant struct {
	ID       string    `json:"id"`
	Realm    string    `json:"realm"`
	ClientID string    `json:"client_id"`
	Subject  string    `json:"sub"`
	Scopes   []string  `json:"scopes"`
	AuthTime time.Time `json:"auth_time,omitzero"`
	AMR      []string  `json:"amr,omitempty"`
	ACR      string    `json:"acr,omitempty"`
	// SID is the handle of the Arbor session it came from (none for client
	// credentials).
	SID     string    `json:"sid,omitempty"`
	Created time.Time `json:"created"`
	Revoked bool      `json:"revoked,omitempty"`
	// User is false for a client credentials grant, whose subject is the client.
	User bool `json:"user,omitempty"`
}

// accessToken is the record of an opaque access token.
type accessToken struct {
	ID      string    `json:"id"`
	GrantID string    `json:"grant"`
	Scopes  []string  `json:"scopes"`
	Issued  time.Time `json:"iat"`
	Expires time.Time `json:"exp"`
}

// refreshToken is the record of a refresh token, kept until it expires: Used marks
// one already exchanged, whose second use is a replay that revokes the grant.
type refreshToken struct {
	GrantID string    `json:"grant"`
	Scopes  []string  `json:"scopes"`
	Expires time.Time `json:"exp"`
	Used    bool      `json:"used,omitempty"`
}

// refreshRequest is a refresh token exchange in progress (op.RefreshTokenRequest).
type refreshRequest struct {
	g      *grant
	token  string
	scopes []string
}

var _ op.RefreshTokenRequest = (*refreshRequest)(nil)

func (r *refreshRequest) GetAMR() []string            { return r.g.AMR }
func (r *refreshRequest) GetAudience() []string       { return []string{r.g.ClientID} }
func (r *refreshRequest) GetAuthTime() time.Time      { return r.g.AuthTime }
func (r *refreshRequest) GetClientID() string         { return r.g.ClientID }
func (r *refreshRequest) GetScopes() []string         { return r.scopes }
func (r *refreshRequest) GetSubject() string          { return r.g.Subject }
func (r *refreshRequest) SetCurrentScopes(s []string) { r.scopes = s }

// credentialsRequest is a client credentials token request (op.TokenRequest).
type credentialsRequest struct {
	clientID string
	scopes   []string
}

func (r *credentialsRequest) GetSubject() string    { return r.clientID }
func (r *credentialsRequest) GetAudience() []string { return []string{r.clientID} }
func (r *credentialsRequest) GetScopes() []string   { return r.scopes }
