package linotp_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/authenticator"
	"github.com/arbor-auth/arbor/devices"
	"github.com/arbor-auth/arbor/internal/app/apptest"
	"github.com/arbor-auth/arbor/internal/testredis"
	"github.com/arbor-auth/arbor/linotp"
	"github.com/arbor-auth/arbor/oath"
	"github.com/arbor-auth/arbor/push"
)

var update = flag.Bool("update", false, "rewrite golden transcripts")

var ctx = context.Background()

const password = "correct horse battery"

// enabled is the door's configuration in most tests: loopback may call.
const enabled = "linotp: {enabled: true, journey: linotp, clients: [127.0.0.0/8, \"::1/128\"], otppin: password}\n"

// env is a running Arbor with the LinOTP door, users alice and bob, and a transcript.
type env struct {
	t      *testing.T
	srv    *apptest.Server
	clock  *apptest.Clock
	audit  *audit.Recorder
	phone  *authenticator.Authenticator
	script apptest.Transcript
}

func newEnv(t *testing.T, yaml string, args ...string) *env {
	t.Helper()
	e := &env{t: t, clock: apptest.NewClock(time.Now().UTC().Truncate(time.Second)), audit: &audit.Recorder{}}
	dir := t.TempDir()
	e.srv = apptest.Start(t, apptest.Options{Args: append([]string{"--realms", "alpha"}, args...), Config: yaml, Now: e.clock.Now, PublicURL: true, Dir: dir})
	e.srv.Audit.AddSink(e.audit.Sink())
	apptest.AddUser(t, e.srv.App, "/", "alice", password, nil)
	apptest.AddUser(t, e.srv.App, "/", "bob", password, nil)
	apptest.AddUser(t, e.srv.App, "/alpha", "tux", password, nil)
	e.phone = apptest.Phone(t, dir, e.clock.Now)
	return e
}

func (e *env) say(format string, args ...any) { e.script.Say(format, args...) }

// mask replaces a volatile value with a stable placeholder.
func (e *env) mask(kind, v string) string { return e.script.Mask(kind, v) }

// enrollPush registers the phone for user (poll mode) outside any journey.
func (e *env) enrollPush(realm, user string) {
	e.t.Helper()
	acc := apptest.RegisterPhone(e.t, e.srv.App, e.phone, realm, user, authenticator.RegisterOptions{Name: user + "'s phone", Communication: "poll"})
	e.mask("device", acc.ID)
	e.say("(setup) %s has a registered phone", user)
}

// enrollApp gives user an authenticator app outside any journey.
func (e *env) enrollApp(user string) {
	e.t.Helper()
	secret, uri, err := oath.NewKey(oath.KeyRequest{Issuer: "Arbor", Account: user, Params: oath.DefaultParams})
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.srv.Devices.AddOATH(ctx, "/", user, devices.OATHDevice{Name: "Authenticator app", Params: oath.DefaultParams}, secret); err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.phone.AddCodeAccount(uri); err != nil {
		e.t.Fatal(err)
	}
	e.say("(setup) %s has an authenticator app", user)
}

func (e *env) code() string {
	e.t.Helper()
	c, _, _, err := e.phone.Code("")
	if err != nil {
		e.t.Fatal(err)
	}
	e.mask("otp", c)
	return c
}

