package fortigate_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/arbor-auth/arbor/identity"
	"github.com/arbor-auth/arbor/sessions"
)

func loginBody(user, pw string, extra string) string {
	b := fmt.Sprintf(`{"username":%q,"secretkey":%q`, user, pw)
	if extra != "" {
		b += "," + extra
	}
	return b + "}"
}

// TestPasswordOnly: a user with no second factor signs in at once; the session key is
// an Arbor session (Bearer on the REST door), valid for its fixed 5 minutes however it
// is used, and renewed by PUT: the old key stops working.
func TestPasswordOnly(t *testing.T) {
	e := newEnv(t, "fortigate")
	r := e.login(loginBody("alice", password, `"request_key":true`))
	e.want(r, 200, 5)
	key := r.str("session_key")
	if r.str("session_key_timeout") != "5" {
		t.Errorf("session_key_timeout %q", r.str("session_key_timeout"))
	}
	info := e.call(http.MethodPost, "/json/realms/root/sessions?_action=getSessionInfo", "", false, "Authorization: Bearer "+key)
	if info.status != 200 || info.str("username") != "alice" {
		t.Fatalf("getSessionInfo with the key: %s", info.raw)
	}
	// Use does not extend a key: after 4 minutes and a refresh, it still ends at 5.
	e.clock.Advance(4 * time.Minute)
	e.call(http.MethodPost, "/json/realms/root/sessions?_action=refresh", "", false, "Authorization: Bearer "+key)
	r = e.call(http.MethodPut, "/api/v2/authentication", fmt.Sprintf(`{"session_key":%q}`, key), false)
	e.want(r, 200, 0)
	renewed := r.str("session_key")
	if r.str("status_id") != "TOKEN_RENEWAL_SUCCESS" || renewed == key || renewed == "" {
		t.Fatalf("renewal %s", r.raw)
	}
	e.want(e.call(http.MethodPut, "/api/v2/authentication", "", false, "Authorization: Bearer "+key), 401, 0)
	e.clock.Advance(2 * time.Minute) // 6 minutes after login, 2 after the renewal
	if v := e.call(http.MethodPost, "/json/realms/root/sessions?_action=validate", "", false, "Authorization: Bearer "+renewed); v.body["valid"] != true {
		t.Errorf("renewed key after 2 minutes: %s", v.raw)
	}
	e.clock.Advance(3 * time.Minute)
	if v := e.call(http.MethodPost, "/json/realms/root/sessions?_action=validate", "", false, "Authorization: Bearer "+renewed); v.body["valid"] != false {
		t.Errorf("renewed key after its 5 minutes: %s", v.raw)
	}
	e.golden("password_only_key")
}

// TestFailures: an unknown user and a wrong password answer alike; the right password
// to a locked account answers -4, a wrong one -1.
func TestFailures(t *testing.T) {
	e := newEnv(t, "fortigate")
	e.want(e.login(loginBody("alice", "wrong", "")), 200, -1)
	e.want(e.login(loginBody("mallory", password, "")), 200, -1)
	if err := e.srv.App.Users.SetStatus(context.Background(), "/", "alice", identity.StatusLocked); err != nil {
		t.Fatal(err)
	}
	e.script.Say("(alice's account is locked)")
	e.want(e.login(loginBody("alice", "wrong", "")), 200, -1)
	e.want(e.login(loginBody("mallory", "wrong", "")), 200, -1)
	e.want(e.login(loginBody("alice", password, `"request_key":true`)), 200, -4)
	e.golden("failures")
}

