package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/arbor-auth/arbor/internal/app"
	"github.com/arbor-auth/arbor/internal/app/apptest"
)

var update = flag.Bool("update", false, "rewrite golden transcripts")

// newApp builds the whole server (apptest) with alice in / and bob in /alpha.
func newApp(t *testing.T, extra ...string) (*app.App, *httptest.Server) {
	t.Helper()
	s := apptest.Start(t, apptest.Options{Args: append([]string{"--realms", "alpha",
		"--cors-origins", "https://app.example", "--allowed-redirects", "https://app.example/"}, extra...)})
	apptest.AddUser(t, s.App, "/", "alice", "correct horse", nil)
	apptest.AddUser(t, s.App, "/alpha", "bob", "battery staple", nil)
	return s.App, s.HTTP
}

type resp struct {
	status int
	header http.Header
	body   map[string]any
	raw    []byte
}

func post(t *testing.T, url string, body any, hdr ...string) resp {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(http.MethodPost, url, rd)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept-API-Version", "protocol=1.0,resource=2.1")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	raw, _ := io.ReadAll(r.Body)
	out := resp{status: r.StatusCode, header: r.Header, raw: raw}
	_ = json.Unmarshal(raw, &out.body)
	return out
}

// fill sets the input of callbacks by type, as a client would.
func fill(step map[string]any, values map[string]any) map[string]any {
	for _, cb := range step["callbacks"].([]any) {
		m := cb.(map[string]any)
		if v, ok := values[m["type"].(string)]; ok {
			m["input"].([]any)[0].(map[string]any)["value"] = v
		}
	}
	return step
}

const loginURL = "/json/realms/root/authenticate?authIndexType=service&authIndexValue=login"

var volatile = regexp.MustCompile(`"(authId|tokenId)":"[^"]+"`)

// golden compares a transcript of responses with testdata/golden/name.json.
func golden(t *testing.T, name string, transcript []resp) {
	t.Helper()
	var b bytes.Buffer
	for i, r := range transcript {
		var pretty bytes.Buffer
		json.Indent(&pretty, r.raw, "", "  ")
		body := volatile.ReplaceAllString(pretty.String(), `"$1":"<$1>"`)
		body = regexp.MustCompile(`"(authId|tokenId)": "[^"]+"`).ReplaceAllString(body, `"$1": "<$1>"`)
		b.WriteString("--- response " + string(rune('1'+i)) + ": HTTP " + http.StatusText(r.status) + "\n" + body + "\n")
	}
	path := filepath.Join("testdata", "golden", name+".txt")
	if *update {
		os.WriteFile(path, b.Bytes(), 0o644)
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./api -update to create it)", err)
	}
	if string(want) != b.String() {
		t.Errorf("transcript %s differs from golden file:\n--- got\n%s\n--- want\n%s", name, b.String(), want)
	}
}

func TestLoginTranscripts(t *testing.T) {
	for _, tc := range []struct {
		name, user, pw string
		status         int
	}{
		{"login_success", "alice", "correct horse", 200},
		{"login_wrong_password", "alice", "wrong", 401},
		{"login_unknown_user", "nobody", "correct horse", 401},
		{"login_case_insensitive_user", "ALICE", "correct horse", 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, srv := newApp(t)
			r1 := post(t, srv.URL+loginURL, nil)
			if r1.status != 200 || r1.body["authId"] == nil {
				t.Fatalf("start: %d %s", r1.status, r1.raw)
			}
			if cc := r1.header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
				t.Errorf("Cache-Control %q", cc)
			}
			step := fill(r1.body, map[string]any{"NameCallback": tc.user, "PasswordCallback": tc.pw})
			step["status"], step["ok"] = 200, true // the SDK echoes these; they must be ignored
			r2 := post(t, srv.URL+loginURL, step)
			if r2.status != tc.status {
				t.Fatalf("finish: %d %s", r2.status, r2.raw)
			}
			golden(t, tc.name, []resp{r1, r2})
			if tc.status == 200 {
				tok := r2.body["tokenId"].(string)
				var cookie *http.Cookie
				for _, c := range (&http.Response{Header: r2.header}).Cookies() {
					if c.Name == "iPlanetDirectoryPro" {
						cookie = c
					}
				}
				if cookie == nil || cookie.Value != tok || !cookie.HttpOnly {
					t.Fatalf("session cookie: %+v", cookie)
				}
				v := post(t, srv.URL+"/json/realms/root/sessions/?_action=validate", map[string]any{"tokenId": tok})
				if v.body["valid"] != true || v.body["uid"] != "alice" { // canonical spelling, even when typed ALICE
					t.Fatalf("validate: %s", v.raw)
				}
			}
			_ = a
		})
	}
}

