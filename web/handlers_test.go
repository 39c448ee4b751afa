package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/devices"
	"github.com/arbor-auth/arbor/door"
	"github.com/arbor-auth/arbor/identity"
	"github.com/arbor-auth/arbor/oath"
	"github.com/arbor-auth/arbor/web"
)

// wantPageHeaders checks the headers every page carries.
func wantPageHeaders(t *testing.T, p *page) {
	t.Helper()
	want := map[string]string{
		"Content-Security-Policy": "default-src 'self'; img-src 'self' data:; script-src 'self'; style-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
		"Cache-Control":           "no-store",
	}
	for k, v := range want {
		if got := p.Header.Get(k); got != v {
			t.Errorf("%s %s: header %s = %q, want %q", p.Request.Method, p.Request.URL.Path, k, got, v)
		}
	}
	if ct := p.Header.Get("Content-Type"); p.StatusCode < 300 && !strings.HasPrefix(ct, "text/html") {
		t.Errorf("%s: Content-Type %q", p.Request.URL.Path, ct)
	}
}

func wantStatus(t *testing.T, p *page, status int, contains ...string) {
	t.Helper()
	if p.StatusCode != status {
		t.Fatalf("%s %s: status %d, want %d\n%s", p.Request.Method, p.Request.URL, p.StatusCode, status, p.body)
	}
	for _, s := range contains {
		if !strings.Contains(p.body, s) {
			t.Errorf("%s %s: page lacks %q\n%s", p.Request.Method, p.Request.URL, s, p.body)
		}
	}
}

func TestLoginSuccessCreatesARealSession(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.client()
	p := c.get("/login")
	wantStatus(t, p, http.StatusOK, `<h1 id="step-title">Sign in</h1>`, `autocomplete="current-password"`)
	wantPageHeaders(t, p)
	flow := p.setCookie(web.FlowCookie)
	if flow == nil || !flow.HttpOnly || flow.SameSite != http.SameSiteLaxMode || flow.Path != "/login" || flow.Secure {
		t.Fatalf("flow cookie %+v: want HttpOnly, SameSite=Lax, Path=/login, not Secure over plain HTTP", flow)
	}

	f := p.form(t)
	f.Set("IDToken1", alice)
	f.Set("IDToken2", password)
	p = c.post("/login", f)
	wantStatus(t, p, http.StatusSeeOther)
	wantPageHeaders(t, p)
	if loc := p.Header.Get("Location"); loc != "/login/done" {
		t.Fatalf("redirect to %q, want /login/done", loc)
	}
	sess := p.setCookie("iPlanetDirectoryPro")
	if sess == nil || !sess.HttpOnly || sess.SameSite != http.SameSiteLaxMode || sess.Path != "/" || sess.Secure {
		t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Lax, Path=/", sess)
	}
	if ck := p.setCookie(web.FlowCookie); ck == nil || ck.MaxAge >= 0 {
		t.Errorf("the flow cookie must be cleared after the login: %+v", ck)
	}

	// The browser's session is a real Arbor session: the REST door validates it.
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/json/realms/root/sessions?_action=validate", strings.NewReader("{}"))
	req.Header.Set("Content-Type", "application/json")
	req.AddCookie(&http.Cookie{Name: "iPlanetDirectoryPro", Value: sess.Value})
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	json.NewDecoder(res.Body).Decode(&v)
	res.Body.Close()
	if v["valid"] != true || v["uid"] != alice {
		t.Fatalf("/json/sessions validate: %v", v)
	}

	p = c.get("/login/done")
	wantStatus(t, p, http.StatusOK, `<strong id="signed-in-user">alice</strong>`, `action="/login/logout"`)
	wantPageHeaders(t, p)
	if e.audit.Count(audit.LoginSuccess) != 1 {
		t.Errorf("%d login.success events", e.audit.Count(audit.LoginSuccess))
	}
}