// TestDisclaimers: a pre-login banner not acknowledged fails with -2 and its text; the
// post-login banner is asked with 3 and acknowledged with the session key.
func TestDisclaimers(t *testing.T) {
	e := newEnv(t, "fortigate-banners")
	r := e.login(loginBody("alice", password, `"request_key":true`))
	e.want(r, 200, -2)
	if r.str("pre_login_disclaimer") != preText || r.str("session_key") != "" {
		t.Errorf("-2 answer %s", r.raw)
	}
	r = e.login(loginBody("alice", password, `"ack_pre_disclaimer":true,"request_key":true`))
	e.want(r, 200, 3)
	if r.str("post_login_disclaimer") != postText {
		t.Errorf("3 answer %s", r.raw)
	}
	key := r.str("session_key")
	e.want(e.login(fmt.Sprintf(`{"session_key":%q}`, key)), 200, 3)
	r = e.login(fmt.Sprintf(`{"session_key":%q,"ack_post_disclaimer":true}`, key))
	e.want(r, 200, 5)
	// Everything in one request, as the seed's first example.
	e.want(e.login(loginBody("alice", password, `"ack_pre_disclaimer":true,"ack_post_disclaimer":true`)), 200, 5)
	e.golden("disclaimers")
}

// TestTokenCode: an authenticator app's code as token_code, wrong then right; and all
// in one request.
func TestTokenCode(t *testing.T) {
	e := newEnv(t, "fortigate")
	e.registerOTP()
	r := e.login(loginBody("alice", password, `"request_key":true`))
	e.want(r, 200, 2)
	key := r.str("session_key")
	r = e.login(fmt.Sprintf(`{"session_key":%q,"token_code":"000000"}`, key))
	e.want(r, 200, 2)
	if !strings.Contains(r.str("error"), "attempts left") {
		t.Errorf("wrong code: %s", r.raw)
	}
	if r.str("session_key") != key {
		t.Errorf("the login's key changed: %s", r.raw)
	}
	// One key for the whole login, as FortiOS's: the first one still serves.
	r = e.login(fmt.Sprintf(`{"session_key":%q,"token_code":%q}`, key, e.code()))
	e.want(r, 200, 5)
	if r.str("session_key") == "" {
		t.Fatal("no session key")
	}
	// The same key again: the login is over.
	e.want(e.login(fmt.Sprintf(`{"session_key":%q,"token_code":%q}`, key, e.code())), 200, -1)
	e.clock.Advance(30 * time.Second)
	e.want(e.login(loginBody("alice", password, fmt.Sprintf(`"token_code":%q,"request_key":true`, e.code()))), 200, 5)
	e.golden("token_code")
}