// call makes one request and returns the decoded answer.
func (e *env) call(method, path string, params url.Values) (int, map[string]any) {
	e.t.Helper()
	var req *http.Request
	shown := e.hide(params.Encode())
	if method == http.MethodPost {
		req, _ = http.NewRequest(method, e.srv.URL+path, strings.NewReader(params.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		e.say("→ POST %s  (form) %s", path, shown)
	} else {
		req, _ = http.NewRequest(method, e.srv.URL+path+"?"+params.Encode(), nil)
		e.say("→ %s %s?%s", method, path, shown)
	}
	return e.do(req)
}

func (e *env) do(req *http.Request) (int, map[string]any) {
	e.t.Helper()
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer r.Body.Close()
	raw, _ := io.ReadAll(r.Body)
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		e.t.Fatalf("not JSON (%d): %s", r.StatusCode, raw)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		e.t.Errorf("Content-Type %q", ct)
	}
	e.say("← %d %s", r.StatusCode, e.hide(string(raw)))
	return r.StatusCode, m
}

var (
	txPattern     = regexp.MustCompile(`\b\d{20}\b`)
	devicePattern = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
)

// hide masks the password, codes, token PINs, transaction ids and device ids in a line.
func (e *env) hide(s string) string {
	s = strings.ReplaceAll(s, url.QueryEscape(password), "<password>")
	s = e.script.Replace(s, "otp", "wrong", "pin")
	s = txPattern.ReplaceAllStringFunc(s, func(v string) string { return e.mask("tx", v) })
	s = devicePattern.ReplaceAllStringFunc(s, func(v string) string { return e.mask("device", v) })
	return strings.TrimSpace(s)
}

func (e *env) golden(name string) {
	e.t.Helper()
	e.script.Golden(e.t, filepath.Join("testdata", name+".txt"), *update)
}

func (e *env) expectAudit(typ string, n int) {
	e.t.Helper()
	if got := e.audit.Count(typ); got != n {
		e.t.Errorf("audit %s: %d events, want %d", typ, got, n)
	}
}

// value returns result.value, failing if the call was not a success-shaped answer.
func value(t *testing.T, m map[string]any) bool {
	t.Helper()
	res, _ := m["result"].(map[string]any)
	if res["status"] != true {
		t.Fatalf("result.status is not true: %v", m)
	}
	v, ok := res["value"].(bool)
	if !ok {
		t.Fatalf("result.value missing: %v", m)
	}
	return v
}

func errorMessage(t *testing.T, m map[string]any) string {
	t.Helper()
	res, _ := m["result"].(map[string]any)
	fault, _ := res["error"].(map[string]any)
	if res["status"] != false || fault == nil {
		t.Fatalf("not an error answer: %v", m)
	}
	return fault["message"].(string)
}

func detail(m map[string]any) map[string]any {
	d, _ := m["detail"].(map[string]any)
	return d
}

// challenge triggers a push for user showing data and returns the transaction id.
func (e *env) challenge(user, data string) string {
	e.t.Helper()
	st, m := e.call(http.MethodGet, "/validate/check", url.Values{"user": {user}, "pass": {password}, "data": {data}, "content_type": {"0"}})
	if st != 200 || value(e.t, m) {
		e.t.Fatalf("check did not open a challenge: %d %v", st, m)
	}
	id, _ := detail(m)["transactionid"].(string)
	if len(id) != 20 || detail(m)["linotp_tokentype"] != "push" {
		e.t.Fatalf("detail %v", detail(m))
	}
	return id
}

// status asks check_status and returns the transaction's entry and result.value.
func (e *env) status(user, id string) (map[string]any, bool) {
	e.t.Helper()
	st, m := e.call(http.MethodGet, "/validate/check_status", url.Values{"user": {user}, "pass": {password}, "transactionid": {id}})
	if st != 200 {
		e.t.Fatalf("check_status: %d %v", st, m)
	}
	txs, _ := detail(m)["transactions"].(map[string]any)
	entry, _ := txs[id].(map[string]any)
	if entry == nil {
		e.t.Fatalf("no transactions[%s] in %v", id, m)
	}
	return entry, value(e.t, m)
}

// pending is the phone's push of transaction id.
func (e *env) pending(id string) *authenticator.Notification {
	e.t.Helper()
	n, err := e.phone.ForTransaction(ctx, id)
	if err != nil {
		e.t.Fatal(err)
	}
	e.say("(phone) shows transaction %s: %q", e.hide(n.TransactionID), n.Message)
	return n
}

func TestCheckPasswordAndCode(t *testing.T) {
	e := newEnv(t, enabled)
	e.enrollApp("alice")
	check := func(pass string) bool {
		_, m := e.call(http.MethodGet, "/validate/check", url.Values{"user": {"alice"}, "pass": {pass}})
		return value(t, m)
	}
	if !check(password + e.code()) {
		t.Error("password + code refused")
	}
	e.clock.Advance(30 * time.Second)
	code := e.code()
	if check("wrong" + code) {
		t.Error("wrong password + right code accepted")
	}
	wrong := e.wrongCode()
	if check(password + wrong) {
		t.Error("password + wrong code accepted")
	}
	if check(password) {
		t.Error("password alone accepted")
	}
	// A form POST works as a GET does.
	e.clock.Advance(30 * time.Second)
	if _, m := e.call(http.MethodPost, "/validate/check", url.Values{"user": {"alice"}, "pass": {password + e.code()}}); !value(t, m) {
		t.Error("form POST refused")
	}
	e.expectAudit(linotp.EventAccept, 2)
	e.expectAudit(linotp.EventReject, 3)
	e.expectAudit(audit.PushSent, 0)
	e.golden("check_code")
}

// wrongCode returns a code that is none of the app's codes in the verifier's window
// (the secret is random, so a fixed guess could be right once in a million runs).
func (e *env) wrongCode() string {
	e.t.Helper()
	var real []string
	for _, acc := range e.phone.CodeAccounts() {
		for _, skew := range []time.Duration{-30 * time.Second, 0, 30 * time.Second} {
			c, err := oath.Code(acc.Params, acc.Secret, e.clock.Now().Add(skew), acc.Counter)
			if err != nil {
				e.t.Fatal(err)
			}
			real = append(real, c)
		}
	}
	for i := 0; ; i++ {
		if c := fmt.Sprintf("%06d", 123456+i); !slices.Contains(real, c) {
			e.mask("wrong", c)
			return c
		}
	}
}

func TestPushApproved(t *testing.T) {
	e := newEnv(t, enabled)
	e.enrollPush("/", "alice")
	id := e.challenge("alice", "Login to dc1.example.net")
	entry, ok := e.status("alice", id)
	if ok || entry["status"] != linotp.StateOpen || entry["received_tan"] != false || entry["valid_tan"] != false {
		t.Fatalf("pending: %v %v", ok, entry)
	}
	n := e.pending(id)
	if n.Message != "Login to dc1.example.net" {
		t.Errorf("the phone shows %q", n.Message)
	}
	if err := e.phone.Approve(ctx, n.MessageID, 0); err != nil {
		t.Fatal(err)
	}
	e.say("(phone) approves")
	e.clock.Advance(2 * time.Second)
	entry, ok = e.status("alice", id)
	if !ok || entry["status"] != linotp.StateAccepted || entry["received_tan"] != true || entry["valid_tan"] != true {
		t.Fatalf("approved: %v %v", ok, entry)
	}
	// Asked again, the answer stands (the flow has ended; the record remembers).
	if entry, ok = e.status("alice", id); !ok || entry["status"] != linotp.StateAccepted {
		t.Fatalf("approved, asked again: %v %v", ok, entry)
	}
	e.expectAudit(audit.PushApproved, 1)
	e.expectAudit(linotp.EventChallenge, 1)
	e.expectAudit(linotp.EventAccept, 1)
	e.golden("push_approved")
}

func TestPushDenied(t *testing.T) {
	e := newEnv(t, enabled)
	e.enrollPush("/", "alice")
	id := e.challenge("alice", "Transfer 100 EUR to ACME")
	n := e.pending(id)
	if err := e.phone.Deny(ctx, n.MessageID); err != nil {
		t.Fatal(err)
	}
	e.say("(phone) denies")
	e.clock.Advance(2 * time.Second)
	entry, ok := e.status("alice", id)
	if ok || entry["status"] != linotp.StateRejected || entry["received_tan"] != true || entry["valid_tan"] != false {
		t.Fatalf("denied: %v %v", ok, entry)
	}
	e.expectAudit(audit.PushDenied, 1)
	e.golden("push_denied")
}

func TestPushExpired(t *testing.T) {
	e := newEnv(t, enabled)
	e.enrollPush("/", "alice")
	id := e.challenge("alice", "Login to dc1.example.net")
	e.clock.Advance(121 * time.Second)
	e.say("(121 seconds pass)")
	entry, ok := e.status("alice", id)
	if ok || entry["status"] != linotp.StateExpired || entry["received_tan"] != false {
		t.Fatalf("expired: %v %v", ok, entry)
	}
	// The phone can no longer approve it.
	if _, err := e.phone.ForTransaction(ctx, id); err == nil {
		t.Error("the phone still offers an expired push")
	}
	e.expectAudit(audit.PushExpired, 1)
	e.golden("push_expired")
}

// reply answers the push messageID as a device would, but with the transaction id and
// text given, signed with the phone's real secret.
func (e *env) reply(messageID, tx, text string) (int, map[string]any) {
	e.t.Helper()
	it, err := e.srv.Store.Get(ctx, "push:{"+messageID+"}")
	if err != nil {
		e.t.Fatal(err)
	}
	var rec struct {
		Challenge string `json:"challenge"`
	}
	if err := json.Unmarshal(it.Value, &rec); err != nil {
		e.t.Fatal(err)
	}
	challenge, _ := base64.StdEncoding.DecodeString(rec.Challenge)
	acc := e.phone.Accounts()[0]
	mac := hmac.New(sha256.New, acc.Secret)
	mac.Write(challenge)
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"response": base64.StdEncoding.EncodeToString(mac.Sum(nil)),
		"tx":       tx, "th": push.TransactionHash(tx, text),
	}).SignedString(acc.Secret)
	if err != nil {
		e.t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]string{"messageId": messageID, "jwt": tok})
	e.say("→ (device) POST authenticate, transaction %s, text %q", e.hide(tx), text)
	req, _ := http.NewRequest(http.MethodPost, acc.AuthenticateURL, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	return e.do(req)
}

