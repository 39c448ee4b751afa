package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	zoidc "github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/door"
	"github.com/arbor-auth/arbor/identity"
	"github.com/arbor-auth/arbor/keys"
	"github.com/arbor-auth/arbor/sessions"
	"github.com/arbor-auth/arbor/store"
)

// storage is the library's op.Storage over Arbor's store, for one realm: every
// record is shared by the instances on one store, expires by itself, and holds no
// secret in clear.
type storage struct {
	realm   string
	st      store.Store
	keys    *keyRing
	clients map[string]*client
	users   door.Users
	core    *door.Core
	sealer  *keys.Sealer // seals the session token kept for endSession
	acr     map[int]string
	now     func() time.Time
	// maxRefresh bounds how long a grant, and a record that revokes one, is kept.
	maxRefresh time.Duration
	audit      *audit.Logger
}

// emit writes an audit event with this door's name and the client's address.
func (s *storage) emit(ctx context.Context, ev audit.Event) {
	if ev.Details == nil {
		ev.Details = map[string]any{}
	}
	ev.Details["door"] = doorName
	if i := infoFrom(ctx); i != nil {
		ev.Client = i.client.IP
	}
	s.audit.Emit(ctx, ev)
}

var (
	_ op.Storage                        = (*storage)(nil)
	_ op.ClientCredentialsStorage       = (*storage)(nil)
	_ op.CanSetUserinfoFromRequest      = (*storage)(nil)
	_ op.CanTerminateSessionFromRequest = (*storage)(nil)
)

// PurposeSessionSeal seals, in the store, the session token endSession needs to end a
// session named only by an ID token's sid.
const PurposeSessionSeal = "arbor oidc session seal v1"

// errExpiredRefresh is a refresh token past its lifetime (counted from the sign-in).
var errExpiredRefresh = zoidc.ErrInvalidGrant().WithDescription("the refresh token's lifetime is over: sign in again")

// errNotFound is a record that does not exist (any more); the library maps it to the
// protocol's error (invalid_grant, invalid_token).
var errNotFound = errors.New("oidc: not found")

func (s *storage) getJSON(ctx context.Context, key string, v any) (uint64, error) {
	it, err := s.st.Get(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return 0, errNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("oidc: read %s: %w", strings.SplitN(key, ":", 3)[1], err)
	}
	if err := json.Unmarshal(it.Value, v); err != nil {
		return 0, fmt.Errorf("oidc: decode %s: %w", strings.SplitN(key, ":", 3)[1], err)
	}
	return it.Rev, nil
}

func (s *storage) setJSON(ctx context.Context, key string, v any, ttl time.Duration) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if _, err := s.st.Set(ctx, key, b, ttl); err != nil {
		return fmt.Errorf("oidc: write %s: %w", strings.SplitN(key, ":", 3)[1], err)
	}
	return nil
}

// --- clients ---

func (s *storage) client(id string) (*client, error) {
	c, ok := s.clients[id]
	if !ok {
		return nil, fmt.Errorf("oidc: no client %q in realm %s", id, s.realm)
	}
	return c, nil
}

// GetClientByClientID returns a client of this realm.
func (s *storage) GetClientByClientID(_ context.Context, id string) (op.Client, error) {
	return s.client(id)
}

// AuthorizeClientIDSecret checks a confidential client's secret against its hash
// (constant time).
func (s *storage) AuthorizeClientIDSecret(_ context.Context, id, secret string) error {
	c, err := s.client(id)
	if err != nil {
		return err
	}
	if c.cfg.Public {
		return errors.New("oidc: a public client has no secret")
	}
	ok, err := identity.VerifyPassword(c.cfg.SecretHash, secret)
	if err != nil || !ok {
		return errors.New("oidc: wrong client secret")
	}
	return nil
}

// ClientCredentials authenticates a confidential client for the client_credentials
// grant.
func (s *storage) ClientCredentials(ctx context.Context, id, secret string) (op.Client, error) {
	if err := s.AuthorizeClientIDSecret(ctx, id, secret); err != nil {
		return nil, err
	}
	c, _ := s.client(id)
	if !c.allows(GrantClientCredentials) {
		return nil, zoidc.ErrUnauthorizedClient().WithDescription("client_credentials is not a grant type of this client")
	}
	return c, nil
}

