package admin_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/arbor-auth/arbor/admin"
	"github.com/arbor-auth/arbor/devices"
	"github.com/arbor-auth/arbor/identity"
	"github.com/arbor-auth/arbor/sessions"
)

// TestUserEndpoints walks every users endpoint through its happy path and refusals,
// on both stores, and checks that no password hash, device secret, recovery code or
// token PIN reaches the audit events.
func TestUserEndpoints(t *testing.T) {
	onEveryStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		root := e.root(t)
		// Create.
		r := e.call(t, root, http.MethodPost, "/users?realm=alpha", `{"username":"ann","password":"S3cret-pass!","attributes":{"mail":"ann@example.com"}}`)
		want(t, "create", r, http.StatusCreated, "")
		if m := r.obj(t); m["username"] != "ann" || m["realm"] != "/alpha" || m["status"] != "active" || m["has_password"] != true || strings.Contains(r.raw, "argon2") {
			t.Fatalf("create answered %s", r.raw)
		}
		want(t, "create again", e.call(t, root, http.MethodPost, "/users?realm=alpha", `{"username":"ANN"}`), http.StatusConflict, "user.exists")
		want(t, "bad username", e.call(t, root, http.MethodPost, "/users?realm=alpha", `{"username":""}`), http.StatusBadRequest, "request.invalid")
		want(t, "unknown field", e.call(t, root, http.MethodPost, "/users?realm=alpha", `{"username":"x","role":"admin"}`), http.StatusBadRequest, "request.invalid")
		want(t, "empty password", e.call(t, root, http.MethodPost, "/users?realm=alpha", `{"username":"y","password":""}`), http.StatusBadRequest, "request.invalid")
		if _, err := e.Users.Authenticate(ctx, "/alpha", "ann", "S3cret-pass!"); err != nil {
			t.Fatalf("the created password does not sign in: %v", err)
		}

		// List and get.
		r = e.call(t, root, http.MethodGet, "/users?realm=alpha", "")
		if l := r.list(t); len(l) != 1 || l[0].(map[string]any)["username"] != "ann" || l[0].(map[string]any)["locked"] != false {
			t.Fatalf("list: %s", r.raw)
		}
		if r := e.call(t, root, http.MethodGet, "/users?realm=/", ""); len(r.list(t)) != 0 {
			t.Fatalf("list of /: %s", r.raw)
		}
		r = e.call(t, root, http.MethodGet, "/users/ann?realm=alpha", "")
		if r.status != 200 || r.obj(t)["attributes"].(map[string]any)["mail"] != "ann@example.com" {
			t.Fatalf("get: %s", r.raw)
		}
		want(t, "get in another realm", e.call(t, root, http.MethodGet, "/users/ann", ""), http.StatusNotFound, "user.not_found")

		// Patch attributes: merge, null removes, reserved names refused.
		r = e.call(t, root, http.MethodPatch, "/users/ann?realm=alpha", `{"attributes":{"mail":null,"phone":"+100"}}`)
		if a := r.obj(t)["attributes"].(map[string]any); r.status != 200 || a["mail"] != nil || a["phone"] != "+100" {
			t.Fatalf("patch: %s", r.raw)
		}
		want(t, "patch reserved", e.call(t, root, http.MethodPatch, "/users/ann?realm=alpha", `{"attributes":{"arbor.x":1}}`), http.StatusBadRequest, "request.invalid")
		want(t, "patch missing", e.call(t, root, http.MethodPatch, "/users/bob?realm=alpha", `{"attributes":{"a":1}}`), http.StatusNotFound, "user.not_found")

		// Sessions: listed without tokens; one ended by handle, all by DELETE.
		var toks []string
		var handles []string
		for range 3 {
			tok, s, err := e.Sessions.Grant(ctx, sessions.Grant{Username: "ann", Realm: "/alpha", Journey: "login", Factors: []string{"pwd"}, Level: 10})
			if err != nil {
				t.Fatal(err)
			}
			toks, handles = append(toks, tok), append(handles, s.Handle)
		}
		r = e.call(t, root, http.MethodGet, "/users/ann/sessions?realm=alpha", "")
		if l := r.list(t); len(l) != 3 || l[0].(map[string]any)["handle"] != handles[0] || strings.Contains(r.raw, toks[0]) {
			t.Fatalf("sessions: %s", r.raw)
		}
		want(t, "end one", e.call(t, root, http.MethodDelete, "/users/ann/sessions/"+handles[0]+"?realm=alpha", ""), http.StatusNoContent, "")
		want(t, "end it again", e.call(t, root, http.MethodDelete, "/users/ann/sessions/"+handles[0]+"?realm=alpha", ""), http.StatusNotFound, "request.not_found")
		if _, err := e.Sessions.Validate(ctx, toks[0]); err == nil {
			t.Fatal("the ended session is valid")
		}
		if _, err := e.Sessions.Validate(ctx, toks[1]); err != nil {
			t.Fatalf("another session ended: %v", err)
		}
		want(t, "end all", e.call(t, root, http.MethodDelete, "/users/ann/sessions?realm=alpha", ""), http.StatusNoContent, "")
		if l, _ := e.Sessions.List(ctx, "/alpha", "ann"); len(l) != 0 {
			t.Fatalf("%d sessions left", len(l))
		}

		// Password: set, and every session ends.
		tok, _, _ := e.Sessions.Grant(ctx, sessions.Grant{Username: "ann", Realm: "/alpha", Journey: "login"})
		want(t, "password", e.call(t, root, http.MethodPut, "/users/ann/password?realm=alpha", `{"password":"N3w-pass-word"}`), http.StatusNoContent, "")
		if _, err := e.Users.Authenticate(ctx, "/alpha", "ann", "N3w-pass-word"); err != nil {
			t.Fatalf("new password: %v", err)
		}
		if _, err := e.Sessions.Validate(ctx, tok); err == nil {
			t.Fatal("a session outlived the password change")
		}
		want(t, "empty password", e.call(t, root, http.MethodPut, "/users/ann/password?realm=alpha", `{"password":""}`), http.StatusBadRequest, "request.invalid")
		if _, err := e.Users.Authenticate(ctx, "/alpha", "ann", "N3w-pass-word"); err != nil {
			t.Fatalf("a refused password change changed it: %v", err)
		}
		// A temporary password: the account is flagged for the password_change node, and
		// the flag shows; a plain reset clears it.
		want(t, "must_change", e.call(t, root, http.MethodPut, "/users/ann/password?realm=alpha", `{"password":"x-y-z-1-2-3","must_change":true}`), http.StatusNoContent, "")
		if u, err := e.Users.Get(ctx, "/alpha", "ann"); err != nil || !u.MustChangePassword {
			t.Fatalf("must_change did not flag the account: %+v %v", u, err)
		}
		if r := e.call(t, root, http.MethodGet, "/users/ann?realm=alpha", ""); !strings.Contains(r.raw, `"must_change_password":true`) {
			t.Errorf("the user view hides the flag: %s", r.raw)
		}
		want(t, "reset", e.call(t, root, http.MethodPut, "/users/ann/password?realm=alpha", `{"password":"N3w-pass-word"}`), http.StatusNoContent, "")
		if u, _ := e.Users.Get(ctx, "/alpha", "ann"); u.MustChangePassword {
			t.Error("a plain reset left the flag")
		}

		// Disable ends every session at once; enable; unlock.
		var many []string
		for range 3 {
			tok, _, _ := e.Sessions.Grant(ctx, sessions.Grant{Username: "ann", Realm: "/alpha", Journey: "login"})
			many = append(many, tok)
		}
		r = e.call(t, root, http.MethodPost, "/users/ann/disable?realm=alpha", "")
		if r.status != 200 || r.obj(t)["status"] != "disabled" {
			t.Fatalf("disable: %s", r.raw)
		}
		for _, tok := range many {
			if _, err := e.Sessions.Validate(ctx, tok); err == nil {
				t.Fatal("a session outlived the disable")
			}
		}
		if _, err := e.Users.Authenticate(ctx, "/alpha", "ann", "N3w-pass-word"); !errors.Is(err, identity.ErrLocked) {
			t.Fatalf("a disabled account signs in: %v", err)
		}
		if r := e.call(t, root, http.MethodPost, "/users/ann/unlock?realm=alpha", ""); r.obj(t)["status"] != "disabled" {
			t.Fatalf("unlock enabled a disabled account: %s", r.raw)
		}
		want(t, "enable", e.call(t, root, http.MethodPost, "/users/ann/enable?realm=alpha", ""), http.StatusOK, "")
		if err := e.Users.SetStatus(ctx, "/alpha", "ann", identity.StatusLocked); err != nil {
			t.Fatal(err)
		}
		if r := e.call(t, root, http.MethodGet, "/users?realm=alpha", ""); r.list(t)[0].(map[string]any)["locked"] != true {
			t.Fatalf("list of a locked user: %s", r.raw)
		}
		r = e.call(t, root, http.MethodPost, "/users/ann/unlock?realm=alpha", "")
		if r.status != 200 || r.obj(t)["status"] != "active" {
			t.Fatalf("unlock: %s", r.raw)
		}
		want(t, "unlock missing", e.call(t, root, http.MethodPost, "/users/bob/unlock?realm=alpha", ""), http.StatusNotFound, "user.not_found")

		// Devices: listed without secrets, removed; recovery codes shown once, old ones die.
		seed := make([]byte, devices.SecretLen)
		_, _ = rand.Read(seed)
		if err := e.Devices.Add(ctx, "/alpha", "ann", devices.Device{ID: "ann-phone", Name: "Pixel", Communication: devices.CommPoll, Token: "push-token-xyz"}, seed); err != nil {
			t.Fatal(err)
		}
		r = e.call(t, root, http.MethodGet, "/users/ann/devices?realm=alpha", "")
		if l := r.list(t); len(l) != 1 || l[0].(map[string]any)["kind"] != "push" || strings.Contains(r.raw, "secret") || strings.Contains(r.raw, "push-token-xyz") {
			t.Fatalf("devices: %s", r.raw)
		}
		old, err := e.Devices.NewRecoveryCodes(ctx, "/alpha", "ann")
		if err != nil {
			t.Fatal(err)
		}
		r = e.call(t, root, http.MethodPost, "/users/ann/recovery-codes?realm=alpha", "")
		var got struct{ Codes []string }
		if err := json.Unmarshal([]byte(r.raw), &got); err != nil || r.status != 200 || len(got.Codes) != devices.RecoveryCodeCount {
			t.Fatalf("recovery codes: %d %s", r.status, r.raw)
		}
		if ok, _ := e.Devices.UseRecoveryCode(ctx, "/alpha", "ann", old[0]); ok {
			t.Fatal("an old recovery code still works")
		}
		if ok, _ := e.Devices.UseRecoveryCode(ctx, "/alpha", "ann", got.Codes[0]); !ok {
			t.Fatal("a new recovery code does not work")
		}
		// Token PINs: set (hashed, never answered), refused outside the policy or for a
		// device that is not the user's, cleared.
		const pin = "pin-4711-ann"
		if err := e.Users.Put(ctx, &identity.User{Realm: "/alpha", Username: "bea", Status: identity.StatusActive}); err != nil {
			t.Fatal(err)
		}
		if err := e.Devices.Add(ctx, "/alpha", "bea", devices.Device{ID: "bea-phone", Communication: devices.CommPoll}, seed); err != nil {
			t.Fatal(err)
		}
		r = e.call(t, root, http.MethodPut, "/users/ann/devices/ann-phone/pin?realm=alpha", `{"pin":"`+pin+`"}`)
		if r.status != 200 || r.obj(t)["has_pin"] != true || strings.Contains(r.raw, pin) {
			t.Fatalf("set PIN: %d %s", r.status, r.raw)
		}
		if ids, err := e.Devices.MatchPIN(ctx, "/alpha", "ann", pin); err != nil || len(ids) != 1 || ids[0] != "ann-phone" {
			t.Fatalf("the PIN set does not match: %v %v", ids, err)
		}
		list, _ := e.Devices.Devices(ctx, "/alpha", "ann")
		pinHash := list[0].PINHash
		if r := e.call(t, root, http.MethodGet, "/users/ann/devices?realm=alpha", ""); r.list(t)[0].(map[string]any)["has_pin"] != true || strings.Contains(r.raw, pinHash) {
			t.Fatalf("devices with a PIN: %s", r.raw)
		}
		for _, tc := range []struct {
			name, method, path, body string
			status                   int
			code, msg                string
		}{
			{"PIN too short", http.MethodPut, "/users/ann/devices/ann-phone/pin", `{"pin":"123"}`, 400, "device.pin_invalid", "4 to 64 characters; this one has 3"},
			{"PIN too long", http.MethodPut, "/users/ann/devices/ann-phone/pin", `{"pin":"` + strings.Repeat("9", 65) + `"}`, 400, "device.pin_invalid", "this one has 65"},
			{"PIN unknown field", http.MethodPut, "/users/ann/devices/ann-phone/pin", `{"pin":"12345","serial":"x"}`, 400, "request.invalid", ""},
			{"PIN of an unknown device", http.MethodPut, "/users/ann/devices/nope/pin", `{"pin":"12345"}`, 404, "request.not_found", "has no device"},
			{"PIN of another user's device", http.MethodPut, "/users/ann/devices/bea-phone/pin", `{"pin":"12345"}`, 404, "request.not_found", "has no device"},
			{"clear another user's PIN", http.MethodDelete, "/users/ann/devices/bea-phone/pin", "", 404, "request.not_found", ""},
			{"PIN of an unknown user", http.MethodPut, "/users/cid/devices/ann-phone/pin", `{"pin":"12345"}`, 404, "user.not_found", ""},
		} {
			r := e.call(t, root, tc.method, tc.path+"?realm=alpha", tc.body)
			want(t, tc.name, r, tc.status, tc.code)
			if !strings.Contains(r.raw, tc.msg) {
				t.Errorf("%s: %s, want %q", tc.name, r.raw, tc.msg)
			}
		}
		if ids, _ := e.Devices.MatchPIN(ctx, "/alpha", "ann", pin); len(ids) != 1 {
			t.Fatalf("a refused change changed the PIN: %v", ids)
		}
		if has, _ := e.Devices.HasPIN(ctx, "/alpha", "bea", "bea-phone"); has {
			t.Fatal("ann's call set a PIN on bea's device")
		}
		r = e.call(t, root, http.MethodDelete, "/users/ann/devices/ann-phone/pin?realm=alpha", "")
		if r.status != 200 || r.obj(t)["has_pin"] != false {
			t.Fatalf("clear PIN: %d %s", r.status, r.raw)
		}
		if ids, _ := e.Devices.MatchPIN(ctx, "/alpha", "ann", pin); len(ids) != 0 {
			t.Fatalf("a cleared PIN matches: %v", ids)
		}
		want(t, "remove unknown device", e.call(t, root, http.MethodDelete, "/users/ann/devices/nope?realm=alpha", ""), http.StatusNotFound, "request.not_found")
		want(t, "remove device", e.call(t, root, http.MethodDelete, "/users/ann/devices/ann-phone?realm=alpha", ""), http.StatusNoContent, "")
		if l, _ := e.Devices.Devices(ctx, "/alpha", "ann"); len(l) != 0 {
			t.Fatalf("device left: %v", l)
		}

		// Audited, with no secret in any event.
		for _, typ := range []string{"admin.user.created", "admin.user.updated", "admin.user.password_set", "admin.user.disabled",
			"admin.user.enabled", "admin.user.unlocked", "admin.user.session_ended", "admin.user.sessions_ended",
			"admin.device.removed", "admin.user.recovery_codes_generated", "admin.device.pin_set", "admin.device.pin_cleared"} {
			if e.audit.Count(typ) == 0 {
				t.Errorf("no %s audit event", typ)
			}
		}
		u, _ := e.Users.Get(ctx, "/alpha", "ann")
		all, _ := json.Marshal(e.audit.Events())
		secrets := append([]string{u.PasswordHash, "S3cret-pass!", "N3w-pass-word", string(seed), "push-token-xyz", "argon2id", pin, pinHash}, got.Codes...)
		secrets = append(secrets, old...)
		for _, s := range secrets {
			if strings.Contains(string(all), s) {
				t.Errorf("the audit events hold a secret %q", s)
			}
		}
		for _, ev := range e.audit.Events() {
			if ev.Type == "admin.user.unlocked" && ev.Details["before"] == nil {
				t.Errorf("unlock audited without before: %v", ev.Details)
			}
		}
	})
}

// TestRecoveryCodesNeedWriteScope: a users:read token cannot make codes, and the
// refusal makes none.
func TestRecoveryCodesNeedWriteScope(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	if err := e.Users.Put(ctx, &identity.User{Realm: "/", Username: "ann", Status: identity.StatusActive}); err != nil {
		t.Fatal(err)
	}
	read := bearer(e.token(t, time.Hour, nil, admin.ScopeUsersRead))
	want(t, "read scope", e.call(t, read, http.MethodPost, "/users/ann/recovery-codes", ""), http.StatusForbidden, "auth.forbidden")
	if left, _ := e.Devices.RecoveryCodesLeft(ctx, "/", "ann"); left != 0 {
		t.Fatalf("codes were made: %d", left)
	}
}