func TestCookiesAreSecureWhenConfiguredOrOverTLS(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    envOptions
	}{
		{"secure_cookies", envOptions{args: []string{"--secure-cookies"}}},
		{"tls", envOptions{tls: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.o)
			c := e.client()
			p := c.get("/login")
			if ck := p.setCookie(web.FlowCookie); ck == nil || !ck.Secure {
				t.Fatalf("flow cookie not Secure: %+v", ck)
			}
			if !tc.o.tls {
				return // the jar does not send Secure cookies over plain HTTP
			}
			f := p.form(t)
			f.Set("IDToken1", alice)
			f.Set("IDToken2", password)
			p = c.post("/login", f)
			wantStatus(t, p, http.StatusSeeOther)
			if ck := p.setCookie("iPlanetDirectoryPro"); ck == nil || !ck.Secure || !ck.HttpOnly {
				t.Fatalf("session cookie over TLS: %+v", ck)
			}
		})
	}
}

func TestPostWithoutValidCSRFTokenIsRefusedAndChangesNothing(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.client()
	f := c.get("/login").form(t)
	f.Set("IDToken1", alice)
	f.Set("IDToken2", password)
	good := f.Get("csrf")

	for name, token := range map[string]string{
		"missing": "",
		"wrong":   strings.Repeat("A", len(good)),
		"garbage": "not a token",
	} {
		bad := url.Values{}
		for k, v := range f {
			bad[k] = v
		}
		bad.Set("csrf", token)
		p := c.post("/login", bad)
		wantStatus(t, p, http.StatusForbidden, "Form not accepted", "nothing was changed")
		wantPageHeaders(t, p)
		if p.setCookie("iPlanetDirectoryPro") != nil {
			t.Fatalf("%s token: a session cookie was set", name)
		}
	}

	// Without the flow cookie a genuine token is worthless too (another browser).
	other := e.client()
	p := other.post("/login", f)
	wantStatus(t, p, http.StatusForbidden, "Form not accepted")

	// A flow cookie that was tampered with is refused.
	ck := c.cookie("/login", web.FlowCookie)
	tampered := e.client()
	u, _ := url.Parse(e.srv.URL + "/login")
	tampered.http.Jar.SetCookies(u, []*http.Cookie{{Name: web.FlowCookie, Value: "x" + ck.Value, Path: "/login"}})
	wantStatus(t, tampered.post("/login", f), http.StatusForbidden)

	if n := e.audit.Count(audit.LoginSuccess) + e.audit.Count(audit.LoginFailure); n != 0 {
		t.Fatalf("refused posts reached the journey: %d login events", n)
	}
	// The flow was left as it was: the genuine form still signs in.
	p = c.post("/login", f)
	wantStatus(t, p, http.StatusSeeOther)
}

func TestGotoOnlyToAllowedPlaces(t *testing.T) {
	e := newEnv(t, envOptions{args: []string{"--allowed-redirects", "https://app.example.com/portal"}})
	for _, tc := range []struct{ goto_, want string }{
		{"https://evil.example.com/", "/login/done"},
		{"//evil.example.com/x", "/login/done"},
		{"https://app.example.com.evil.com/portal", "/login/done"},
		{"javascript:alert(1)", "/login/done"},
		{"/account/devices", "/account/devices"},
		{"https://app.example.com/portal/home?x=1", "https://app.example.com/portal/home?x=1"},
	} {
		c := e.client()
		p := c.get("/login?goto=" + url.QueryEscape(tc.goto_))
		f := p.form(t)
		f.Set("IDToken1", alice)
		f.Set("IDToken2", password)
		p = c.post("/login", f)
		wantStatus(t, p, http.StatusSeeOther)
		if loc := p.Header.Get("Location"); loc != tc.want {
			t.Errorf("goto %q: redirected to %q, want %q", tc.goto_, loc, tc.want)
		}
	}
}

func TestWrongPasswordShowsTheFailureOnANewAttempt(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.client()
	first := c.cookie("/login", web.FlowCookie)
	p := c.login("login", "wrong")
	wantStatus(t, p, http.StatusOK, `role="alert"`, "Sign-in failed.", `value="alice"`)
	if p.setCookie("iPlanetDirectoryPro") != nil {
		t.Fatal("a failed login set a session cookie")
	}
	if ck := c.cookie("/login", web.FlowCookie); ck == nil || (first != nil && ck.Value == first.Value) {
		t.Fatal("a failed login must start a new flow")
	}
	// The name is kept, so the password is where the keyboard starts.
	if !strings.Contains(p.body, `type="password" value="" autocomplete="current-password" required autofocus`) {
		t.Errorf("the password field should have the focus:\n%s", p.body)
	}
	f := p.form(t)
	f.Set("IDToken2", password)
	wantStatus(t, c.post("/login", f), http.StatusSeeOther)
}