func TestNewTokenEveryLogin(t *testing.T) {
	_, srv := newApp(t)
	tokens := map[string]bool{}
	for i := 0; i < 3; i++ {
		r1 := post(t, srv.URL+loginURL, nil)
		r2 := post(t, srv.URL+loginURL, fill(r1.body, map[string]any{"NameCallback": "alice", "PasswordCallback": "correct horse"}))
		tokens[r2.body["tokenId"].(string)] = true
	}
	if len(tokens) != 3 {
		t.Fatalf("%d distinct tokens for 3 logins", len(tokens))
	}
}

func TestNoSession(t *testing.T) {
	_, srv := newApp(t)
	u := srv.URL + loginURL + "&noSession=true"
	r1 := post(t, u, nil)
	r2 := post(t, u, fill(r1.body, map[string]any{"NameCallback": "alice", "PasswordCallback": "correct horse"}))
	if r2.status != 200 || r2.body["tokenId"] != nil || r2.body["successUrl"] == nil || len(r2.header["Set-Cookie"]) != 0 {
		t.Fatalf("noSession: %d %s %v", r2.status, r2.raw, r2.header["Set-Cookie"])
	}
}

func TestRealmsAndGoto(t *testing.T) {
	_, srv := newApp(t)
	alpha := srv.URL + "/json/realms/root/realms/alpha/authenticate?authIndexType=service&authIndexValue=login"
	r1 := post(t, alpha, nil)
	// bob lives in /alpha, not in root.
	r2 := post(t, alpha+"&goto=https://app.example/home", fill(r1.body, map[string]any{"NameCallback": "bob", "PasswordCallback": "battery staple"}))
	if r2.status != 200 || r2.body["realm"] != "/alpha" || r2.body["successUrl"] != "https://app.example/home" {
		t.Fatalf("alpha login: %d %s", r2.status, r2.raw)
	}
	r1 = post(t, srv.URL+loginURL, nil)
	r2 = post(t, srv.URL+loginURL+"&goto=https://evil.example/", fill(r1.body, map[string]any{"NameCallback": "bob", "PasswordCallback": "battery staple"}))
	if r2.status != 401 {
		t.Fatalf("bob in root realm: %d", r2.status)
	}
	r1 = post(t, srv.URL+loginURL, nil)
	r2 = post(t, srv.URL+loginURL+"&goto=https://evil.example/", fill(r1.body, map[string]any{"NameCallback": "alice", "PasswordCallback": "correct horse"}))
	if r2.body["successUrl"] != "/" {
		t.Fatalf("open redirect: %s", r2.raw)
	}
	// An authId from root cannot continue in alpha.
	r1 = post(t, srv.URL+loginURL, nil)
	r2 = post(t, alpha, fill(r1.body, map[string]any{"NameCallback": "alice", "PasswordCallback": "correct horse"}))
	if r2.status != 400 {
		t.Fatalf("cross-realm authId: %d %s", r2.status, r2.raw)
	}
}