// ClientCredentialsTokenRequest is the token request of a client for itself, with the
// scopes it may have.
func (s *storage) ClientCredentialsTokenRequest(_ context.Context, id string, scopes []string) (op.TokenRequest, error) {
	c, err := s.client(id)
	if err != nil {
		return nil, err
	}
	for _, sc := range scopes {
		if !slices.Contains(c.cfg.Scopes, sc) {
			return nil, zoidc.ErrInvalidScope().WithDescription("scope %q is not allowed for this client", sc)
		}
	}
	return &credentialsRequest{clientID: id, scopes: scopes}, nil
}

// --- authorization requests and codes ---

// CreateAuthRequest stores a validated authorization request. It refuses what the
// library leaves to the provider: a public client without PKCE S256, and a journey
// the client may not ask for.
func (s *storage) CreateAuthRequest(ctx context.Context, r *zoidc.AuthRequest, _ string) (op.AuthRequest, error) {
	c, err := s.client(r.ClientID)
	if err != nil {
		return nil, err
	}
	if c.cfg.Public && (r.CodeChallenge == "" || r.CodeChallengeMethod != zoidc.CodeChallengeMethodS256) {
		return nil, zoidc.ErrInvalidRequest().WithDescription("a public client must send a code_challenge with code_challenge_method S256 (PKCE)")
	}
	journey, err := s.requestedJourney(ctx, c, r.ACRValues)
	if err != nil {
		return nil, err
	}
	scopes := slices.DeleteFunc(slices.Clone(r.Scopes), func(sc string) bool { return !slices.Contains(c.cfg.Scopes, sc) })
	a := &authRequest{
		ID: randomID(24), Realm: s.realm, ClientID: r.ClientID, RedirectURI: r.RedirectURI, State: r.State, Nonce: r.Nonce,
		ResponseType: r.ResponseType, ResponseMode: r.ResponseMode, Scopes: scopes,
		CodeChallenge: r.CodeChallenge, CodeChallengeMethod: string(r.CodeChallengeMethod),
		Prompt: r.Prompt, MaxAge: r.MaxAge, Journey: journey, Created: s.now(),
	}
	if len(r.UILocales) > 0 {
		a.Locale = r.UILocales[0].String()
	}
	if err := s.setJSON(ctx, authRequestKey(a.ID), a, authRequestTTL); err != nil {
		if store.IsUnavailable(err) {
			// RFC 6749 §4.1.2.1's answer, sent to the client's redirect URI.
			return nil, &zoidc.Error{ErrorType: "temporarily_unavailable", Description: "the server's store is unavailable; try again shortly", Parent: err}
		}
		return nil, err
	}
	return a, nil
}

// requestedJourney is the journey named by AM's service parameter or by acr_values
// (values that are configured acr names are levels, not journeys), if the client may
// ask for it; empty means the client's default journey.
func (s *storage) requestedJourney(ctx context.Context, c *client, acrValues []string) (string, error) {
	var named []string
	if info := infoFrom(ctx); info != nil && info.service != "" {
		named = append(named, info.service)
	}
	for _, v := range acrValues {
		if !s.isACRName(v) {
			named = append(named, v)
		}
	}
	if len(named) == 0 {
		return "", nil
	}
	j := named[0]
	if !slices.Contains(c.cfg.Journeys, j) {
		return "", zoidc.ErrInvalidRequest().WithDescription("journey %q is not allowed for client %q", j, c.cfg.ClientID)
	}
	return j, nil
}

func (s *storage) isACRName(v string) bool {
	for _, n := range s.acr {
		if n == v {
			return true
		}
	}
	return false
}

// AuthRequestByID returns a stored authorization request of this realm.
func (s *storage) AuthRequestByID(ctx context.Context, id string) (op.AuthRequest, error) {
	return s.authRequest(ctx, id)
}