func TestExpiredFlowSaysTimedOutWithARestartLink(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.client()
	p := c.get("/login?journey=push-mfa&goto=%2Faccount%2Fdevices")
	f := p.form(t)
	f.Set("IDToken1", alice)
	f.Set("IDToken2", password)
	e.clock.Advance(6 * time.Minute) // journeys time out after 5
	p = c.post("/login", f)
	wantStatus(t, p, http.StatusGone, "Your sign-in timed out, start again",
		`href="/login?goto=%2Faccount%2Fdevices&amp;journey=push-mfa"`)
	wantPageHeaders(t, p)
	if ck := p.setCookie(web.FlowCookie); ck == nil || ck.MaxAge >= 0 {
		t.Errorf("the dead flow's cookie must be cleared: %+v", ck)
	}
}

func TestStoreOutageIsA503Page(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.client()
	f := c.get("/login").form(t)
	f.Set("IDToken1", alice)
	f.Set("IDToken2", password)
	signedIn := e.client()
	wantStatus(t, signedIn.login("login", password), http.StatusSeeOther)
	e.app.Store.Close()
	for _, p := range []*page{c.post("/login", f), c.get("/login"), signedIn.get("/account/devices"), signedIn.get("/login/done")} {
		wantStatus(t, p, http.StatusServiceUnavailable, "Temporarily unavailable", "Nothing was lost")
		wantPageHeaders(t, p)
		if p.Header.Get("Retry-After") == "" {
			t.Error("no Retry-After")
		}
	}
}

func TestNodeMessagesFollowTheBrowsersLanguage(t *testing.T) {
	e := newEnv(t, envOptions{})
	for lang, want := range map[string]string{
		"fr-CH, fr;q=0.9, en;q=0.8": "Connexion",
		"de":                        "Anmelden",
		"en-GB":                     "Sign in",
		"ja":                        "Sign in",
	} {
		c := e.client()
		c.header.Set("Accept-Language", lang)
		wantStatus(t, c.get("/login"), http.StatusOK, "<h1 id=\"step-title\">"+want+"</h1>")
	}
	// ?locale= wins over the browser and holds for the whole flow, failures included.
	c := e.client()
	c.header.Set("Accept-Language", "fr")
	p := c.get("/login?locale=de")
	wantStatus(t, p, http.StatusOK, "Anmelden")
	f := p.form(t)
	f.Set("IDToken1", alice)
	f.Set("IDToken2", "wrong")
	wantStatus(t, c.post("/login", f), http.StatusOK, "Anmelden", "Sign-in failed.")
}

func TestBadRequestsGetPages(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.client()
	wantStatus(t, c.get("/login?journey=nope"), http.StatusNotFound, `There is no sign-in journey named &#34;nope&#34;.`)
	wantStatus(t, c.get("/login?journey=%3Cscript%3E"), http.StatusNotFound, "&lt;script&gt;")
	wantStatus(t, c.get("/login?realm=nowhere"), http.StatusNotFound, "Unknown realm")

	f := c.get("/login").form(t)
	huge := url.Values{}
	for k, v := range f {
		huge[k] = v
	}
	huge.Set("IDToken1", strings.Repeat("a", 70<<10))
	p := c.post("/login", huge)
	wantStatus(t, p, http.StatusRequestEntityTooLarge, "Form too large")
	wantPageHeaders(t, p)

	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/login", strings.NewReader("--x--"))
	req.Header.Set("Content-Type", "multipart/form-data; boundary=x")
	wantStatus(t, c.do(req), http.StatusUnsupportedMediaType)

	// A form for another step (edited, or from an old tab) changes nothing.
	stale := url.Values{}
	for k, v := range f {
		stale[k] = v
	}
	stale.Set("step", "ChoiceCallback")
	wantStatus(t, c.post("/login", stale), http.StatusBadRequest, "This page is out of date")
	f.Set("IDToken1", alice)
	f.Set("IDToken2", password)
	wantStatus(t, c.post("/login", f), http.StatusSeeOther)
}