func TestBadRequests(t *testing.T) {
	_, srv := newApp(t, "--max-body-bytes", "2048")
	r1 := post(t, srv.URL+loginURL, nil)
	good := r1.raw
	tampered := bytes.Replace(good, []byte(`"authId":"`), []byte(`"authId":"x`), 1)
	oneCallback := func() map[string]any {
		var m map[string]any
		json.Unmarshal(good, &m)
		m["callbacks"] = m["callbacks"].([]any)[:1]
		return m
	}()
	wrongType := func() map[string]any {
		var m map[string]any
		json.Unmarshal(good, &m)
		m["callbacks"].([]any)[0].(map[string]any)["type"] = "TextInputCallback"
		return m
	}()
	wrongName := bytes.Replace(good, []byte(`"IDToken2"`), []byte(`"IDToken9"`), 1)
	for _, tc := range []struct {
		name, url string
		body      any
		status    int
		message   string
	}{
		{"malformed JSON", loginURL, `{"authId":`, 400, "Malformed JSON"},
		{"tampered authId", loginURL, tampered, 400, "AuthId JWT Signature not valid"},
		{"missing authId", loginURL, `{"callbacks":[]}`, 400, "Missing authId"},
		{"wrong callback count", loginURL, oneCallback, 400, "Incorrect number of callbacks"},
		{"wrong callback type", loginURL, wrongType, 400, "Required callback not found"},
		{"wrong input name", loginURL, wrongName, 400, "must be named IDToken2"},
		{"unknown journey", "/json/realms/root/authenticate?authIndexType=service&authIndexValue=nope", nil, 400, "No configuration found"},
		{"unknown index type", "/json/realms/root/authenticate?authIndexType=module&authIndexValue=x", nil, 400, "Unknown Authentication Index Type"},
		{"unknown realm", "/json/realms/root/realms/zeta/authenticate", nil, 400, "Invalid realm"},
		{"malformed realm path", "/json/realms/authenticate", nil, 400, "realm"},
		{"bad realm characters", "/json/realms/root/realms/a$b/authenticate", nil, 400, "malformed realm path"},
		{"oversized body", loginURL, `{"authId":"` + strings.Repeat("a", 4096) + `"}`, 413, "larger than 2048"},
		{"unknown resource", "/json/realms/root/users", nil, 404, "not found"},
		{"sessions without action", "/json/realms/root/sessions", nil, 400, "Missing _action"},
		{"sessions unknown action", "/json/realms/root/sessions?_action=explode", nil, 400, "not supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := post(t, srv.URL+tc.url, tc.body)
			if r.status != tc.status || !strings.Contains(r.body["message"].(string), tc.message) {
				t.Fatalf("got %d %s, want %d with %q", r.status, r.raw, tc.status, tc.message)
			}
			if int(r.body["code"].(float64)) != tc.status || r.body["reason"] == "" {
				t.Fatalf("not an AM error body: %s", r.raw)
			}
		})
	}
	// After all that, the original step still works.
	r2 := post(t, srv.URL+loginURL, fill(r1.body, map[string]any{"NameCallback": "alice", "PasswordCallback": "correct horse"}))
	if r2.status != 200 {
		t.Fatalf("good step after bad ones: %d %s", r2.status, r2.raw)
	}
}

func TestExpiredAuthID(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "quick.json"), []byte(`{"name":"quick","timeout":"1s","start":"p","nodes":{
	  "p":{"type":"page","config":{"nodes":[{"type":"username"},{"type":"password"}]},"outcomes":{"outcome":"d"}},
	  "d":{"type":"data_store_decision","outcomes":{"true":"success","false":"failure"}}}}`), 0o644)
	// The app runs on a manual clock, so the journey's timeout passes without a wait.
	var now atomic.Int64
	now.Store(time.Now().UnixNano())
	s := apptest.Start(t, apptest.Options{Args: []string{"--journeys", dir}, Now: func() time.Time { return time.Unix(0, now.Load()) }})
	apptest.AddUser(t, s.App, "/", "alice", "correct horse", nil)
	u := s.URL + "/json/realms/root/authenticate?authIndexType=service&authIndexValue=quick"
	r1 := post(t, u, nil)
	now.Add(int64(1200 * time.Millisecond))
	r2 := post(t, u, fill(r1.body, map[string]any{"NameCallback": "alice", "PasswordCallback": "correct horse"}))
	detail, _ := r2.body["detail"].(map[string]any)
	if r2.status != 401 || r2.body["message"] != "Session has timed out" || detail["errorCode"] != "110" {
		t.Fatalf("expired: %d %s", r2.status, r2.raw)
	}
}

