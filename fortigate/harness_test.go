package fortigate_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/arbor-auth/arbor/authenticator"
	"github.com/arbor-auth/arbor/devices"
	"github.com/arbor-auth/arbor/identity"
	"github.com/arbor-auth/arbor/internal/app/apptest"
	"github.com/arbor-auth/arbor/oath"
)

var update = flag.Bool("update", false, "rewrite golden transcripts")

const (
	password = "correct horse battery"
	preText  = "PRE WARNING: authorised use only."
	postText = "POST WARNING: all activity is logged."
)

// start is 10 s into a TOTP step.
var start = time.Date(2026, 11, 30, 9, 0, 10, 0, time.UTC)

// env is a running Arbor with the FortiGate-style door on a real HTTP listener, user
// alice, and a transcript of every request and answer.
type env struct {
	t      testing.TB
	srv    *apptest.Server
	clock  *apptest.Clock
	phone  *authenticator.Authenticator
	otp    []byte
	script apptest.Transcript
	jar    map[string]string // cookies the client keeps
}

// newEnv starts Arbor with the door running journey (the shipped "fortigate", or
// "fortigate-banners": the shipped one with a pre- and a post-login disclaimer).
func newEnv(t testing.TB, journey string) *env {
	t.Helper()
	e := &env{t: t, clock: apptest.NewClock(start), jar: map[string]string{}}
	dir := t.TempDir()
	cfg := fmt.Sprintf("fortigate: {enabled: true, journey: %s, timeout: 5m}\n", journey)
	jdir := filepath.Join(dir, "journeys")
	if err := os.Mkdir(jdir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(jdir, "fortigate-banners.json"), bannersJourney(t), 0o600); err != nil {
		t.Fatal(err)
	}
	e.srv = apptest.Start(t, apptest.Options{Args: []string{"--journeys", jdir}, Config: cfg,
		Now: e.clock.Now, PublicURL: true, Dir: dir})
	apptest.AddUser(t, e.srv.App, "/", "alice", password, nil)
	e.phone = apptest.Phone(t, dir, e.clock.Now)
	return e
}