func TestPushAlteredData(t *testing.T) {
	e := newEnv(t, enabled)
	e.enrollPush("/", "alice")
	id := e.challenge("alice", "Transfer 100 EUR to ACME")
	n := e.pending(id)
	if st, m := e.reply(n.MessageID, id, "Transfer 9999 EUR to EVIL"); st != 400 || !strings.Contains(fmt.Sprint(m["message"]), "text does not match") {
		t.Fatalf("altered text: %d %v", st, m)
	}
	e.clock.Advance(2 * time.Second)
	if entry, ok := e.status("alice", id); ok || entry["status"] != linotp.StateOpen {
		t.Fatalf("after an altered reply: %v %v", ok, entry)
	}
	e.expectAudit(audit.PushRejected, 1)
	e.expectAudit(audit.PushApproved, 0)
	e.golden("push_altered_data")
}

func TestPushOtherTransaction(t *testing.T) {
	e := newEnv(t, enabled)
	e.enrollPush("/", "alice")
	first := e.challenge("alice", "Login to dc1.example.net")
	second := e.challenge("alice", "Login to dc2.example.net")
	n1 := e.pending(first)
	e.pending(second)
	// An approval of the first push that names the second transaction is refused.
	if st, m := e.reply(n1.MessageID, second, "Login to dc2.example.net"); st != 400 || !strings.Contains(fmt.Sprint(m["message"]), "another transaction") {
		t.Fatalf("reply for another transaction: %d %v", st, m)
	}
	// The reference authenticator approves the first transaction only.
	n, err := e.phone.ForTransaction(ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.phone.Approve(ctx, n.MessageID, 0); err != nil {
		t.Fatal(err)
	}
	e.say("(phone) approves transaction %s", e.hide(first))
	e.clock.Advance(2 * time.Second)
	if entry, ok := e.status("alice", second); ok || entry["status"] != linotp.StateOpen {
		t.Fatalf("second after the first's approval: %v %v", ok, entry)
	}
	if entry, ok := e.status("alice", first); !ok || entry["status"] != linotp.StateAccepted {
		t.Fatalf("first: %v %v", ok, entry)
	}
	e.expectAudit(audit.PushRejected, 1)
	e.expectAudit(audit.PushApproved, 1)
	e.golden("push_other_transaction")
}

func TestRealmSuffix(t *testing.T) {
	e := newEnv(t, enabled)
	e.enrollPush("/alpha", "tux")
	id := e.challenge("tux@alpha", "Login to dc1.example.net")
	if _, ok := e.status("tux@alpha", id); ok {
		t.Fatal("approved before any answer")
	}
	// The same name in the default realm is another user.
	st, m := e.call(http.MethodGet, "/validate/check_status", url.Values{"user": {"tux"}, "pass": {password}, "transactionid": {id}})
	if st != 400 || !strings.Contains(errorMessage(t, m), "No transaction") {
		t.Fatalf("tux in / reads tux@alpha's transaction: %d %v", st, m)
	}
}

func TestBadInput(t *testing.T) {
	e := newEnv(t, enabled)
	e.enrollPush("/", "alice")
	id := e.challenge("alice", "Login to dc1.example.net")
	e.audit = &audit.Recorder{} // count from here
	e.srv.Audit.AddSink(e.audit.Sink())
	tests := []struct {
		name   string
		method string
		path   string
		params url.Values
		status int
		want   string
	}{
		{"unknown parameter", "GET", "/validate/check", url.Values{"user": {"alice"}, "pass": {password}, "serial": {"X"}}, 400, "Unknown parameter serial"},
		{"repeated parameter", "GET", "/validate/check", url.Values{"user": {"alice", "bob"}, "pass": {password}}, 400, "given 2 times"},
		{"no user", "GET", "/validate/check", url.Values{"pass": {password}}, 400, "Missing parameter: user"},
		{"content type not 0", "GET", "/validate/check", url.Values{"user": {"alice"}, "pass": {password}, "content_type": {"1"}}, 400, "content_type \"1\""},
		{"data without content type", "GET", "/validate/check", url.Values{"user": {"alice"}, "pass": {password}, "data": {"x"}}, 400, "data needs content_type=0"},
		{"data with control characters", "GET", "/validate/check", url.Values{"user": {"alice"}, "pass": {password}, "data": {"a\x1bb"}, "content_type": {"0"}}, 400, "printable text"},
		{"unknown realm", "GET", "/validate/check", url.Values{"user": {"alice"}, "realm": {"nowhere"}, "pass": {password}}, 400, "Unknown realm"},
		{"no transaction id", "GET", "/validate/check_status", url.Values{"user": {"alice"}, "pass": {password}}, 400, "Missing parameter: transactionid"},
		{"transaction id not digits", "GET", "/validate/check_status", url.Values{"user": {"alice"}, "pass": {password}, "transactionid": {"abc"}}, 400, "must be 20 digits"},
		{"unknown transaction", "GET", "/validate/check_status", url.Values{"user": {"alice"}, "pass": {password}, "transactionid": {"12345678901234567890"}}, 400, "No transaction"},
		{"another user's transaction", "GET", "/validate/check_status", url.Values{"user": {"bob"}, "pass": {password}, "transactionid": {id}}, 400, "No transaction"},
		{"other method", "PUT", "/validate/check", url.Values{"user": {"alice"}, "pass": {password}}, 405, "use GET or a form POST"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.say("# %s", tc.name)
			st, m := e.call(tc.method, tc.path, tc.params)
			if st != tc.status || !strings.Contains(errorMessage(t, m), tc.want) {
				t.Errorf("%d %v, want %d with %q", st, m, tc.status, tc.want)
			}
		})
	}
	// A POST that is not a form.
	e.say("# JSON body")
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/validate/check", strings.NewReader(`{"user":"alice"}`))
	req.Header.Set("Content-Type", "application/json")
	e.say("→ POST /validate/check  (json) {\"user\":\"alice\"}")
	if st, m := e.do(req); st != 400 || !strings.Contains(errorMessage(t, m), "must be a form") {
		t.Errorf("JSON body: %d %v", st, m)
	}
	// Nothing changed: no flow ran, no push was sent, bob's attempt did not advance
	// alice's transaction, and every refusal is audited.
	e.expectAudit(audit.PushSent, 0)
	e.expectAudit(linotp.EventChallenge, 0)
	e.expectAudit(linotp.EventRefused, len(tests)+2) // bob's attempt is audited twice: why, and the refusal
	if entry, _ := e.status("alice", id); entry["status"] != linotp.StateOpen {
		t.Errorf("alice's transaction after bad input: %v", entry)
	}
	e.golden("bad_input")
}

