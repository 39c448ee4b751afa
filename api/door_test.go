package api_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/devices"
	"github.com/arbor-auth/arbor/door"
	"github.com/arbor-auth/arbor/identity"
	"github.com/arbor-auth/arbor/internal/app"
	"github.com/arbor-auth/arbor/internal/config"
	"github.com/arbor-auth/arbor/journeys"
	"github.com/arbor-auth/arbor/nodes"
)

// The rules of the door core, through the REST door (issue 7).

// login runs the login journey as user and returns the final response.
func login(t *testing.T, url, user, pw string, hdr ...string) resp {
	t.Helper()
	r1 := post(t, url, nil, hdr...)
	if r1.status != 200 {
		t.Fatalf("start %s: %d %s", url, r1.status, r1.raw)
	}
	return post(t, url, fill(r1.body, map[string]any{"NameCallback": user, "PasswordCallback": pw}), hdr...)
}

// enrollPhone gives user a push device, as a registration would.
func enrollPhone(t *testing.T, a *app.App, realm, user string) {
	t.Helper()
	secret := make([]byte, devices.SecretLen)
	rand.Read(secret)
	if err := a.Devices.Add(context.Background(), realm, user, devices.Device{ID: "phone-" + user, Name: "phone", Communication: devices.CommPoll}, secret); err != nil {
		t.Fatal(err)
	}
}

func recorder(a *app.App) *audit.Recorder {
	r := &audit.Recorder{}
	a.Audit.AddSink(r.Sink())
	return r
}

func sessionCookie(r resp) *http.Cookie {
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == "iPlanetDirectoryPro" {
			return c
		}
	}
	return nil
}

// TestPasswordOnlyBypassREST: a push-enrolled user's password alone, through the
// always-loaded login journey, gives no session (the default mfa_bypass=refuse).
func TestPasswordOnlyBypassREST(t *testing.T) {
	a, srv := newApp(t)
	rec := recorder(a)
	enrollPhone(t, a, "/", "alice")
	r := login(t, srv.URL+loginURL, "alice", "correct horse")
	if r.status != 401 || r.body["tokenId"] != nil || sessionCookie(r) != nil || !strings.Contains(r.body["message"].(string), "second factor") {
		t.Fatalf("password-only login of a push-enrolled user: %d %s", r.status, r.raw)
	}
	if n := rec.Count(door.EventSessionRefused); n != 1 {
		t.Fatalf("%d session.refused events", n)
	}
	// noSession=true is refused the same way: the rule is about the login, not the cookie.
	if r := login(t, srv.URL+loginURL+"&noSession=true", "alice", "correct horse"); r.status != 401 {
		t.Fatalf("noSession login of a push-enrolled user: %d %s", r.status, r.raw)
	}
}

// TestRestrictedBypassREST: with mfa_bypass=restricted the login succeeds with a
// session marked restricted at level 10.
func TestRestrictedBypassREST(t *testing.T) {
	a, srv := newApp(t, "--mfa-bypass", "restricted")
	enrollPhone(t, a, "/", "alice")
	r := login(t, srv.URL+loginURL, "alice", "correct horse")
	if r.status != 200 {
		t.Fatalf("restricted login: %d %s", r.status, r.raw)
	}
	info := post(t, srv.URL+"/json/realms/root/sessions?_action=getSessionInfo", nil, "iPlanetDirectoryPro", r.body["tokenId"].(string))
	props, _ := info.body["properties"].(map[string]any)
	if props["Restricted"] != "true" || props["AuthLevel"] != "10" {
		t.Fatalf("restricted session info: %s", info.raw)
	}
}

// TestNoSessionWithoutUser: a journey that succeeds without identifying anyone yields
// no session, a clear 401 and an audit event.
func TestNoSessionWithoutUser(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "anon.json"), []byte(`{"name":"anon","start":"s","nodes":{
	  "s":{"type":"set_state","config":{"values":{"x":1}},"outcomes":{"outcome":"success"}}}}`), 0o644)
	a, srv := newApp(t, "--journeys", dir)
	rec := recorder(a)
	r := post(t, srv.URL+"/json/realms/root/authenticate?authIndexType=service&authIndexValue=anon", nil)
	if r.status != 401 || r.body["tokenId"] != nil || sessionCookie(r) != nil || !strings.Contains(string(r.raw), "without identifying a user") {
		t.Fatalf("anonymous success: %d %s", r.status, r.raw)
	}
	if n := rec.Count(door.EventSessionRefused); n != 1 {
		t.Fatalf("%d session.refused events", n)
	}
}