func (s *storage) authRequest(ctx context.Context, id string) (*authRequest, error) {
	var a authRequest
	if _, err := s.getJSON(ctx, authRequestKey(id), &a); err != nil {
		return nil, err
	}
	if a.Realm != s.realm {
		return nil, errNotFound
	}
	return &a, nil
}

// saveAuthRequest writes a back, keeping its original deadline.
func (s *storage) saveAuthRequest(ctx context.Context, a *authRequest) error {
	ttl := authRequestTTL - s.now().Sub(a.Created)
	if ttl <= 0 {
		return errNotFound
	}
	return s.setJSON(ctx, authRequestKey(a.ID), a, ttl)
}

// SaveAuthCode records the code issued for a completed request.
func (s *storage) SaveAuthCode(ctx context.Context, id, code string) error {
	if _, err := s.st.Set(ctx, codeKey(code), []byte(id), codeTTL); err != nil {
		return fmt.Errorf("oidc: save code: %w", err)
	}
	return nil
}

// AuthRequestByCode takes the code: it works once. A second use of a code revokes
// whatever its first use was given (RFC 6749 §4.1.2).
func (s *storage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	id, err := s.st.Take(ctx, codeKey(code))
	if errors.Is(err, store.ErrNotFound) {
		if it, err := s.st.Get(ctx, usedCodeKey(code)); err == nil {
			if err := s.revokeGrant(ctx, string(it.Value), EventReplay); err != nil {
				return nil, err
			}
			return nil, errors.New("oidc: authorization code used twice: its tokens are revoked")
		}
		return nil, errNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("oidc: take code: %w", err)
	}
	// The grant of this code gets the request's id (see CreateAccessToken).
	if _, err := s.st.Set(ctx, usedCodeKey(code), id, s.maxRefresh); err != nil {
		return nil, fmt.Errorf("oidc: mark code used: %w", err)
	}
	a, err := s.authRequest(ctx, string(id))
	if err != nil {
		return nil, err
	}
	if !a.IsDone {
		return nil, errNotFound
	}
	return a, nil
}

// DeleteAuthRequest drops a request once its tokens are issued.
func (s *storage) DeleteAuthRequest(ctx context.Context, id string) error {
	if err := s.st.Delete(ctx, authRequestKey(id)); err != nil {
		return fmt.Errorf("oidc: delete auth request: %w", err)
	}
	return nil
}

// --- tokens ---

// CreateAccessToken issues an access token without a refresh token.
func (s *storage) CreateAccessToken(ctx context.Context, req op.TokenRequest) (string, time.Time, error) {
	g, err := s.grantFor(ctx, req)
	if err != nil {
		return "", time.Time{}, err
	}
	return s.newAccessToken(ctx, g, req.GetScopes())
}

// CreateAccessAndRefreshTokens issues an access token and a refresh token. For a
// refresh token exchange it first marks the presented token used, atomically: of two
// exchanges of one token only one gets new tokens, and the other is a replay that
// revokes the grant.
func (s *storage) CreateAccessAndRefreshTokens(ctx context.Context, req op.TokenRequest, current string) (string, string, time.Time, error) {
	var g *grant
	scopes := req.GetScopes()
	if rr, ok := req.(*refreshRequest); ok {
		if err := s.useRefreshToken(ctx, rr.token); err != nil {
			return "", "", time.Time{}, err
		}
		g = rr.g
	} else {
		var err error
		if g, err = s.grantFor(ctx, req); err != nil {
			return "", "", time.Time{}, err
		}
	}
	id, exp, err := s.newAccessToken(ctx, g, scopes)
	if err != nil {
		return "", "", time.Time{}, err
	}
	c, err := s.client(g.ClientID)
	if err != nil {
		return "", "", time.Time{}, err
	}
	// refresh_token_lifetime counts from the sign-in: rotation does not extend it.
	end := g.Created.Add(c.cfg.RefreshTokenLifetime)
	ttl := end.Sub(s.now())
	if ttl <= 0 {
		return "", "", time.Time{}, errExpiredRefresh
	}
	rt := randomID(32)
	rec := refreshToken{GrantID: g.ID, Scopes: scopes, Expires: end}
	if err := s.setJSON(ctx, refreshKey(rt), rec, ttl); err != nil {
		return "", "", time.Time{}, err
	}
	return id, rt, exp, nil
}

