package oidc

import (
	"errors"
	"net/http"
	"net/url"

	zoidc "github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/arbor-auth/arbor/sessions"
)

// SignOutPages shows the page on which a signed-in user confirms signing out, and
// checks that a POST came from it; web.Server implements it. See endSession.
type SignOutPages interface {
	// SignOutPage answers w with the confirmation page for the session handle, whose
	// form posts fields to action with a CSRF token.
	SignOutPage(w http.ResponseWriter, handle, action string, fields url.Values) error
	// SignOutConfirmed reports whether token is that page's CSRF token for handle.
	SignOutConfirmed(handle, token string) bool
}

// endSessionParams are the RP-Initiated Logout parameters the confirmation page carries
// to its POST; the id_token_hint is not one of them (with a hint there is no page).
var endSessionParams = []string{"client_id", "post_logout_redirect_uri", "state", "ui_locales", "logout_hint"}

// endSession serves connect/endSession (OpenID Connect RP-Initiated Logout 1.0). With an
// id_token_hint the library verifies it and the session ends at once, as the SDK's
// FRUser.logout() expects. Without one, anyone's page could sign the user out with a
// link, so the spec's "ask the End-User" applies: the request is validated as the
// library would (client_id, and post_logout_redirect_uri registered for that client,
// never any other), then the browser's session gets a confirmation page whose POST
// (endSessionConfirm) ends it. A browser with no session in this realm has nothing to
// end, and the library just redirects it.
func (rp *realmProvider) endSession(w http.ResponseWriter, r *http.Request, info *requestInfo) {
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", "the request's form cannot be read")
		return
	}
	ctx := op.ContextWithIssuer(r.Context(), rp.issuer(r))
	r = r.WithContext(ctx)
	if r.Form.Get("id_token_hint") != "" || info.session == "" {
		rp.op.ServeHTTP(w, r)
		return
	}
	req, err := op.ParseEndSessionRequest(r, rp.op.Decoder())
	if err == nil {
		_, err = op.ValidateEndSessionRequest(ctx, req, rp.op)
	}
	if err != nil {
		op.RequestError(w, r, err, nil)
		return
	}
	sess, err := rp.core.Validate(ctx, rp.realm, info.session)
	if errors.Is(err, sessions.ErrInvalid) {
		rp.op.ServeHTTP(w, r)
		return
	}
	if err != nil {
		rp.unavailable(w, err)
		return
	}
	if rp.pages == nil {
		op.RequestError(w, r, zoidc.ErrInvalidRequest().WithDescription("id_token_hint is required to end a session"), nil)
		return
	}
	fields := url.Values{}
	for _, p := range endSessionParams {
		if v := r.Form.Get(p); v != "" {
			fields.Set(p, v)
		}
	}
	if err := rp.pages.SignOutPage(w, sess.Handle, rp.base+"/"+pathEndSessionConfirm, fields); err != nil {
		rp.log.Error("oidc: sign-out page", "err", err)
	}
}

// endSessionConfirm is the confirmation page's POST: with the page's CSRF token for the
// browser's session it ends the session as endSession with a hint does, and goes on to
// the validated post_logout_redirect_uri through a page (the confirmation page's CSP
// form-action would block a redirect to another origin); without it nothing ends.
func (rp *realmProvider) endSessionConfirm(w http.ResponseWriter, r *http.Request, info *requestInfo) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, "invalid_request", "the sign-out confirmation is a POST")
		return
	}
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", "the request's form cannot be read")
		return
	}
	if rp.pages == nil {
		writeError(w, http.StatusNotFound, "invalid_request", "no such endpoint")
		return
	}
	ctx := op.ContextWithIssuer(r.Context(), rp.issuer(r))
	r = r.WithContext(ctx)
	if info.session != "" {
		sess, err := rp.core.Validate(ctx, rp.realm, info.session)
		switch {
		case errors.Is(err, sessions.ErrInvalid):
			// Signed out meanwhile: nothing to end, go on as the library does.
		case err != nil:
			rp.unavailable(w, err)
			return
		case !rp.pages.SignOutConfirmed(sess.Handle, r.PostForm.Get("csrf")):
			rp.log.Warn("oidc: sign-out confirmation refused: invalid CSRF token", "session_id", sess.Handle, "client_ip", info.client.IP)
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte("This sign-out could not be verified as coming from this site's confirmation page, so you are still signed in.\n"))
			return
		}
	}
	r.Form.Del("id_token_hint") // the page never carries one; a forged one must not count
	op.EndSession(&continuePage{ResponseWriter: w}, r, rp.op)
}