// TestSessionInfoShowsLevelAndFactors: getSessionInfo carries AM's AuthLevel and the
// factors the login verified; the second factor here is a real recovery code.
func TestSessionInfoShowsLevelAndFactors(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "two.json"), []byte(`{"name":"two","start":"p","nodes":{
	  "p":{"type":"page","config":{"nodes":[{"type":"username"},{"type":"password"}]},"outcomes":{"outcome":"d"}},
	  "d":{"type":"data_store_decision","outcomes":{"true":"r","false":"failure"}},
	  "r":{"type":"recovery_code_collector_decision","outcomes":{"true":"success","false":"failure"}}}}`), 0o644)
	a, srv := newApp(t, "--journeys", dir)
	rec := recorder(a)
	for _, tc := range []struct {
		journey, level, factors string
		enrolled                bool
	}{
		{"login", "10", "pwd", false},
		{"two", "20", "pwd,recovery_code", true},
	} {
		url := srv.URL + "/json/realms/root/authenticate?authIndexType=service&authIndexValue=" + tc.journey
		r := login(t, url, "alice", "correct horse")
		if tc.enrolled {
			enrollPhone(t, a, "/", "alice")
			codes, err := a.Devices.NewRecoveryCodes(context.Background(), "/", "alice")
			if err != nil {
				t.Fatal(err)
			}
			r = post(t, url, fill(r.body, map[string]any{"NameCallback": codes[0]}))
		}
		if r.status != 200 {
			t.Fatalf("%s: %d %s", tc.journey, r.status, r.raw)
		}
		info := post(t, srv.URL+"/json/realms/root/sessions?_action=getSessionInfo", nil, "iPlanetDirectoryPro", r.body["tokenId"].(string))
		props, _ := info.body["properties"].(map[string]any)
		if info.status != 200 || props["AuthLevel"] != tc.level || props["Factors"] != tc.factors || props["Journey"] != tc.journey {
			t.Errorf("%s: session info %s", tc.journey, info.raw)
		}
	}
	if n := rec.Count(door.EventSessionCreated); n != 2 {
		t.Errorf("%d session.created events, want 2", n)
	}
}

// TestJourneyCannotClaimFactors: a journey that writes the verified factors, or forges
// a node's private state (an inner journey's saved state carrying factors), is refused
// when it is saved, with a pointer and the reserved_key code, and so never runs.
func TestJourneyCannotClaimFactors(t *testing.T) {
	a, srv := newApp(t)
	enrollPhone(t, a, "/", "alice")
	for name, forged := range map[string]string{
		"spoof":       `"f":{"type":"set_state","config":{"values":{"arbor.factors":["pwd","push"]}},"outcomes":{"outcome":"success"}}`,
		"spoof_expr":  `"f":{"type":"set_state","config":{"expressions":{"arbor.factors":"['pwd', 'push']"}},"outcomes":{"outcome":"success"}}`,
		"spoof_inner": `"f":{"type":"set_state","config":{"values":{"arbor.node.j.inner":{"v":1,"n":"x","s":{"arbor.factors":["push"]}}}},"outcomes":{"outcome":"success"}}`,
	} {
		doc := `{"name":"` + name + `","start":"p","nodes":{
		  "p":{"type":"page","config":{"nodes":[{"type":"username"},{"type":"password"}]},"outcomes":{"outcome":"d"}},
		  "d":{"type":"data_store_decision","outcomes":{"true":"f","false":"failure"}},` + forged + `}}`
		_, err := a.Journeys.Save(context.Background(), []byte(doc), "test")
		var inv *journeys.InvalidError
		if !errors.As(err, &inv) || len(inv.Problems) != 1 || inv.Problems[0].Code != nodes.CodeReservedKey ||
			!strings.HasPrefix(inv.Problems[0].Pointer, "/nodes/f/config/") {
			t.Fatalf("%s saved: %v", name, err)
		}
		r := post(t, srv.URL+"/json/realms/root/authenticate?authIndexType=service&authIndexValue="+name, nil)
		if r.status == 200 {
			t.Fatalf("%s runs: %s", name, r.raw)
		}
	}
}