func TestStaticAssets(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.client()
	body := c.get("/login").body
	for _, name := range []string{"arbor.css", "arbor.js"} {
		i := strings.Index(body, "/static/web/"+name+"?v=")
		if i < 0 {
			t.Fatalf("page does not link %s", name)
		}
		link := body[i : i+strings.IndexByte(body[i:], '"')]
		p := c.get(link)
		wantStatus(t, p, http.StatusOK)
		if cc := p.Header.Get("Cache-Control"); !strings.Contains(cc, "immutable") {
			t.Errorf("%s: Cache-Control %q", name, cc)
		}
		if p.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no nosniff", name)
		}
		if ct := p.Header.Get("Content-Type"); !strings.Contains(ct, map[string]string{"arbor.css": "text/css", "arbor.js": "javascript"}[name]) {
			t.Errorf("%s: Content-Type %q", name, ct)
		}
	}
	wantStatus(t, c.get("/static/web/nope.js"), http.StatusNotFound)
}

func TestPollingStepExitAndPoll(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.enroll()
	c := e.client()
	p := c.login(fastJourney, password)
	wantStatus(t, p, http.StatusOK, `id="challenge-number"`, `data-poll="1000"`, `name="IDToken3" value="0"`)
	// The auto-poll submits the form as it is: the exit preset 100 keeps waiting.
	f := p.form(t)
	if f.Get("IDToken3") != "100" {
		t.Fatalf("exit preset %q, want 100", f.Get("IDToken3"))
	}
	p = c.post("/login", f)
	wantStatus(t, p, http.StatusOK, `id="challenge-number"`)
	// The exit button's value comes after the preset, and the last value wins.
	f = p.form(t)
	f.Add("IDToken3", "0")
	p = c.post("/login", f)
	wantStatus(t, p, http.StatusOK, `<label for="IDToken1">Recovery Code</label>`)
}

func TestSignOut(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.client()
	wantStatus(t, c.login("login", password), http.StatusSeeOther)
	done := c.get("/login/done")
	f := done.form(t)
	csrf := f.Get("csrf")

	f.Set("csrf", "")
	wantStatus(t, c.post("/login/logout", f), http.StatusForbidden)
	wantStatus(t, c.get("/login/done"), http.StatusOK, "alice") // still signed in

	f.Set("csrf", csrf)
	p := c.post("/login/logout", f)
	wantStatus(t, p, http.StatusOK, "You have signed out.")
	if ck := p.setCookie("iPlanetDirectoryPro"); ck == nil || ck.MaxAge >= 0 {
		t.Errorf("session cookie not cleared: %+v", ck)
	}
	if n := e.audit.Count(audit.SessionLogout); n != 1 {
		t.Errorf("%d session.logout events", n)
	}
	p = c.get("/login/done")
	wantStatus(t, p, http.StatusSeeOther)
}

func TestNewLoginReplacesTheBrowsersSession(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.client()
	wantStatus(t, c.login("login", password), http.StatusSeeOther)
	first := c.cookie("/", "iPlanetDirectoryPro").Value
	wantStatus(t, c.login("login", password), http.StatusSeeOther)
	if _, err := e.app.Sessions.Validate(context.Background(), first); err == nil {
		t.Fatal("the earlier session is still valid after a new login in the same browser")
	}
}

