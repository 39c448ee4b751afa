package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/arbor-auth/arbor/admin"
	"github.com/arbor-auth/arbor/devices"
	"github.com/arbor-auth/arbor/identity"
	"github.com/arbor-auth/arbor/internal/app"
	"github.com/arbor-auth/arbor/internal/app/apptest"
	"github.com/arbor-auth/arbor/internal/journeytest"
	"github.com/arbor-auth/arbor/internal/testredis"
	"github.com/arbor-auth/arbor/journeys"
)

// adminServer is a whole Arbor on a real redis-server, with an API token that may do
// everything; the admin commands find both in ARBOR_URL and ARBOR_TOKEN.
func adminServer(t *testing.T) *apptest.Server {
	t.Helper()
	s := apptest.Start(t, apptest.Options{Args: []string{"--redis", testredis.Start(t).URL()}})
	t.Setenv(envURL, s.URL)
	t.Setenv(envToken, newToken(t, s, admin.ScopeJourneysWrite, admin.ScopeUsersWrite))
	return s
}

func newToken(t *testing.T, s *apptest.Server, scopes ...admin.Scope) string {
	t.Helper()
	tok, _, err := admin.NewTokens(s.Store, nil).Create(context.Background(), admin.NewToken{Name: "cli-test", Scopes: scopes, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// must runs an admin command that must succeed and returns its stdout.
func must(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	code, out, errs := run(t, stdin, args...)
	if code != 0 {
		t.Fatalf("arbor %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

// refused runs a command that the server must refuse (exit 1) and returns its stderr.
func refused(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	code, out, errs := run(t, stdin, args...)
	if code != 1 {
		t.Fatalf("arbor %s: exit %d, want 1 (refused)\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errs)
	}
	return errs
}

// restLogin signs in through the login journey over the AM REST door and returns the
// session token, or "" if the journey failed.
func restLogin(t *testing.T, base, user, password string) string {
	t.Helper()
	u := base + "/json/realms/root/authenticate?authIndexType=service&authIndexValue=login"
	post := func(body []byte) map[string]any {
		req, _ := http.NewRequest(http.MethodPost, u, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var m map[string]any
		if err := json.NewDecoder(res.Body).Decode(&m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	step := post(nil)
	cbs, _ := step["callbacks"].([]any)
	if len(cbs) != 2 {
		t.Fatalf("login step: %v", step)
	}
	for i, v := range []string{user, password} {
		cbs[i].(map[string]any)["input"].([]any)[0].(map[string]any)["value"] = v
	}
	body, _ := json.Marshal(step)
	done := post(body)
	tok, _ := done["tokenId"].(string)
	return tok
}

// sessionValid asks the REST door whether a session token is still valid.
func sessionValid(t *testing.T, base, tok string) bool {
	t.Helper()
	res, err := http.Post(base+"/json/realms/root/sessions?_action=validate", "application/json", strings.NewReader(`{"tokenId":"`+tok+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var v map[string]any
	_ = json.NewDecoder(res.Body).Decode(&v)
	return v["valid"] == true
}

// TestUsersCLI drives arbor users against a real server on Redis: add, list, disable
// (a session of that user stops validating), enable, unlock, passwd, sessions --end.
func TestUsersCLI(t *testing.T) {
	s := adminServer(t)
	ctx := context.Background()

	out := must(t, "first-Pass-1\n", "users", "add", "bob", "--attr", "mail=bob@example.com", "--attr", `roles=["ops"]`)
	if !strings.Contains(out, "created user bob in realm / (active)") {
		t.Errorf("add: %s", out)
	}
	if errs := refused(t, "x\n", "users", "add", "BOB"); !strings.Contains(errs, "already has a user") {
		t.Errorf("add twice: %s", errs)
	}
	out = must(t, "", "users", "list")
	if !regexp.MustCompile(`(?m)^bob\s+active\s+false\s+\d{4}-`).MatchString(out) || !strings.HasPrefix(out, "USERNAME") {
		t.Errorf("list:\n%s", out)
	}
	out = must(t, "", "users", "get", "bob")
	for _, want := range []string{"status:", "active", "attribute mail:", "bob@example.com", `attribute roles:`, `["ops"]`, "has password:"} {
		if !strings.Contains(out, want) {
			t.Errorf("get lacks %q:\n%s", want, out)
		}
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(must(t, "", "users", "get", "bob", "--json")), &got); err != nil || got["username"] != "bob" || got["realm"] != "/" {
		t.Errorf("get --json: %v %v", err, got)
	}

	// The password piped to add signs in; disable ends that session at once.
	tok := restLogin(t, s.URL, "bob", "first-Pass-1")
	if tok == "" || !sessionValid(t, s.URL, tok) {
		t.Fatal("bob cannot sign in with the password given to users add")
	}
	out = must(t, "", "users", "sessions", "bob")
	if !strings.Contains(out, "HANDLE") || !strings.Contains(out, "pwd") || !strings.Contains(out, "login") || strings.Contains(out, tok) {
		t.Errorf("sessions (never the token):\n%s", out)
	}
	if out := must(t, "", "users", "disable", "bob"); !strings.Contains(out, "disabled bob (status disabled") {
		t.Errorf("disable: %s", out)
	}
	if sessionValid(t, s.URL, tok) {
		t.Error("bob's session is still valid after users disable")
	}
	if restLogin(t, s.URL, "bob", "first-Pass-1") != "" {
		t.Error("a disabled bob signs in")
	}
	must(t, "", "users", "enable", "bob")
	if restLogin(t, s.URL, "bob", "first-Pass-1") == "" {
		t.Error("bob cannot sign in after users enable")
	}

	// Unlock clears a lock.
	if err := s.Users.SetStatus(ctx, "/", "bob", identity.StatusLocked); err != nil {
		t.Fatal(err)
	}
	if restLogin(t, s.URL, "bob", "first-Pass-1") != "" {
		t.Fatal("a locked bob signs in")
	}
	if out := must(t, "", "users", "unlock", "bob"); !strings.Contains(out, "unlocked bob (status active, locked false)") {
		t.Errorf("unlock: %s", out)
	}

	// passwd: the old password stops working, the new one works, sessions end.
	tok = restLogin(t, s.URL, "bob", "first-Pass-1")
	if tok == "" {
		t.Fatal("bob cannot sign in after users unlock")
	}
	must(t, "second-Pass-2\n", "users", "passwd", "bob")
	if sessionValid(t, s.URL, tok) {
		t.Error("a session outlived users passwd")
	}
	if restLogin(t, s.URL, "bob", "first-Pass-1") != "" || restLogin(t, s.URL, "bob", "second-Pass-2") == "" {
		t.Error("after passwd the old password must fail and the new one work")
	}
	if errs := run2(t, "\n", 2, "users", "passwd", "bob"); !strings.Contains(errs, "password is empty") {
		t.Errorf("empty password: %s", errs)
	}
	// --must-change flags the account for a journey's password_change node.
	if out := must(t, "second-Pass-2\n", "users", "passwd", "bob", "--must-change"); !strings.Contains(out, "must choose a new password") {
		t.Errorf("passwd --must-change: %s", out)
	}
	if u, err := s.Users.Get(ctx, "/", "bob"); err != nil || !u.MustChangePassword {
		t.Errorf("passwd --must-change did not flag the account: %v", err)
	}
	if restLogin(t, s.URL, "bob", "second-Pass-2") == "" { // the session passwd ended, again
		t.Fatal("bob cannot sign in after passwd --must-change")
	}

	// sessions --end HANDLE ends one, --end all.
	t1, t2 := restLogin(t, s.URL, "bob", "second-Pass-2"), restLogin(t, s.URL, "bob", "second-Pass-2")
	ss, err := s.Sessions.List(ctx, "/", "bob")
	if err != nil || len(ss) < 3 {
		t.Fatalf("sessions: %v %d", err, len(ss))
	}
	h := ss[0].Handle
	if out := must(t, "", "users", "sessions", "bob", "--end", h); !strings.Contains(out, "ended session "+h+" of bob") {
		t.Errorf("end one: %s", out)
	}
	if left, _ := s.Sessions.List(ctx, "/", "bob"); len(left) != len(ss)-1 {
		t.Errorf("%d sessions left after ending one of %d", len(left), len(ss))
	}
	if errs := refused(t, "", "users", "sessions", "bob", "--end", h); !strings.Contains(errs, "arbor users sessions:") {
		t.Errorf("end it again: %s", errs)
	}
	must(t, "", "users", "sessions", "bob", "--end")
	if sessionValid(t, s.URL, t1) || sessionValid(t, s.URL, t2) {
		t.Error("a session outlived sessions --end")
	}
	if out := must(t, "", "users", "devices", "bob"); strings.TrimSpace(out) != "ID  KIND  NAME  CREATED  LAST USED  PIN" {
		t.Errorf("devices of a user without any:\n%q", out)
	}
	if errs := refused(t, "", "users", "get", "nobody"); !strings.Contains(errs, "nobody") {
		t.Errorf("unknown user: %s", errs)
	}
}

// TestDevicePINCLI: arbor users devices pin reads the PIN from stdin (never argv), the
// server keeps it hashed and the token_pin node's MatchPIN finds it; a PIN outside the
// policy and another user's device are refused; --clear removes it.
func TestDevicePINCLI(t *testing.T) {
	s := adminServer(t)
	ctx := context.Background()
	for _, u := range []string{"bob", "eve"} {
		if err := s.Users.Put(ctx, &identity.User{Realm: "/", Username: u, Status: identity.StatusActive}); err != nil {
			t.Fatal(err)
		}
		if err := s.Devices.Add(ctx, "/", u, devices.Device{ID: u + "-phone", Communication: devices.CommPoll}, make([]byte, devices.SecretLen)); err != nil {
			t.Fatal(err)
		}
	}
	if out := must(t, "4711-bob\n", "users", "devices", "pin", "bob", "bob-phone"); !strings.Contains(out, "set the PIN of device bob-phone of bob") {
		t.Errorf("pin: %s", out)
	}
	if ids, err := s.Devices.MatchPIN(ctx, "/", "bob", "4711-bob"); err != nil || len(ids) != 1 {
		t.Fatalf("the PIN piped in does not match: %v %v", ids, err)
	}
	if out := must(t, "", "users", "devices", "bob"); !regexp.MustCompile(`(?m)^bob-phone\s+push\s.*\sset$`).MatchString(out) {
		t.Errorf("devices with a PIN:\n%s", out)
	}
	if errs := refused(t, "123\n", "users", "devices", "pin", "bob", "bob-phone"); !strings.Contains(errs, "4 to 64 characters") {
		t.Errorf("short PIN: %s", errs)
	}
	if errs := refused(t, "4711-eve\n", "users", "devices", "pin", "bob", "eve-phone"); !strings.Contains(errs, "has no device") {
		t.Errorf("another user's device: %s", errs)
	}
	if errs := run2(t, "\n", 2, "users", "devices", "pin", "bob", "bob-phone"); !strings.Contains(errs, "PIN is empty") {
		t.Errorf("empty PIN: %s", errs)
	}
	must(t, "", "users", "devices", "pin", "bob", "bob-phone", "--clear")
	if ids, _ := s.Devices.MatchPIN(ctx, "/", "bob", "4711-bob"); len(ids) != 0 {
		t.Errorf("a cleared PIN matches: %v", ids)
	}
}

// run2 runs a command that must exit with code and returns its stderr.
func run2(t *testing.T, stdin string, code int, args ...string) string {
	t.Helper()
	c, out, errs := run(t, stdin, args...)
	if c != code {
		t.Fatalf("arbor %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), c, code, out, errs)
	}
	return errs
}

// TestJourneysCLI drives arbor journeys against a real server on Redis: put, list,
// get --version 1, diff, rollback, disable and enable, delete, validate on the server.
func TestJourneysCLI(t *testing.T) {
	s := adminServer(t)
	dir := t.TempDir()
	builtin, err := journeys.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	v1 := bytes.Replace(builtin["login"], []byte(`"name": "login"`), []byte(`"name": "cli-login"`), 1)
	if bytes.Equal(v1, builtin["login"]) {
		t.Fatal("could not rename the login journey")
	}
	file := filepath.Join(dir, "cli-login.json")
	write := func(doc []byte) {
		if err := os.WriteFile(file, doc, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(v1)
	if out := must(t, "", "journeys", "put", file); out != "saved journey cli-login version 1\n" {
		t.Errorf("put: %q", out)
	}
	out := must(t, "", "journeys", "list")
	if !regexp.MustCompile(`(?m)^cli-login\s+1\s+true\s+\d{4}-\S+ \S+\s+token:\w+\s+api`).MatchString(out) || !regexp.MustCompile(`(?m)^login\s+1\s+true`).MatchString(out) {
		t.Errorf("list:\n%s", out)
	}
	var list []map[string]any
	if err := json.Unmarshal([]byte(must(t, "", "journeys", "list", "--json")), &list); err != nil || len(list) < 2 {
		t.Errorf("list --json: %v %v", err, list)
	}

	// A second version, then get version 1 back as it was.
	var m map[string]any
	_ = json.Unmarshal(v1, &m)
	m["description"] = "Changed by the CLI test."
	v2, _ := json.MarshalIndent(m, "", "  ")
	write(v2)
	if out := must(t, "", "journeys", "put", file, "--if-version", "1"); out != "saved journey cli-login version 2\n" {
		t.Errorf("put v2: %q", out)
	}
	code, got, errs := run(t, "", "journeys", "get", "cli-login", "--version", "1")
	if code != 0 || journeys.Pretty([]byte(got)) != journeys.Pretty(v1) || !strings.Contains(errs, "journey cli-login version 1") {
		t.Errorf("get --version 1: exit %d\n%s\nstderr: %s", code, got, errs)
	}

	out = must(t, "", "journeys", "diff", "cli-login", "1", "2")
	if !strings.Contains(out, `+  "description": "Changed by the CLI test.",`) || !strings.Contains(out, `-  "description": "Username and password`) ||
		!strings.Contains(out, "--- cli-login@v1") {
		t.Errorf("diff:\n%s", out)
	}

	// A stale --if-version is refused and changes nothing.
	m["description"] = "Lost update."
	stale, _ := json.Marshal(m)
	write(stale)
	errs = refused(t, "", "journeys", "put", file, "--if-version", "1")
	if !strings.Contains(errs, "arbor journeys put: ") || !strings.Contains(errs, "is at version 2 now") || !strings.Contains(errs, "nothing was saved") {
		t.Errorf("stale put: %s", errs)
	}

	if out := must(t, "", "journeys", "rollback", "cli-login", "1"); out != "journey cli-login: version 3, a copy of version 1, is now current\n" {
		t.Errorf("rollback: %q", out)
	}
	if _, head, _ := run(t, "", "journeys", "get", "cli-login"); journeys.Pretty([]byte(head)) != journeys.Pretty(v1) {
		t.Errorf("after rollback the head is not version 1:\n%s", head)
	}
	if errs := refused(t, "", "journeys", "rollback", "cli-login", "2", "--if-version", "2"); !strings.Contains(errs, "nothing was saved") {
		t.Errorf("stale rollback: %s", errs)
	}

	// Disable: new flows of the journey are refused; enable: they start again.
	startStatus := func() int {
		res, err := http.Post(s.URL+"/json/realms/root/authenticate?authIndexType=service&authIndexValue=cli-login", "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if out := must(t, "", "journeys", "disable", "cli-login"); out != "journey cli-login: enabled false\n" {
		t.Errorf("disable: %q", out)
	}
	if st := startStatus(); st == http.StatusOK {
		t.Error("a disabled journey starts")
	}
	must(t, "", "journeys", "enable", "cli-login")
	if st := startStatus(); st != http.StatusOK {
		t.Errorf("an enabled journey answers %d", st)
	}

	// Invalid documents: every problem with its pointer, nothing saved.
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"name":"cli-bad","start":"a","nodes":{"a":{"type":"teleport","outcomes":{"outcome":"nowhere"}}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	errs = refused(t, "", "journeys", "put", bad)
	if !strings.Contains(errs, "/nodes/a/type: unknown_type") {
		t.Errorf("invalid put lacks the pointer:\n%s", errs)
	}
	if errs := refused(t, "", "journeys", "get", "cli-bad"); !strings.Contains(errs, "cli-bad") {
		t.Errorf("the invalid journey was saved? %s", errs)
	}
	// validate on the server (chosen by ARBOR_TOKEN): the same problems, and ok.
	code, out, errs = run(t, "", "journeys", "validate", bad, file)
	if code != 1 || !strings.Contains(out, bad+": 2 problem(s)\n  /nodes/a/outcomes/outcome: dangling_target") ||
		!strings.Contains(out, "/nodes/a/type: unknown_type") || !strings.Contains(out, file+": ok") {
		t.Errorf("validate on the server: exit %d\nstdout: %s\nstderr: %s", code, out, errs)
	}

	if out := must(t, "", "journeys", "delete", "cli-login"); out != "deleted journey cli-login\n" {
		t.Errorf("delete: %q", out)
	}
	if errs := refused(t, "", "journeys", "get", "cli-login"); !strings.Contains(errs, "cli-login") {
		t.Errorf("get after delete: %s", errs)
	}
}

// TestAdminCLIRefusals: a bad token and a token without the scope are refused with the
// API's message and what to do, exit 1.
func TestAdminCLIRefusals(t *testing.T) {
	s := adminServer(t)
	errs := refused(t, "", "journeys", "list", "--token", "arbor_0000_nope")
	if !strings.Contains(errs, "arbor journeys list: The API token is invalid") || !strings.Contains(errs, "--token or ARBOR_TOKEN") {
		t.Errorf("bad token: %s", errs)
	}
	t.Setenv(envToken, "")
	if errs := refused(t, "", "users", "list"); !strings.Contains(errs, "--token or ARBOR_TOKEN") {
		t.Errorf("no token: %s", errs)
	}
	reader := newToken(t, s, admin.ScopeJourneysRead)
	must(t, "", "journeys", "list", "--token", reader)
	if errs := refused(t, "", "journeys", "disable", "login", "--token", reader); !strings.Contains(errs, "lacks the scope") {
		t.Errorf("read-only token disabling: %s", errs)
	}
	if errs := refused(t, "", "users", "list", "--token", reader); !strings.Contains(errs, "lacks the scope") {
		t.Errorf("journeys token listing users: %s", errs)
	}
}

// TestAdminCLIJSON: --json prints the API's answers as JSON, a refusal's error body too.
func TestAdminCLIJSON(t *testing.T) {
	adminServer(t)
	code, out, errs := run(t, "", "journeys", "get", "nope", "--json")
	var e map[string]any
	if code != 1 || json.Unmarshal([]byte(out), &e) != nil || e["code"] != "journey.not_found" || !strings.Contains(errs, "nope") {
		t.Errorf("refused get --json: exit %d\nstdout: %s\nstderr: %s", code, out, errs)
	}
	var j map[string]any
	if err := json.Unmarshal([]byte(must(t, "", "journeys", "get", "login", "--json")), &j); err != nil || j["name"] != "login" || j["doc"] == nil {
		t.Errorf("get --json: %v %v", err, j)
	}
	// put of a new journey reads the current version first; only the save's answer
	// is printed.
	file := filepath.Join(t.TempDir(), "j.json")
	if err := os.WriteFile(file, []byte(`{"name":"json-one","start":"m","nodes":{"m":{"type":"message","config":{"message":{"en":"Hi"}},"outcomes":{"true":"success","false":"failure"}}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	var saved map[string]any
	if out := must(t, "", "journeys", "put", file, "--json"); json.Unmarshal([]byte(out), &saved) != nil || saved["version"] != float64(1) {
		t.Errorf("put --json printed %q", out)
	}
}

// TestValidateWithCasesCLI: validate --cases DIR runs the case files of the document's
// journey on the server (the shipped login cases pass against login; a twin that sends
// a right password to failure fails them), and saves nothing.
func TestValidateWithCasesCLI(t *testing.T) {
	s := apptest.Start(t, apptest.Options{AppOptions: []app.Option{app.WithCaseRunner(journeytest.AdminRunner(journeytest.Options{}))}})
	t.Setenv(envURL, s.URL)
	t.Setenv(envToken, newToken(t, s, admin.ScopeJourneysRead))
	builtin, err := journeys.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	good, broken := filepath.Join(dir, "login.json"), filepath.Join(dir, "broken", "login.json")
	if err := os.MkdirAll(filepath.Dir(broken), 0o700); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(good, builtin["login"], 0o600)
	os.WriteFile(broken, bytes.Replace(builtin["login"], []byte(`"true": "success"`), []byte(`"true": "failure"`), 1), 0o600)
	cases := "../../journeys/builtin/tests"

	out := must(t, "", "journeys", "validate", "--server", s.URL, good, "--cases", cases)
	if !strings.Contains(out, good+": ok; cases of "+cases+"/login.yaml:") || !strings.Contains(out, "--- PASS: request/right password") || strings.Contains(out, "FAIL") {
		t.Errorf("good login:\n%s", out)
	}
	code, out, errs := run(t, "", "journeys", "validate", broken, "--cases", cases)
	if code != 1 || !strings.Contains(out, "--- FAIL: request/right password") || !strings.Contains(out, "want success") {
		t.Errorf("broken login: exit %d\nstdout: %s\nstderr: %s", code, out, errs)
	}
	if v, _ := s.Journeys.HeadVersion(context.Background(), "login"); v != 1 {
		t.Errorf("validate saved something: login is at version %d", v)
	}
	hello := filepath.Join(dir, "hello.json")
	os.WriteFile(hello, []byte(`{"name":"hello","start":"m","nodes":{"m":{"type":"message","config":{"message":{"en":"Hi"}},"outcomes":{"true":"success","false":"failure"}}}}`), 0o600)
	if code, _, errs := run(t, "", "journeys", "validate", hello, "--cases", cases); code != 2 || !strings.Contains(errs, `no case file in ../../journeys/builtin/tests is for journey "hello"`) {
		t.Errorf("no cases for the journey: exit %d: %s", code, errs)
	}
}