// TestLockedUserSessionsStopValidating: locking the account ends its sessions'
// validity at once, on every session action.
func TestLockedUserSessionsStopValidating(t *testing.T) {
	a, srv := newApp(t)
	r := login(t, srv.URL+loginURL, "alice", "correct horse")
	tok := r.body["tokenId"].(string)
	base := srv.URL + "/json/realms/root/sessions?_action="
	if v := post(t, base+"validate", map[string]any{"tokenId": tok}); v.body["valid"] != true {
		t.Fatalf("validate before the lock: %s", v.raw)
	}
	if err := a.Users.SetStatus(context.Background(), "/", "alice", identity.StatusLocked); err != nil {
		t.Fatal(err)
	}
	if v := post(t, base+"validate", map[string]any{"tokenId": tok}); v.status != 200 || v.body["valid"] != false {
		t.Fatalf("validate after the lock: %d %s", v.status, v.raw)
	}
	for _, action := range []string{"getSessionInfo", "refresh"} {
		if v := post(t, base+action, nil, "iPlanetDirectoryPro", tok); v.status != 401 {
			t.Errorf("%s after the lock: %d %s", action, v.status, v.raw)
		}
	}
	// An existing session does not short-cut a new login either.
	if r := post(t, srv.URL+loginURL, nil, "Cookie", "iPlanetDirectoryPro="+tok); r.body["tokenId"] != nil {
		t.Fatalf("a locked user's session was reused: %s", r.raw)
	}
	// The lock ended the sessions: unlocking does not bring them back.
	if err := a.Users.SetStatus(context.Background(), "/", "alice", identity.StatusActive); err != nil {
		t.Fatal(err)
	}
	if v := post(t, base+"validate", map[string]any{"tokenId": tok}); v.body["valid"] != false {
		t.Fatalf("a session survived the lock: %s", v.raw)
	}
}

// TestSessionsHonourTheRealmInThePath: a root session is not valid at alpha's
// sessions endpoint, nor an alpha session at root's.
func TestSessionsHonourTheRealmInThePath(t *testing.T) {
	_, srv := newApp(t)
	root := login(t, srv.URL+loginURL, "alice", "correct horse").body["tokenId"].(string)
	alpha := login(t, srv.URL+"/json/realms/root/realms/alpha/authenticate?authIndexType=service&authIndexValue=login", "bob", "battery staple").body["tokenId"].(string)
	for _, tc := range []struct {
		path, tok string
		valid     bool
	}{
		{"/json/realms/root/sessions", root, true},
		{"/json/realms/root/realms/alpha/sessions", root, false},
		{"/json/realms/root/realms/alpha/sessions", alpha, true},
		{"/json/realms/root/sessions", alpha, false},
		{"/json/sessions?realm=alpha", root, false},
	} {
		sep := "?"
		if strings.Contains(tc.path, "?") {
			sep = "&"
		}
		v := post(t, srv.URL+tc.path+sep+"_action=validate", map[string]any{"tokenId": tc.tok})
		if v.body["valid"] != tc.valid {
			t.Errorf("validate at %s: %s, want valid=%v", tc.path, v.raw, tc.valid)
		}
		if info := post(t, srv.URL+tc.path+sep+"_action=getSessionInfo", nil, "iPlanetDirectoryPro", tc.tok); (info.status == 200) != tc.valid {
			t.Errorf("getSessionInfo at %s: %d", tc.path, info.status)
		}
	}
}

// TestLoginBodyMustBeJSON: a login completed by a text/plain or form body (login CSRF
// from a cross-site form) is refused with 415 and changes nothing.
func TestLoginBodyMustBeJSON(t *testing.T) {
	_, srv := newApp(t)
	r1 := post(t, srv.URL+loginURL, nil)
	body := fill(r1.body, map[string]any{"NameCallback": "alice", "PasswordCallback": "correct horse"})
	for _, ct := range []string{"text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""} {
		r := post(t, srv.URL+loginURL, body, "Content-Type", ct)
		if ct == "" {
			r = postRaw(t, srv.URL+loginURL, body)
		}
		if r.status != http.StatusUnsupportedMediaType || r.body["code"] != float64(415) || r.body["reason"] != "Unsupported Media Type" {
			t.Errorf("Content-Type %q: %d %s", ct, r.status, r.raw)
		}
	}
	// The flow was left as it was: the JSON answer still signs in.
	if r := post(t, srv.URL+loginURL, body); r.status != 200 || r.body["tokenId"] == nil {
		t.Fatalf("JSON after refused bodies: %d %s", r.status, r.raw)
	}
	if r := post(t, srv.URL+loginURL, body, "Content-Type", "application/json; charset=utf-8"); r.status == http.StatusUnsupportedMediaType {
		t.Fatal("application/json with a charset was refused")
	}
}