// TestPasswordOnlyBypassIsClosed is the regression test of issue 7's finding: with
// nothing but a push-enrolled user's password, the password-only login journey gives no
// session, so neither device removal nor new recovery codes are reachable, and push-mfa
// still demands the phone.
func TestPasswordOnlyBypassIsClosed(t *testing.T) {
	e := newEnv(t, envOptions{})
	codes := e.enroll()
	c := e.client()
	p := c.login("login", password)
	wantStatus(t, p, http.StatusOK, `role="alert"`, "This account has a second factor")
	if p.setCookie("iPlanetDirectoryPro") != nil {
		t.Fatal("the password-only journey gave a push-enrolled user a session")
	}
	// The new attempt is the step-up journey, with the name kept.
	f := p.form(t)
	f.Set("IDToken2", password)
	if p := c.post("/login", f); !challengeNumber.MatchString(p.body) {
		t.Fatalf("after the refusal, the next attempt does not ask for the phone:\n%s", p.body)
	}
	if n := e.audit.Count(door.EventSessionRefused); n != 1 {
		t.Fatalf("%d session.refused events, want 1", n)
	}
	// No session: the account pages send to sign-in and change nothing.
	wantStatus(t, c.post("/account/recovery-codes", url.Values{"csrf": {"x"}}), http.StatusSeeOther)
	wantStatus(t, c.get("/account/devices"), http.StatusSeeOther)
	if left, _ := e.app.Devices.RecoveryCodesLeft(context.Background(), "/", alice); left != len(codes) {
		t.Fatalf("%d recovery codes left, want %d", left, len(codes))
	}
	if devs, _ := e.app.Devices.Devices(context.Background(), "/", alice); len(devs) != 1 {
		t.Fatalf("devices: %v", devs)
	}
	// push-mfa still asks for the phone: a number to match, not a way around it.
	p = c.login("push-mfa", password)
	wantStatus(t, p, http.StatusOK, `id="challenge-number"`)
	if strings.Contains(p.body, "Skip") {
		t.Fatal("push-mfa offers a skip to a user with a device")
	}
}

// TestRestrictedSessionCannotManageFactors: with mfa_bypass=restricted, the
// password-only login signs in but every factor action goes through the step-up
// journey first, however fresh the session.
func TestRestrictedSessionCannotManageFactors(t *testing.T) {
	e := newEnv(t, envOptions{args: []string{"--mfa-bypass", "restricted"}})
	e.enroll()
	c := e.client()
	wantStatus(t, c.login("login", password), http.StatusSeeOther)
	p := c.get("/account/devices")
	wantStatus(t, p, http.StatusOK, "Alice&#39;s phone")
	csrf := p.form(t).Get("csrf")
	devs, _ := e.app.Devices.Devices(context.Background(), "/", alice)
	for _, tc := range []struct {
		action string
		form   url.Values
		next   string
	}{
		{"/account/devices/remove", url.Values{"csrf": {csrf}, "device": {devs[0].ID}}, "/account/devices/confirm?action=remove&device=" + url.QueryEscape(devs[0].ID)},
		{"/account/recovery-codes", url.Values{"csrf": {csrf}}, "/account/devices/confirm?action=codes"},
		// The real user may want this very session out: it must prove more first.
		{"/account/sessions/end", url.Values{"csrf": {csrf}, "session": {"others"}}, "/account/devices"},
	} {
		p := c.post(tc.action, tc.form)
		wantStatus(t, p, http.StatusSeeOther)
		loc, _ := url.Parse(p.Header.Get("Location"))
		if loc.Path != "/login" || loc.Query().Get("journey") != "push-mfa" || loc.Query().Get("goto") != tc.next {
			t.Errorf("%s from a restricted session: redirected to %s, want the push-mfa step-up", tc.action, loc)
		}
	}
	if n := e.audit.Count(audit.DeviceRevoked) + e.audit.Count(audit.RecoveryCodesNew); n != 0 {
		t.Fatalf("a restricted session changed factors: %d events", n)
	}
}