// useRefreshToken marks token used by compare-and-swap. A token already used, or
// used by a concurrent exchange, is a replay: the whole grant is revoked.
func (s *storage) useRefreshToken(ctx context.Context, token string) error {
	var rec refreshToken
	rev, err := s.getJSON(ctx, refreshKey(token), &rec)
	if err != nil {
		return err
	}
	ttl := rec.Expires.Sub(s.now())
	if ttl <= 0 {
		return errExpiredRefresh
	}
	if !rec.Used {
		rec.Used = true
		b, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		_, err = s.st.CAS(ctx, refreshKey(token), b, rev, ttl)
		if err == nil {
			return nil
		}
		if !errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("oidc: use refresh token: %w", err)
		}
	}
	if err := s.revokeGrant(ctx, rec.GrantID, EventReplay); err != nil {
		return err
	}
	return zoidc.ErrInvalidGrant().WithDescription("refresh token already used: every token of its grant is revoked")
}

// grantFor creates the grant of a code exchange (its id is the request's, so that a
// replayed code can revoke it) or of a client credentials request.
func (s *storage) grantFor(ctx context.Context, req op.TokenRequest) (*grant, error) {
	g := &grant{Realm: s.realm, Subject: req.GetSubject(), Scopes: req.GetScopes(), Created: s.now()}
	switch r := req.(type) {
	case *authRequest:
		g.ID, g.ClientID, g.AuthTime, g.AMR, g.ACR, g.SID, g.User = r.ID, r.ClientID, r.AuthTime, r.AMR, r.ACR, r.SID, true
	case *credentialsRequest:
		g.ID, g.ClientID = randomID(24), r.clientID
	case *refreshRequest:
		return r.g, nil
	default:
		return nil, fmt.Errorf("oidc: unsupported token request %T", req)
	}
	c, err := s.client(g.ClientID)
	if err != nil {
		return nil, err
	}
	if err := s.setJSON(ctx, grantKey(g.ID), g, max(c.cfg.RefreshTokenLifetime, c.cfg.AccessTokenLifetime)); err != nil {
		return nil, err
	}
	return g, nil
}

func (s *storage) newAccessToken(ctx context.Context, g *grant, scopes []string) (string, time.Time, error) {
	c, err := s.client(g.ClientID)
	if err != nil {
		return "", time.Time{}, err
	}
	now := s.now()
	at := accessToken{ID: randomID(24), GrantID: g.ID, Scopes: scopes, Issued: now, Expires: now.Add(c.cfg.AccessTokenLifetime)}
	if err := s.setJSON(ctx, accessKey(at.ID), at, c.cfg.AccessTokenLifetime); err != nil {
		return "", time.Time{}, err
	}
	return at.ID, at.Expires, nil
}

// TokenRequestByRefreshToken returns the exchange of a live refresh token. A used
// one is a replay: its grant is revoked.
func (s *storage) TokenRequestByRefreshToken(ctx context.Context, token string) (op.RefreshTokenRequest, error) {
	var rec refreshToken
	if _, err := s.getJSON(ctx, refreshKey(token), &rec); err != nil {
		return nil, err
	}
	if !s.now().Before(rec.Expires) {
		return nil, errExpiredRefresh
	}
	if rec.Used {
		if err := s.revokeGrant(ctx, rec.GrantID, EventReplay); err != nil {
			return nil, err
		}
		return nil, zoidc.ErrInvalidGrant().WithDescription("refresh token already used: every token of its grant is revoked")
	}
	g, err := s.liveGrant(ctx, rec.GrantID)
	if err != nil {
		return nil, err
	}
	return &refreshRequest{g: g, token: token, scopes: rec.Scopes}, nil
}

