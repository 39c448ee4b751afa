// Package oidc is the OpenID Connect door: an OpenID Connect provider at ForgeRock AM's
// paths (/oauth2/realms/root[/realms/x]/authorize, access_token, userinfo,
// token/revoke, introspect, connect/endSession, connect/jwk_uri and
// .well-known/openid-configuration), built on the certified zitadel/oidc library, so
// that applications and the official ForgeRock SDK and login widget get tokens from any
// journey.
//
// Like every door it never checks a password or creates a session itself: an
// authorization without a session that satisfies it sends the browser to the browser
// door (/login?journey=J&goto=<this realm's authorize/resume>), which runs the journey
// through the door core and comes back; the provider then finds the session with the
// door core's Validate and answers the client. acr is the session's level (or its
// configured name) and amr its factors.
//
// Decisions written down:
//   - Code flow only, with PKCE S256 required of public clients; refresh tokens rotate
//     on every use, and a used one presented again (a replay, or the loser of two
//     concurrent exchanges) revokes its whole grant. A code presented twice revokes
//     the tokens of its first exchange too.
//   - Access tokens are opaque: the sealed id of a record in the store, so revocation
//     is immediate on every instance. Codes and refresh tokens are stored only as their
//     SHA-256; signing keys only sealed under the master secret.
//   - ID tokens are signed ES256 (RS256 on request) with keys in the store, rotated
//     after key_rotation; a retired key stays published until every token it signed
//     has expired.
//   - A session counts for a client only if it came from one of the client's journeys
//     (or from the one the request named through acr_values or AM's service
//     parameter); otherwise the user goes through that journey.
//   - endSession ends the Arbor session of the browser's cookie and the one the ID
//     token hint's sid names, and every token issued under them. Without an
//     id_token_hint it ends nothing until the user confirms on the browser door's
//     sign-out page (a CSRF-protected form), so that no other site can sign a user
//     out with a link (RP-Initiated Logout 1.0 asks the OP to confirm then); a
//     post_logout_redirect_uri is honoured only when registered for the client the
//     hint or client_id names. Revoking a token
//     revokes its grant (its access and refresh tokens) but not the session: the SDK's
//     TokenManager revokes old tokens before it silently asks for new ones with the
//     same session.
//   - Account status is checked on every use of a token: a locked or deleted user's
//     tokens stop working at once.
package oidc