func TestSessions(t *testing.T) {
	_, srv := newApp(t)
	r1 := post(t, srv.URL+loginURL, nil)
	r2 := post(t, srv.URL+loginURL, fill(r1.body, map[string]any{"NameCallback": "alice", "PasswordCallback": "correct horse"}))
	tok := r2.body["tokenId"].(string)
	base := srv.URL + "/json/realms/root/sessions/?_action="
	info := post(t, base+"getSessionInfo", nil, "iPlanetDirectoryPro", tok)
	if info.status != 200 || info.body["username"] != "alice" || info.body["maxIdleExpirationTime"] == nil {
		t.Fatalf("getSessionInfo: %s", info.raw)
	}
	if r := post(t, base+"refresh", nil, "iPlanetDirectoryPro", tok); r.status != 200 {
		t.Fatalf("refresh: %s", r.raw)
	}
	// A logout by cookie alone, as a cross-site form could send it, is refused and
	// changes nothing.
	req, _ := http.NewRequest(http.MethodPost, base+"logout", strings.NewReader("x=1"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: "iPlanetDirectoryPro", Value: tok})
	lr, err := http.DefaultClient.Do(req)
	if err != nil || lr.StatusCode != http.StatusUnsupportedMediaType {
		t.Fatalf("form logout: %v %v", lr.StatusCode, err)
	}
	lr.Body.Close()
	if v := post(t, base+"validate", map[string]any{"tokenId": tok}); v.body["valid"] != true {
		t.Fatalf("validate after a refused logout: %s", v.raw)
	}
	// Logout as the SDK does it: cookie only, no body, no content type, X-Requested-With.
	req, _ = http.NewRequest(http.MethodPost, base+"logout", nil)
	req.Header.Set("X-Requested-With", "forgerock-sdk")
	req.AddCookie(&http.Cookie{Name: "iPlanetDirectoryPro", Value: tok})
	lr, err = http.DefaultClient.Do(req)
	if err != nil || lr.StatusCode != 200 {
		t.Fatalf("logout: %v %v", lr.StatusCode, err)
	}
	if v := post(t, base+"validate", map[string]any{"tokenId": tok}); v.body["valid"] != false {
		t.Fatalf("validate after logout: %s", v.raw)
	}
	if r := post(t, base+"logout", nil, "iPlanetDirectoryPro", tok); r.status != 401 {
		t.Fatalf("second logout: %d", r.status)
	}
	// A session cookie on a new start returns the existing session unless ForceAuth.
	r1 = post(t, srv.URL+loginURL, nil)
	r2 = post(t, srv.URL+loginURL, fill(r1.body, map[string]any{"NameCallback": "alice", "PasswordCallback": "correct horse"}))
	tok = r2.body["tokenId"].(string)
	if r := post(t, srv.URL+loginURL, nil, "Cookie", "iPlanetDirectoryPro="+tok); r.body["tokenId"] != tok {
		t.Fatalf("existing session: %s", r.raw)
	}
	if r := post(t, srv.URL+loginURL+"&ForceAuth=true", nil, "Cookie", "iPlanetDirectoryPro="+tok); r.body["authId"] == nil {
		t.Fatalf("ForceAuth: %s", r.raw)
	}
}

func TestCORS(t *testing.T) {
	_, srv := newApp(t)
	req, _ := http.NewRequest(http.MethodOptions, srv.URL+loginURL, nil)
	req.Header.Set("Origin", "https://app.example")
	req.Header.Set("Access-Control-Request-Method", "POST")
	r, _ := http.DefaultClient.Do(req)
	if r.StatusCode != 204 || r.Header.Get("Access-Control-Allow-Origin") != "https://app.example" ||
		r.Header.Get("Access-Control-Allow-Credentials") != "true" || !strings.Contains(r.Header.Get("Access-Control-Allow-Headers"), "Accept-API-Version") {
		t.Fatalf("preflight: %d %v", r.StatusCode, r.Header)
	}
	req.Header.Set("Origin", "https://evil.example")
	r, _ = http.DefaultClient.Do(req)
	if r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatal("CORS allowed an unknown origin")
	}
}