// liveGrant returns the grant if it is of this realm, not revoked, its session was
// not ended through this provider, and its user is still active.
func (s *storage) liveGrant(ctx context.Context, id string) (*grant, error) {
	var g grant
	if _, err := s.getJSON(ctx, grantKey(id), &g); err != nil {
		return nil, err
	}
	if g.Realm != s.realm || g.Revoked {
		return nil, errNotFound
	}
	if g.SID != "" {
		if _, err := s.st.Get(ctx, sessionEndKey(g.SID)); err == nil {
			return nil, errNotFound
		} else if !errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("oidc: read session end: %w", err)
		}
	}
	if g.User {
		u, err := s.users.Get(ctx, s.realm, g.Subject)
		if errors.Is(err, identity.ErrNotFound) {
			return nil, errNotFound
		}
		if err != nil {
			mark(ctx, err)
			return nil, fmt.Errorf("oidc: read user: %w", err)
		}
		if u.Status != identity.StatusActive {
			return nil, errNotFound
		}
	}
	return &g, nil
}

// liveAccessToken returns a live access token and its grant.
func (s *storage) liveAccessToken(ctx context.Context, id string) (*accessToken, *grant, error) {
	var at accessToken
	if _, err := s.getJSON(ctx, accessKey(id), &at); err != nil {
		return nil, nil, err
	}
	if !s.now().Before(at.Expires) {
		return nil, nil, errNotFound
	}
	g, err := s.liveGrant(ctx, at.GrantID)
	if err != nil {
		return nil, nil, err
	}
	return &at, g, nil
}

// revokeGrant marks a grant revoked; its access and refresh tokens stop working at
// once on every instance. event (EventReplay, EventRevoked) is audited when it was live.
func (s *storage) revokeGrant(ctx context.Context, id, event string) error {
	var revoked *grant
	_, err := store.Update(ctx, s.st, grantKey(id), func(cur []byte, exists bool) ([]byte, time.Duration, error) {
		if !exists {
			return nil, 0, store.ErrNoChange
		}
		var g grant
		if err := json.Unmarshal(cur, &g); err != nil {
			return nil, 0, err
		}
		if g.Revoked {
			return nil, 0, store.ErrNoChange
		}
		g.Revoked = true
		revoked = &g
		b, err := json.Marshal(g)
		return b, s.maxRefresh, err
	})
	if err != nil && !errors.Is(err, store.ErrNoChange) {
		return fmt.Errorf("oidc: revoke grant: %w", err)
	}
	if err == nil && revoked != nil {
		ev := audit.Event{Type: event, Realm: revoked.Realm, Session: revoked.SID, Details: map[string]any{"client_id": revoked.ClientID}}
		if revoked.User {
			ev.User = revoked.Subject
		}
		s.emit(ctx, ev)
	}
	return nil
}

// refreshTokenPrefix marks a refresh token's id as GetRefreshTokenInfo hands it to
// RevokeToken, so it cannot be taken for an access token's id.
const refreshTokenPrefix = "rt."

// GetRefreshTokenInfo names a refresh token for revocation.
func (s *storage) GetRefreshTokenInfo(ctx context.Context, clientID, token string) (string, string, error) {
	var rec refreshToken
	if _, err := s.getJSON(ctx, refreshKey(token), &rec); err != nil {
		if errors.Is(err, errNotFound) {
			return "", "", op.ErrInvalidRefreshToken
		}
		return "", "", err
	}
	var g grant
	if _, err := s.getJSON(ctx, grantKey(rec.GrantID), &g); err != nil {
		if errors.Is(err, errNotFound) {
			return "", "", op.ErrInvalidRefreshToken
		}
		return "", "", err
	}
	return g.Subject, refreshTokenPrefix + token, nil
}

// RevokeToken revokes the grant of an access or refresh token (RFC 7009: the access
// tokens of a revoked refresh token go too, and the other way round). An unknown token
// is no error. A client may revoke only its own tokens.
func (s *storage) RevokeToken(ctx context.Context, tokenOrID, _, clientID string) *zoidc.Error {
	var grantID string
	if rt, ok := strings.CutPrefix(tokenOrID, refreshTokenPrefix); ok {
		var rec refreshToken
		if _, err := s.getJSON(ctx, refreshKey(rt), &rec); err != nil {
			return revokeError(err)
		}
		grantID = rec.GrantID
	} else {
		var at accessToken
		if _, err := s.getJSON(ctx, accessKey(tokenOrID), &at); err != nil {
			return revokeError(err)
		}
		grantID = at.GrantID
	}
	var g grant
	if _, err := s.getJSON(ctx, grantKey(grantID), &g); err != nil {
		return revokeError(err)
	}
	if g.ClientID != clientID || g.Realm != s.realm {
		return zoidc.ErrInvalidClient().WithDescription("the token was not issued to this client")
	}
	if err := s.revokeGrant(ctx, grantID, EventRevoked); err != nil {
		return zoidc.ErrServerError().WithParent(err)
	}
	return nil
}