// TestPush: the push is sent when 2FA starts; a POST without token_code answers 2
// while it is pending and 5 once approved. A denied push fails.
func TestPush(t *testing.T) {
	e := newEnv(t, "fortigate")
	e.registerPush()
	r := e.login(loginBody("alice", password, `"request_key":true`))
	e.want(r, 200, 2)
	key := r.str("session_key")
	e.want(e.login(fmt.Sprintf(`{"session_key":%q}`, key)), 200, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := e.phone.ApproveLatest(ctx, 0); err != nil {
		t.Fatal(err)
	}
	e.script.Say("(the phone approves)")
	r = e.poll(key)
	e.want(r, 200, 5)

	r = e.login(loginBody("alice", password, `"request_key":true`))
	e.want(r, 200, 2)
	if _, err := e.phone.DenyLatest(ctx); err != nil {
		t.Fatal(err)
	}
	e.script.Say("(the phone denies)")
	e.want(e.poll(r.str("session_key")), 200, -1)
	e.golden("push")
}

// poll posts the login key until the answer is no longer 2 (the push wait looks at the
// answer once a second), writing only the last answer to the transcript.
func (e *env) poll(key string) resp {
	e.t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	for {
		mark := e.script.Len()
		r := e.login(fmt.Sprintf(`{"session_key":%q}`, key))
		if r.code() != 2 || time.Now().After(deadline) {
			return r
		}
		e.script.Truncate(mark)
		time.Sleep(300 * time.Millisecond)
	}
}

// TestPasswordChange: a flagged account is asked for a new password (4); a refused one
// says why; the accepted one replaces the old and ends the user's other sessions.
func TestPasswordChange(t *testing.T) {
	e := newEnv(t, "fortigate")
	other := e.login(loginBody("alice", password, `"request_key":true`))
	e.want(other, 200, 5)
	e.mustChange()
	e.script.Say("(alice must change her password)")
	r := e.login(loginBody("alice", password, `"request_key":true`))
	e.want(r, 200, 4)
	r = e.login(fmt.Sprintf(`{"session_key":%q,"new_password1":"Fresh-Passw0rd","new_password2":"Fresh-Passw0rx"}`, r.str("session_key")))
	e.want(r, 200, 4)
	if r.str("error") != "The two new passwords are not the same." {
		t.Errorf("mismatch: %s", r.raw)
	}
	r = e.login(fmt.Sprintf(`{"session_key":%q,"new_password1":%q,"new_password2":%q}`, r.str("session_key"), password, password))
	e.want(r, 200, 4)
	r = e.login(fmt.Sprintf(`{"session_key":%q,"new_password1":"Fresh-Passw0rd","new_password2":"Fresh-Passw0rd"}`, r.str("session_key")))
	e.want(r, 200, 5)
	if _, err := e.srv.App.Sessions.Validate(context.Background(), other.str("session_key")); !errors.Is(err, sessions.ErrInvalid) {
		t.Errorf("the session from before the change: %v", err)
	}
	e.want(e.login(loginBody("alice", password, "")), 200, -1)
	e.want(e.login(loginBody("alice", "Fresh-Passw0rd", `"request_key":true`)), 200, 5)
	// All at once: the new password in the first request.
	e.mustChange()
	e.want(e.login(loginBody("alice", "Fresh-Passw0rd", `"new_password1":"Third-Passw0rd","new_password2":"Third-Passw0rd","request_key":true`)), 200, 5)
	e.golden("password_change")
}

// TestCookies: request_key false sets the session cookie and ccsrftoken; PUT and DELETE
// by cookie need X-CSRFTOKEN; a logged-out session renews no more.
func TestCookies(t *testing.T) {
	e := newEnv(t, "fortigate")
	r := e.login(loginBody("alice", password, ""))
	e.want(r, 200, 5)
	if r.str("session_key") != "" || e.jar["ccsrftoken"] == "" || e.jar["iPlanetDirectoryPro"] == "" {
		t.Fatalf("cookie login: %s %v", r.raw, e.jar)
	}
	csrf := e.jar["ccsrftoken"]
	e.want(e.call(http.MethodPut, "/api/v2/authentication", "", true), 401, 0)
	e.want(e.call(http.MethodPut, "/api/v2/authentication", "", true, "X-CSRFTOKEN: 0123456789ABCDEF0123456789ABCDEF"), 401, 0)
	r = e.call(http.MethodPut, "/api/v2/authentication", "", true, "X-CSRFTOKEN: "+csrf)
	e.want(r, 200, 0)
	renewed := r.str("session_key")
	if e.jar["iPlanetDirectoryPro"] != r.str("session_key") || e.jar["ccsrftoken"] == csrf {
		t.Errorf("renewal did not replace the cookies: %v", e.jar)
	}
	// The cookie session idles out after 5 minutes without use.
	e.clock.Advance(4 * time.Minute)
	e.want(e.call(http.MethodDelete, "/api/v2/authentication", "", true), 401, 0)
	r = e.call(http.MethodDelete, "/api/v2/authentication", "", true, "X-CSRFTOKEN: "+e.jar["ccsrftoken"])
	e.want(r, 200, 0)
	if len(e.jar) != 0 {
		t.Errorf("cookies after logout: %v", e.jar)
	}
	e.want(e.call(http.MethodPut, "/api/v2/authentication", fmt.Sprintf(`{"session_key":%q}`, renewed), false), 401, 0)

	// A new cookie session, left idle past its 5 minutes.
	e.want(e.login(loginBody("alice", password, "")), 200, 5)
	e.clock.Advance(5*time.Minute + time.Second)
	e.want(e.call(http.MethodPut, "/api/v2/authentication", "", true, "X-CSRFTOKEN: "+e.jar["ccsrftoken"]), 401, 0)
	e.golden("cookies")
}

// TestLogoutByKey: DELETE with the key ends the session; renewing it after is refused.
func TestLogoutByKey(t *testing.T) {
	e := newEnv(t, "fortigate")
	r := e.login(loginBody("alice", password, `"request_key":true`))
	key := r.str("session_key")
	e.want(e.call(http.MethodDelete, "/api/v2/authentication", "", false, "Authorization: Bearer "+key), 200, 0)
	e.want(e.call(http.MethodPut, "/api/v2/authentication", fmt.Sprintf(`{"session_key":%q}`, key), false), 401, 0)
	e.want(e.call(http.MethodDelete, "/api/v2/authentication", fmt.Sprintf(`{"session_key":%q}`, key), false), 401, 0)
	e.golden("logout")
}

// TestBadInput: every kind of bad request gets the error shape and changes nothing: the
// login it tried to disturb goes on.
func TestBadInput(t *testing.T) {
	e := newEnv(t, "fortigate")
	e.registerOTP()
	apptestAddBob(e)
	r := e.login(loginBody("alice", password, `"request_key":true`))
	e.want(r, 200, 2)
	key := r.str("session_key")
	cases := []struct {
		method, body string
		hdr          []string
		status       int
	}{
		{"POST", `{"username":"alice","secretkey":"x","bogus":1}`, nil, 400},
		{"POST", `{"username":"alice","secretkey":1}`, nil, 400},
		{"POST", `{"username":"alice","secretkey":"x","request_key":"yes"}`, nil, 400},
		{"POST", `[1,2]`, nil, 400},
		{"POST", `{"username":"alice"`, nil, 400},
		{"POST", `{"username":"alice","secretkey":"x"} {}`, nil, 400},
		{"POST", `{"username":"alice","secretkey":"x"}`, []string{"Content-Type: text/plain"}, 415},
		{"POST", `{"secretkey":"x"}`, nil, 400},
		{"POST", fmt.Sprintf(`{"session_key":%q,"username":"bob","token_code":"123456"}`, key), nil, 400},
		{"POST", fmt.Sprintf(`{"session_key":%q,"token_code":"123456"}`, strings.Replace(key, "L.e", "L.f", 1)), nil, 400},
		{"POST", `{"session_key":"not-a-key"}`, nil, 400},
		{"PUT", fmt.Sprintf(`{"session_key":%q}`, key), nil, 400},
		{"PUT", `{"session_key":"x","username":"alice"}`, nil, 400},
		{"PUT", `{"session_key":"a"}`, []string{"Authorization: Bearer b"}, 400},
		{"PUT", "", nil, 401},
		{"GET", "", nil, 405},
	}
	for _, c := range cases {
		r = e.call(c.method, "/api/v2/authentication", c.body, false, c.hdr...)
		if r.status != c.status || r.str("status") != "error" || r.str("error") == "" || r.str("http_method") != c.method {
			t.Errorf("%s %s: %d %s, want %d in the error shape", c.method, c.body, r.status, r.raw, c.status)
		}
	}
	e.script.Say("(alice's login goes on)")
	e.want(e.login(fmt.Sprintf(`{"session_key":%q,"token_code":%q}`, key, e.code())), 200, 5)
	e.golden("bad_input")
}

func apptestAddBob(e *env) {
	e.t.Helper()
	h, err := identity.HashPassword("bobs password", identity.CheapParams)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.srv.App.Users.Put(context.Background(), &identity.User{Realm: "/", Username: "bob", PasswordHash: h, Status: identity.StatusActive}); err != nil {
		e.t.Fatal(err)
	}
}