func TestClientNotAllowed(t *testing.T) {
	e := newEnv(t, "linotp: {enabled: true, clients: [10.0.0.0/8]}\n")
	e.enrollPush("/", "alice")
	st, m := e.call(http.MethodGet, "/validate/check", url.Values{"user": {"alice"}, "pass": {password}, "data": {"Login"}, "content_type": {"0"}})
	if st != 403 || !strings.Contains(errorMessage(t, m), "is not allowed to call /validate") {
		t.Fatalf("%d %v", st, m)
	}
	e.expectAudit(audit.PushSent, 0)
	e.expectAudit(linotp.EventRefused, 1)
	e.golden("client_not_allowed")
}

func TestDisabledByDefault(t *testing.T) {
	e := newEnv(t, "linotp: {enabled: false, clients: [127.0.0.0/8]}\n")
	r, err := http.Get(e.srv.URL + "/validate/check?user=alice&pass=x")
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusNotFound {
		t.Errorf("disabled door answers %d", r.StatusCode)
	}
}

// TestStoreOutage: on Redis, with Redis paused, check and check_status answer 503 in
// LinOTP's error shape and lose nothing: once Redis is back the transaction is still
// open and can be approved.
func TestStoreOutage(t *testing.T) {
	rs := testredis.Start(t)
	e := newEnv(t, enabled, "--redis", rs.URL())
	e.enrollPush("/", "alice")
	id := e.challenge("alice", "Login to dc1.example.net")
	rs.Pause()
	for _, path := range []string{"/validate/check", "/validate/check_status"} {
		params := url.Values{"user": {"alice"}, "pass": {password}, "data": {"Login to dc2.example.net"}, "content_type": {"0"}}
		if path == "/validate/check_status" {
			params = url.Values{"user": {"alice"}, "pass": {password}, "transactionid": {id}}
		}
		st, m := e.call(http.MethodGet, path, params)
		if st != http.StatusServiceUnavailable || !strings.Contains(errorMessage(t, m), "temporarily unavailable") {
			t.Errorf("%s during the outage: %d %v", path, st, m)
		}
	}
	rs.Resume()
	n := e.pending(id)
	if err := e.phone.Approve(ctx, n.MessageID, 0); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(2 * time.Second)
	if entry, ok := e.status("alice", id); !ok || entry["status"] != linotp.StateAccepted {
		t.Fatalf("after the outage: %v %v", ok, entry)
	}
}