func revokeError(err error) *zoidc.Error {
	if errors.Is(err, errNotFound) {
		return nil
	}
	return zoidc.ErrServerError().WithParent(err)
}

// --- sessions ---

// TerminateSession is not called: TerminateSessionFromRequest replaces it.
func (s *storage) TerminateSession(context.Context, string, string) error { return nil }

// TerminateSessionFromRequest ends the Arbor session of the browser's cookie and the
// one the ID token hint's sid names, and every token issued under them.
func (s *storage) TerminateSessionFromRequest(ctx context.Context, req *op.EndSessionRequest) (string, error) {
	info := infoFrom(ctx)
	var handles []string
	if info != nil && info.session != "" {
		if sess, err := s.core.Logout(ctx, doorName, s.realm, info.session, info.client, "oidc end session"); err == nil {
			handles = append(handles, sess.Handle)
		} else if !errors.Is(err, sessions.ErrInvalid) {
			return "", err
		}
	}
	if req.IDTokenHintClaims != nil {
		if sid, _ := req.IDTokenHintClaims.Claims["sid"].(string); sid != "" && !slices.Contains(handles, sid) {
			if err := s.endSessionBySID(ctx, sid, info); err != nil {
				return "", err
			}
			handles = append(handles, sid)
		}
	}
	for _, h := range handles {
		if _, err := s.st.Set(ctx, sessionEndKey(h), []byte("1"), s.maxRefresh); err != nil {
			return "", fmt.Errorf("oidc: record session end: %w", err)
		}
		if err := s.st.Delete(ctx, sidKey(h)); err != nil {
			return "", fmt.Errorf("oidc: drop session seal: %w", err)
		}
	}
	return req.RedirectURI, nil
}

// endSessionBySID ends the session whose handle an ID token carried, through its
// sealed token.
func (s *storage) endSessionBySID(ctx context.Context, sid string, info *requestInfo) error {
	it, err := s.st.Get(ctx, sidKey(sid))
	if errors.Is(err, store.ErrNotFound) {
		return nil // ended already, or never signed in through this provider
	}
	if err != nil {
		return fmt.Errorf("oidc: read session seal: %w", err)
	}
	tok, err := s.sealer.Open(string(it.Value), []byte(sid))
	if err != nil {
		return nil // sealed under another secret: nothing to end with it
	}
	var cl door.Client
	if info != nil {
		cl = info.client
	}
	if _, err := s.core.Logout(ctx, doorName, s.realm, string(tok), cl, "oidc end session"); err != nil && !errors.Is(err, sessions.ErrInvalid) {
		return err
	}
	return nil
}

// rememberSession keeps the sealed session token, so that endSession with only an ID
// token can end the session.
func (s *storage) rememberSession(ctx context.Context, sess *sessions.Session, token string) error {
	ttl := sess.MaxEnd.Sub(s.now())
	if ttl <= 0 {
		return nil
	}
	if _, err := s.st.Set(ctx, sidKey(sess.Handle), []byte(s.sealer.Seal([]byte(token), []byte(sess.Handle))), ttl); err != nil {
		return fmt.Errorf("oidc: seal session: %w", err)
	}
	return nil
}

// errInvalidToken is RFC 6750's answer to an access token that is expired, revoked or
// not a user's.
var errInvalidToken = &zoidc.Error{ErrorType: "invalid_token", Description: "the access token is expired or revoked"}

// --- claims ---

// SetUserinfoFromScopes is deprecated in the library; SetUserinfoFromRequest fills
// the ID token.
func (s *storage) SetUserinfoFromScopes(context.Context, *zoidc.UserInfo, string, string, []string) error {
	return nil
}