func TestDevicesPage(t *testing.T) {
	e := newEnv(t, envOptions{args: []string{"--step-up-journey", fastJourney}})
	e.enroll()
	c := e.client()

	p := c.get("/account/devices")
	wantStatus(t, p, http.StatusSeeOther)
	if loc := p.Header.Get("Location"); loc != "/login?goto=%2Faccount%2Fdevices" {
		t.Fatalf("not signed in: redirected to %q", loc)
	}
	wantStatus(t, c.pushLogin("/login?journey="+fastJourney), http.StatusSeeOther)
	p = c.get("/account/devices")
	wantStatus(t, p, http.StatusOK, "Alice&#39;s phone", `<strong id="codes-left">10</strong>`)
	wantPageHeaders(t, p)
	devs, _ := e.app.Devices.Devices(context.Background(), "/", alice)
	id := devs[0].ID
	csrf := p.form(t).Get("csrf")

	// CSRF on both actions.
	wantStatus(t, c.post("/account/devices/remove", url.Values{"device": {id}}), http.StatusForbidden)
	wantStatus(t, c.post("/account/recovery-codes", url.Values{"csrf": {"x"}}), http.StatusForbidden)
	// Someone else's device, or none, is not found.
	wantStatus(t, c.post("/account/devices/remove", url.Values{"csrf": {csrf}, "device": {"not-mine"}}), http.StatusNotFound)

	// A stale login must step up through the MFA journey, never the password-only one,
	// and comes back to a confirmation.
	e.clock.Advance(6 * time.Minute)
	p = c.post("/account/devices/remove", url.Values{"csrf": {csrf}, "device": {id}})
	wantStatus(t, p, http.StatusSeeOther)
	loc, _ := url.Parse(p.Header.Get("Location"))
	if loc.Path != "/login" || loc.Query().Get("journey") != fastJourney || loc.Query().Get("goto") != "/account/devices/confirm?action=remove&device="+url.QueryEscape(id) {
		t.Fatalf("stale remove redirected to %s", loc)
	}
	if n := e.audit.Count(audit.DeviceRevoked); n != 0 {
		t.Fatal("a stale session removed a device")
	}
	p = c.pushLogin(loc.RequestURI())
	wantStatus(t, p, http.StatusSeeOther)
	// A second browser signed in meanwhile: removing a factor ends its session.
	other := e.client()
	wantStatus(t, other.pushLogin("/login?journey="+fastJourney), http.StatusSeeOther)
	wantStatus(t, other.get("/account/devices"), http.StatusOK)
	p = c.get(p.Header.Get("Location"))
	wantStatus(t, p, http.StatusOK, "Remove this device?", "Alice&#39;s phone")
	// The old page's token belonged to the old session.
	wantStatus(t, c.post("/account/devices/remove", url.Values{"csrf": {csrf}, "device": {id}}), http.StatusForbidden)
	p = c.post("/account/devices/remove", p.form(t))
	wantStatus(t, p, http.StatusSeeOther)
	if loc := p.Header.Get("Location"); loc != "/account/devices?done=removed" {
		t.Fatalf("after remove: %q", loc)
	}
	if devs, _ := e.app.Devices.Devices(context.Background(), "/", alice); len(devs) != 0 {
		t.Fatalf("device not removed: %v", devs)
	}
	if n := e.audit.Count(audit.DeviceRevoked); n != 1 {
		t.Errorf("%d device.revoked events", n)
	}
	wantStatus(t, other.get("/account/devices"), http.StatusSeeOther)
	p = c.get("/account/devices?done=removed")
	wantStatus(t, p, http.StatusOK, "The device was removed.", `id="no-devices"`)

	// Fresh now: new codes at once, shown once.
	before := e.audit.Count(audit.RecoveryCodesNew)
	p = c.post("/account/recovery-codes", url.Values{"csrf": {p.form(t).Get("csrf")}})
	wantStatus(t, p, http.StatusOK, "Your new recovery codes", "Save them now.")
	if n := strings.Count(p.body, "<li><code>"); n != 10 {
		t.Fatalf("%d codes shown", n)
	}
	if n := e.audit.Count(audit.RecoveryCodesNew); n != before+1 {
		t.Errorf("recovery_codes.generated: %d events, want %d", n, before+1)
	}

	// Stale again: the codes action goes through the step-up journey too.
	e.clock.Advance(6 * time.Minute)
	p = c.get("/account/devices")
	p = c.post("/account/recovery-codes", url.Values{"csrf": {p.form(t).Get("csrf")}})
	wantStatus(t, p, http.StatusSeeOther)
	if loc := p.Header.Get("Location"); !strings.Contains(loc, "goto=%2Faccount%2Fdevices%2Fconfirm%3Faction%3Dcodes") {
		t.Fatalf("stale codes redirected to %q", loc)
	}
}