// bannersJourney is the shipped fortigate journey with a pre-login disclaimer before the
// password and a post-login disclaimer before the password change.
func bannersJourney(t testing.TB) []byte {
	t.Helper()
	raw, err := os.ReadFile("../journeys/builtin/fortigate.json")
	if err != nil {
		t.Fatal(err)
	}
	var j map[string]any
	if err := json.Unmarshal(raw, &j); err != nil {
		t.Fatal(err)
	}
	j["name"], j["start"] = "fortigate-banners", "pre"
	ns := j["nodes"].(map[string]any)
	ns["pre"] = map[string]any{"type": "disclaimer", "config": map[string]any{"text": map[string]any{"en": preText}},
		"outcomes": map[string]any{"accepted": "login", "declined": "failure"}}
	ns["post"] = map[string]any{"type": "disclaimer", "config": map[string]any{"position": "post", "text": map[string]any{"en": postText}},
		"outcomes": map[string]any{"accepted": "change", "declined": "failure"}}
	for _, id := range []string{"wait", "verifier", "otp"} {
		outs := ns[id].(map[string]any)["outcomes"].(map[string]any)
		for k, v := range outs {
			if v == "change" {
				outs[k] = "post"
			}
		}
	}
	b, err := json.Marshal(j)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// registerPush registers the reference authenticator as alice's push device and sets
// the clock running.
func (e *env) registerPush() {
	e.t.Helper()
	e.clock.Run()
	apptest.RegisterPhone(e.t, e.srv.App, e.phone, "/", "alice", authenticator.RegisterOptions{Name: "alice's phone"})
}

// registerOTP gives alice an authenticator app (TOTP, 6 digits, 30 s).
func (e *env) registerOTP() {
	e.t.Helper()
	e.otp = []byte("12345678901234567890")
	if _, err := e.srv.App.Devices.AddOATH(context.Background(), "/", "alice", devices.OATHDevice{Params: oath.DefaultParams}, e.otp); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) code() string {
	c, err := oath.Code(oath.DefaultParams, e.otp, e.clock.Now(), 0)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// mustChange flags alice's account: she must choose a new password.
func (e *env) mustChange() {
	e.t.Helper()
	if _, err := e.srv.App.Users.Update(context.Background(), "/", "alice", func(u *identity.User) error {
		u.MustChangePassword = true
		return nil
	}); err != nil {
		e.t.Fatal(err)
	}
}

// resp is an answer as the test reads it.
type resp struct {
	status int
	body   map[string]any
	raw    string
	header http.Header
}

func (r resp) str(name string) string {
	s, _ := r.body[name].(string)
	return s
}

func (r resp) code() int {
	f, _ := r.body["status_code"].(float64)
	return int(f)
}

// call sends one request and writes it and its answer to the transcript. body is sent
// as it is; hdr are extra headers ("Name: value"); cookies from the jar go along when
// withCookies.
func (e *env) call(method, path, body string, withCookies bool, hdr ...string) resp {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "json")
	}
	for _, h := range hdr {
		k, v, _ := strings.Cut(h, ": ")
		req.Header.Set(k, v)
	}
	var sent []string
	if withCookies {
		names := make([]string, 0, len(e.jar))
		for n := range e.jar {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			req.AddCookie(&http.Cookie{Name: n, Value: e.jar[n]})
			sent = append(sent, n)
		}
	}
	line := "→ " + method + " " + path
	for _, h := range hdr {
		k, v, _ := strings.Cut(h, ": ")
		line += fmt.Sprintf(" [%s: %s]", k, e.maskValue(v))
	}
	if len(sent) > 0 {
		line += " [cookies: " + strings.Join(sent, ", ") + "]"
	}
	if body != "" {
		line += " " + e.maskJSON(body)
	}
	e.script.Say("%s", line)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := resp{status: res.StatusCode, raw: string(raw), header: res.Header}
	if err := json.Unmarshal(raw, &r.body); err != nil {
		e.t.Fatalf("answer is not JSON: %d %q", res.StatusCode, raw)
	}
	e.script.Say("← %d %s", res.StatusCode, e.maskJSON(strings.TrimSpace(string(raw))))
	for _, ck := range res.Cookies() {
		attrs := []string{}
		if ck.HttpOnly {
			attrs = append(attrs, "HttpOnly")
		}
		if ck.MaxAge < 0 {
			attrs = append(attrs, "deleted")
			delete(e.jar, ck.Name)
		} else {
			e.jar[ck.Name] = ck.Value
		}
		v := ck.Value
		if v != "" {
			v = e.maskValue(v)
		}
		e.script.Say("%s", strings.TrimSpace(fmt.Sprintf("  Set-Cookie %s=%s %s", ck.Name, v, strings.Join(attrs, " "))))
	}
	return r
}

var (
	codeRE   = regexp.MustCompile(`^\d{6}$`)
	handleRE = regexp.MustCompile(`^[0-9a-f]{16}$`)
)

// maskValue masks keys, tokens and codes.
func (e *env) maskValue(v string) string {
	switch {
	case strings.HasPrefix(v, "Bearer "):
		return "Bearer " + e.maskValue(strings.TrimPrefix(v, "Bearer "))
	case strings.HasPrefix(v, "L."):
		return e.script.Mask("login-key", v)
	case codeRE.MatchString(v):
		return "<code>"
	case handleRE.MatchString(v):
		return e.script.Mask("handle", v)
	case len(v) == 43:
		return e.script.Mask("session", v)
	case len(v) == 32 && strings.ToUpper(v) == v:
		return e.script.Mask("csrf", v)
	}
	return v
}

// maskJSON masks the volatile values of a JSON body, keeping its field order.
func (e *env) maskJSON(s string) string {
	return jsonString.ReplaceAllStringFunc(s, func(m string) string {
		var v string
		if json.Unmarshal([]byte(m), &v) != nil {
			return m
		}
		mv := e.maskValue(v)
		if mv == v {
			return m
		}
		return `"` + mv + `"`
	})
}

var jsonString = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)

// golden compares the transcript with testdata/golden/name.txt.
func (e *env) golden(name string) {
	e.t.Helper()
	e.script.Golden(e.t, filepath.Join("testdata", "golden", name+".txt"), *update)
}

// login is POST /api/v2/authentication with body.
func (e *env) login(body string, hdr ...string) resp {
	e.t.Helper()
	return e.call(http.MethodPost, "/api/v2/authentication", body, false, hdr...)
}

func (e *env) want(r resp, status, code int) {
	e.t.Helper()
	if r.status != status || (code != 0 && r.code() != code) {
		e.t.Fatalf("answer %d %s, want HTTP %d status_code %d", r.status, r.raw, status, code)
	}
}