// SetUserinfoFromRequest fills the ID token's claims from the user's attributes and,
// for a sign-in, the session's id (sid). On a refresh it also states the grant's acr:
// the library takes acr only from an authorization request, and a refreshed ID token
// must claim the assurance of the sign-in it continues, no more and no less (amr and
// auth_time come from the grant through refreshRequest).
func (s *storage) SetUserinfoFromRequest(ctx context.Context, ui *zoidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	if err := s.fillUserinfo(ctx, ui, req.GetSubject(), scopes); err != nil {
		return err
	}
	switch r := req.(type) {
	case *authRequest:
		if r.SID != "" {
			ui.AppendClaims("sid", r.SID)
		}
	case *refreshRequest:
		if r.g.SID != "" {
			ui.AppendClaims("sid", r.g.SID)
		}
		if r.g.ACR != "" {
			ui.AppendClaims("acr", r.g.ACR)
		}
	}
	return nil
}

// SetUserinfoFromToken answers the userinfo endpoint for a live access token.
func (s *storage) SetUserinfoFromToken(ctx context.Context, ui *zoidc.UserInfo, tokenID, subject, _ string) error {
	at, g, err := s.liveAccessToken(ctx, tokenID)
	if errors.Is(err, errNotFound) || (err == nil && (g.Subject != subject || !g.User)) {
		return errInvalidToken
	}
	if err != nil {
		return err
	}
	return s.fillUserinfo(ctx, ui, subject, at.Scopes)
}

// SetIntrospectionFromToken answers introspection for a live access token; any
// confidential client of the realm may introspect.
func (s *storage) SetIntrospectionFromToken(ctx context.Context, resp *zoidc.IntrospectionResponse, tokenID, subject, _ string) error {
	at, g, err := s.liveAccessToken(ctx, tokenID)
	if err != nil {
		return err
	}
	if g.Subject != subject {
		return errNotFound
	}
	if g.User {
		ui := new(zoidc.UserInfo)
		if err := s.fillUserinfo(ctx, ui, subject, at.Scopes); err != nil {
			return err
		}
		resp.SetUserInfo(ui)
	}
	resp.Subject = g.Subject
	resp.Scope = at.Scopes
	resp.ClientID = g.ClientID
	resp.TokenType = zoidc.BearerToken
	resp.Expiration = zoidc.FromTime(at.Expires)
	resp.IssuedAt = zoidc.FromTime(at.Issued)
	resp.Audience = []string{g.ClientID}
	resp.AuthTime = zoidc.FromTime(g.AuthTime)
	resp.AuthenticationMethodsReferences = g.AMR
	return nil
}

// GetPrivateClaimsFromScopes adds nothing to access tokens (they are opaque).
func (s *storage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

// GetKeyByIDAndClientID is for the JWT profile grant, which no client uses.
func (s *storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errors.New("oidc: the JWT profile grant is not supported")
}

// ValidateJWTProfileScopes is for the JWT profile grant, which no client uses.
func (s *storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errors.New("oidc: the JWT profile grant is not supported")
}

// --- keys and health ---

// SigningKey is the current signing key.
func (s *storage) SigningKey(ctx context.Context) (op.SigningKey, error) {
	return s.keys.current(ctx)
}

// SignatureAlgorithms are the algorithms of the published keys.
func (s *storage) SignatureAlgorithms(ctx context.Context) ([]jose.SignatureAlgorithm, error) {
	ks, err := s.keys.published(ctx)
	if err != nil {
		return nil, err
	}
	var out []jose.SignatureAlgorithm
	for _, k := range ks {
		if !slices.Contains(out, k.alg) {
			out = append(out, k.alg)
		}
	}
	return out, nil
}

// KeySet is the public halves of every published key.
func (s *storage) KeySet(ctx context.Context) ([]op.Key, error) {
	ks, err := s.keys.published(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]op.Key, 0, len(ks))
	for _, k := range ks {
		out = append(out, publicKey{k})
	}
	return out, nil
}

// Health reports whether the store answers.
func (s *storage) Health(ctx context.Context) error { return s.st.Ping(ctx) }