// TestLockedUsersSessionStopsAtOnce: locking the account ends what its session can do
// on the account pages at the next request.
func TestLockedUsersSessionStopsAtOnce(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.client()
	wantStatus(t, c.login("login", password), http.StatusSeeOther)
	wantStatus(t, c.get("/account/devices"), http.StatusOK)
	if err := e.app.Users.SetStatus(context.Background(), "/", alice, identity.StatusLocked); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, c.get("/account/devices"), http.StatusSeeOther)
	wantStatus(t, c.get("/login/done"), http.StatusSeeOther)
}

// TestBrowserActivityExtendsTheIdleTimeout: a page view refreshes the session as a
// REST refresh does.
func TestBrowserActivityExtendsTheIdleTimeout(t *testing.T) {
	e := newEnv(t, envOptions{args: []string{"--session-idle", "10m"}})
	c := e.client()
	wantStatus(t, c.login("login", password), http.StatusSeeOther)
	for i := 0; i < 3; i++ {
		e.clock.Advance(8 * time.Minute)
		wantStatus(t, c.get("/account/devices"), http.StatusOK)
	}
	e.clock.Advance(11 * time.Minute)
	wantStatus(t, c.get("/account/devices"), http.StatusSeeOther)
}

// TestNoSessionWithoutUser: a journey that succeeds without identifying anyone ends in a
// clear page and no session, in the browser as over REST.
func TestNoSessionWithoutUser(t *testing.T) {
	e := newEnv(t, envOptions{journeys: map[string]string{"anon": `{"name":"anon","start":"s","nodes":{
	  "s":{"type":"set_state","config":{"values":{"x":1}},"outcomes":{"outcome":"success"}}}}`}})
	c := e.client()
	p := c.get("/login?journey=anon")
	wantStatus(t, p, http.StatusUnauthorized, "without identifying a user")
	if p.setCookie("iPlanetDirectoryPro") != nil {
		t.Fatal("a session cookie was set for nobody")
	}
	if n := e.audit.Count(door.EventSessionRefused); n < 1 {
		t.Fatal("no session.refused event")
	}
}

// TestSessionCookieEndsWithTheBrowser: without the journey asking to remember the user,
// the session cookie has no Expires; over https it is Secure and HSTS is sent.
func TestSessionCookieEndsWithTheBrowser(t *testing.T) {
	for _, tls := range []bool{false, true} {
		e := newEnv(t, envOptions{tls: tls})
		p := e.client().login("login", password)
		ck := p.setCookie("iPlanetDirectoryPro")
		if ck == nil || !ck.Expires.IsZero() || ck.MaxAge != 0 || ck.Secure != tls {
			t.Fatalf("tls=%v: session cookie %+v", tls, ck)
		}
		if hsts := p.Header.Get("Strict-Transport-Security"); (hsts != "") != tls {
			t.Errorf("tls=%v: HSTS %q", tls, hsts)
		}
	}
}