// TestSessionCookieAndTransportSecurity: no Expires on the session cookie unless the
// journey asks to remember the user; Secure and HSTS when the public URL is https or a
// trusted proxy says https, and not from an untrusted one.
func TestSessionCookieAndTransportSecurity(t *testing.T) {
	_, srv := newApp(t, "--trusted-proxies", "127.0.0.1/32")
	r := login(t, srv.URL+loginURL, "alice", "correct horse")
	ck := sessionCookie(r)
	if ck == nil || !ck.Expires.IsZero() || ck.MaxAge != 0 || ck.Secure || r.header.Get("Strict-Transport-Security") != "" {
		t.Fatalf("plain http: cookie %+v, HSTS %q", ck, r.header.Get("Strict-Transport-Security"))
	}
	r = login(t, srv.URL+loginURL, "alice", "correct horse", "X-Forwarded-Proto", "https")
	if ck := sessionCookie(r); ck == nil || !ck.Secure || !strings.HasPrefix(r.header.Get("Strict-Transport-Security"), "max-age=") {
		t.Fatalf("https by a trusted proxy: cookie %+v, HSTS %q", ck, r.header.Get("Strict-Transport-Security"))
	}
	_, srv = newApp(t) // no trusted proxies: the header is the client's word only
	r = login(t, srv.URL+loginURL, "alice", "correct horse", "X-Forwarded-Proto", "https")
	if ck := sessionCookie(r); ck == nil || ck.Secure || r.header.Get("Strict-Transport-Security") != "" {
		t.Fatalf("X-Forwarded-Proto from an untrusted peer was believed: %+v", ck)
	}
	_, srv = newApp(t, "--public-url", "https://id.example.com")
	r = login(t, srv.URL+loginURL, "alice", "correct horse")
	if ck := sessionCookie(r); ck == nil || !ck.Secure || r.header.Get("Strict-Transport-Security") == "" {
		t.Fatalf("https public URL: cookie %+v", ck)
	}
}

// TestGotoPrefixes: the REST door's successUrl follows the redirect policy.
func TestGotoPrefixes(t *testing.T) {
	_, srv := newApp(t, "--allowed-redirects", "https://good.example/app")
	for goto_, want := range map[string]string{
		"https://good.example/app/x":           "https://good.example/app/x",
		"https://good.example/application":     "/",
		"https://good.example/appx":            "/",
		"https://good.example/app/../evil":     "/",
		"https://good.example/app/%2e%2e/evil": "/",
	} {
		r := login(t, srv.URL+loginURL+"&goto="+url.QueryEscape(goto_), "alice", "correct horse")
		if r.body["successUrl"] != want {
			t.Errorf("goto %s: successUrl %v, want %s", goto_, r.body["successUrl"], want)
		}
	}
}

// postRaw posts body as JSON without a Content-Type header.
func postRaw(t *testing.T, u string, body any) resp {
	t.Helper()
	j, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, u, bytes.NewReader(j))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := resp{status: res.StatusCode, header: res.Header, raw: raw}
	_ = json.Unmarshal(raw, &out.body)
	return out
}

// TestMetricsToken: /metrics demands the bearer token when one is set.
func TestMetricsToken(t *testing.T) {
	_, srv := newApp(t, "--metrics-token", "s3cret")
	for auth, want := range map[string]int{"": 401, "Bearer wrong": 401, "Bearer s3cret": 200} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/metrics", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != want {
			t.Errorf("Authorization %q: %d, want %d", auth, res.StatusCode, want)
		}
	}
	_, srv = newApp(t, "--metrics-listen", "127.0.0.1:0")
	if res, err := http.Get(srv.URL + "/metrics"); err != nil || res.StatusCode == 200 {
		t.Fatalf("/metrics still on the main listener with metrics_listen set: %v", err)
	}
}

// TestDisabledJourneys: a disabled built-in journey cannot be started by any door, and
// the default and step-up journeys cannot be disabled.
func TestDisabledJourneys(t *testing.T) {
	_, srv := newApp(t, "--disabled-journeys", "login", "--default-journey", "push-mfa")
	r := post(t, srv.URL+loginURL, nil)
	if r.status != 400 || !strings.Contains(string(r.raw), "disabled") {
		t.Fatalf("start of a disabled journey: %d %s", r.status, r.raw)
	}
	if r := post(t, srv.URL+"/json/realms/root/authenticate", nil); r.status != 200 || r.body["authId"] == nil {
		t.Fatalf("the default journey: %d %s", r.status, r.raw)
	}
	if _, err := config.Load([]string{"--disabled-journeys", "push-mfa"}, func(string) string { return "" }); err == nil {
		t.Fatal("the step-up journey could be disabled")
	}
}