func TestHealthAndMetrics(t *testing.T) {
	a, srv := newApp(t)
	for _, p := range []string{"/health/live", "/health/ready"} {
		r, _ := http.Get(srv.URL + p)
		if r.StatusCode != 200 {
			t.Fatalf("%s: %d", p, r.StatusCode)
		}
	}
	r1 := post(t, srv.URL+loginURL, nil)
	post(t, srv.URL+loginURL, fill(r1.body, map[string]any{"NameCallback": "alice", "PasswordCallback": "correct horse"}))
	r, _ := http.Get(srv.URL + "/metrics")
	b, _ := io.ReadAll(r.Body)
	for _, m := range []string{`arbor_steps_total{journey="login",result="success"} 1`, `arbor_node_outcomes_total{journey="login",node_type="data_store_decision",outcome="true"} 1`, "arbor_step_duration_seconds_bucket", "arbor_http_requests_total"} {
		if !bytes.Contains(b, []byte(m)) {
			t.Errorf("metrics lack %s", m)
		}
	}
	// Once the store is gone, readiness says so and steps answer 503.
	a.Store.Close()
	r, _ = http.Get(srv.URL + "/health/ready")
	if r.StatusCode != 503 {
		t.Fatalf("ready with closed store: %d", r.StatusCode)
	}
	// A start touches no store (its journey's head is cached, its first step travels
	// sealed in the authId); the answer to it does, and is refused.
	r2 := post(t, srv.URL+loginURL, nil)
	if r2.status != 200 {
		t.Fatalf("start with closed store: %d %s", r2.status, r2.raw)
	}
	if r := post(t, srv.URL+loginURL, fill(r2.body, map[string]any{"NameCallback": "alice", "PasswordCallback": "correct horse"})); r.status != 503 || !strings.Contains(r.body["message"].(string), "store") {
		t.Fatalf("continue with closed store: %d %s", r.status, r.raw)
	}
}

func TestPasswordNeverLogged(t *testing.T) {
	var logs bytes.Buffer
	srv := apptest.Start(t, apptest.Options{Args: []string{"--demo", "--log-level", "debug"},
		Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	for _, pw := range []string{app.DemoPassword, "Sup3r-Secret-Typo"} {
		r1 := post(t, srv.URL+loginURL, nil)
		post(t, srv.URL+loginURL, fill(r1.body, map[string]any{"NameCallback": "demo", "PasswordCallback": pw}))
	}
	if !bytes.Contains(logs.Bytes(), []byte(`"flow_id"`)) {
		t.Fatalf("the logins logged nothing, so this test would prove nothing:\n%s", logs.String())
	}
	if bytes.Contains(logs.Bytes(), []byte(app.DemoPassword)) || bytes.Contains(logs.Bytes(), []byte("Sup3r-Secret-Typo")) {
		t.Fatal("a password reached the logs")
	}
	if !bytes.Contains(logs.Bytes(), []byte(`"event":"login.success"`)) || !bytes.Contains(logs.Bytes(), []byte(`"event":"login.failure"`)) {
		t.Fatalf("audit events missing from logs")
	}
}

// TestRetryCountClearedOnSuccess: retry_limit with save_on_user keeps failed attempts on
// the user, and a successful login clears them (AM's onTreeComplete).
func TestRetryCountClearedOnSuccess(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "retry.json"), []byte(`{"name":"retry","start":"p","nodes":{
	  "p":{"type":"page","config":{"nodes":[{"type":"username"},{"type":"password"}]},"outcomes":{"outcome":"d"}},
	  "d":{"type":"data_store_decision","outcomes":{"true":"success","false":"r"}},
	  "r":{"type":"retry_limit","config":{"retry_limit":3,"save_on_user":true},"outcomes":{"retry":"p","reject":"failure"}}}}`), 0o644)
	a, srv := newApp(t, "--journeys", dir)
	u := srv.URL + "/json/realms/root/authenticate?authIndexType=service&authIndexValue=retry"
	step := post(t, u, nil)
	for i := 0; i < 2; i++ {
		step = post(t, u, fill(step.body, map[string]any{"NameCallback": "alice", "PasswordCallback": "wrong"}))
		if step.status != 200 || step.body["authId"] == nil {
			t.Fatalf("retry %d: %d %s", i, step.status, step.raw)
		}
	}
	user, _ := a.Users.Get(context.Background(), "/", "alice")
	if n, _ := user.Attributes["retry_limit_count.retry.r"].(float64); n != 2 {
		t.Fatalf("saved count %v, want 2 (%v)", user.Attributes["retry_limit_count.retry.r"], user.Attributes)
	}
	done := post(t, u, fill(step.body, map[string]any{"NameCallback": "alice", "PasswordCallback": "correct horse"}))
	if done.status != 200 || done.body["tokenId"] == nil {
		t.Fatalf("login: %d %s", done.status, done.raw)
	}
	user, _ = a.Users.Get(context.Background(), "/", "alice")
	if v, saved := user.Attributes["retry_limit_count.retry.r"]; saved {
		t.Fatalf("the saved count survived the success: %v", v)
	}
}