// TestAccountSessions: the account page lists the user's sessions (this browser's
// marked), and signs out one of the others, or all of them, without touching this one.
func TestAccountSessions(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	a, b, c := e.client(), e.client(), e.client()
	for _, cl := range []*client{a, b, c} {
		wantStatus(t, cl.login("login", password), http.StatusSeeOther)
	}
	list, err := e.app.Door.UserSessions(ctx, "/", alice)
	if err != nil || len(list) != 3 {
		t.Fatalf("sessions %v, %v", list, err)
	}
	for _, se := range list {
		if se.Props["door"] != "web" || se.Props["ip"] != "127.0.0.1" || !strings.HasPrefix(se.Props["agent"], "Go-http-client") {
			t.Errorf("session props %v", se.Props)
		}
	}
	p := a.get("/account/devices")
	wantStatus(t, p, http.StatusOK, "Where you are signed in", `id="this-session"`, "with password, in a browser", "Sign out everywhere else")
	if n := strings.Count(p.body, `class="device session`); n != 3 {
		t.Errorf("%d sessions listed, want 3", n)
	}
	if n := strings.Count(p.body, `id="this-session"`); n != 1 {
		t.Errorf("this browser marked %d times", n)
	}
	csrf := p.form(t).Get("csrf")
	mine := a.sessionHandle(t, e)
	var bHandle string
	for _, se := range list {
		if se.Handle != mine && se.Created.Equal(list[1].Created) {
			bHandle = se.Handle
		}
	}
	bob := e.otherUserSession(t)

	for _, tc := range []struct {
		name   string
		form   url.Values
		status int
	}{
		{"no CSRF token", url.Values{"session": {"others"}}, http.StatusForbidden},
		{"this session", url.Values{"csrf": {csrf}, "session": {mine}}, http.StatusBadRequest},
		{"no session named", url.Values{"csrf": {csrf}}, http.StatusBadRequest},
		{"another user's session", url.Values{"csrf": {csrf}, "session": {bob}}, http.StatusNotFound},
		{"an unknown session", url.Values{"csrf": {csrf}, "session": {"nope"}}, http.StatusNotFound},
	} {
		if p := a.post("/account/sessions/end", tc.form); p.StatusCode != tc.status {
			t.Errorf("%s: status %d, want %d", tc.name, p.StatusCode, tc.status)
		}
	}
	if l, _ := e.app.Door.UserSessions(ctx, "/", alice); len(l) != 3 {
		t.Fatalf("a refused request ended sessions: %d left", len(l))
	}

	// One other session.
	p = a.post("/account/sessions/end", url.Values{"csrf": {csrf}, "session": {bHandle}})
	wantStatus(t, p, http.StatusSeeOther)
	if loc := p.Header.Get("Location"); loc != "/account/devices?done=ended" {
		t.Fatalf("after ending one: %q", loc)
	}
	if l, _ := e.app.Door.UserSessions(ctx, "/", alice); len(l) != 2 {
		t.Errorf("%d sessions after ending one, want 2", len(l))
	}
	wantStatus(t, a.get("/account/devices?done=ended"), http.StatusOK, "The session was signed out.")

	// Every other one.
	p = a.post("/account/sessions/end", url.Values{"csrf": {csrf}, "session": {"others"}})
	wantStatus(t, p, http.StatusSeeOther)
	l, _ := e.app.Door.UserSessions(ctx, "/", alice)
	if len(l) != 1 || l[0].Handle != mine {
		t.Fatalf("after signing out the others: %+v", l)
	}
	wantStatus(t, b.get("/account/devices"), http.StatusSeeOther)
	wantStatus(t, c.get("/account/devices"), http.StatusSeeOther)
	p = a.get("/account/devices?done=others")
	wantStatus(t, p, http.StatusOK, "Every other session was signed out.")
	if strings.Contains(p.body, "Sign out everywhere else") {
		t.Error("the sign-out-everywhere button shows with no other session")
	}
	if n := e.audit.Count(audit.SessionLogout); n < 2 {
		t.Errorf("%d logout events, want the two sign-outs audited", n)
	}
}

// TestAppOnlyUserStepsUpWithACode: a user whose only second factor is an authenticator
// app steps up through otp_step_up_journey (oath-mfa), not the push journey that could
// not verify them; a user with a phone still goes through push-mfa.
func TestAppOnlyUserStepsUpWithACode(t *testing.T) {
	e := newEnv(t, envOptions{args: []string{"--mfa-bypass", "restricted"}})
	ctx := context.Background()
	if _, err := e.app.Devices.AddOATH(ctx, "/", alice, devices.OATHDevice{Name: "Authenticator app", Params: oath.DefaultParams}, appSecret); err != nil {
		t.Fatal(err)
	}
	stepUpVia := func() string {
		t.Helper()
		c := e.client()
		wantStatus(t, c.login("login", password), http.StatusSeeOther)
		p := c.get("/account/devices")
		wantStatus(t, p, http.StatusOK)
		p = c.post("/account/recovery-codes", url.Values{"csrf": {p.form(t).Get("csrf")}})
		wantStatus(t, p, http.StatusSeeOther)
		loc, _ := url.Parse(p.Header.Get("Location"))
		return loc.Query().Get("journey")
	}
	if j := stepUpVia(); j != "oath-mfa" {
		t.Errorf("app-only user steps up through %q, want oath-mfa", j)
	}
	e.enroll()
	if j := stepUpVia(); j != "push-mfa" {
		t.Errorf("user with a phone steps up through %q, want push-mfa", j)
	}
}
