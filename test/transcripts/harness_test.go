// Package transcripts runs shipped journeys step by step over the REST API, in
// process, with the reference authenticator as the phone, and compares each run with a
// golden transcript in testdata/. Run `go test ./test/transcripts -update` to rewrite
// the golden files after an intended change, and read the diff.
package transcripts

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/authenticator"
	"github.com/arbor-auth/arbor/internal/app"
	"github.com/arbor-auth/arbor/internal/app/apptest"
)

var update = flag.Bool("update", false, "rewrite golden transcripts")

// env is a running Arbor with one user, alice, and a transcript being written.
type env struct {
	t      *testing.T
	app    *app.App
	srv    *httptest.Server
	clock  *apptest.Clock
	audit  *audit.Recorder
	phone  *authenticator.Authenticator
	script apptest.Transcript
	codes  map[string]bool // real recovery codes: random, so masked when typed
	otps   map[string]bool // one-time codes the phone made: clock-dependent, so masked when typed
}

const password = "correct horse battery"

func newEnv(t *testing.T, pushYAML string) *env {
	t.Helper()
	return newEnvArgs(t, pushYAML)
}

// newEnvArgs is newEnv with more command-line arguments (--journeys testdata/journeys).
func newEnvArgs(t *testing.T, pushYAML string, extra ...string) *env {
	t.Helper()
	e := &env{t: t, clock: apptest.NewClock(time.Now().UTC().Truncate(time.Second)), audit: &audit.Recorder{}, codes: map[string]bool{}, otps: map[string]bool{}}
	dir := t.TempDir()
	s := apptest.Start(t, apptest.Options{Args: extra, Config: pushYAML, Now: e.clock.Now, PublicURL: true, Dir: dir})
	s.Audit.AddSink(e.audit.Sink())
	e.app, e.srv = s.App, s.HTTP
	apptest.AddUser(t, s.App, "/", "alice", password, nil)
	e.phone = apptest.Phone(t, dir, e.clock.Now)
	if twinMode {
		e.importTwins()
	}
	return e
}

// mask replaces a volatile value with a stable placeholder in the transcript.
func (e *env) mask(kind, v string) string {
	if kind == "number" {
		// Numbers to match are drawn at random and may repeat across pushes; the tests
		// assert them directly, so the transcript shows only where one appears.
		return "<N>"
	}
	return e.script.Mask(kind, v)
}

// login is one flow over the REST API.
type login struct {
	e       *env
	url     string
	step    map[string]any
	status  int
	done    bool
	success map[string]any
	failure map[string]any
}

func (e *env) start(journey string) *login {
	l := &login{e: e, url: e.srv.URL + "/json/realms/root/authenticate?authIndexType=service&authIndexValue=" + journey}
	e.script.Say("→ start %s", journey)
	l.post(nil)
	return l
}

func (l *login) post(body []byte) {
	req, _ := http.NewRequest(http.MethodPost, l.url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept-API-Version", "protocol=1.0,resource=2.1")
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		l.e.t.Fatal(err)
	}
	defer r.Body.Close()
	raw, _ := io.ReadAll(r.Body)
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		l.e.t.Fatalf("not JSON (%d): %s", r.StatusCode, raw)
	}
	l.status = r.StatusCode
	switch {
	case m["authId"] != nil:
		l.step = m
		l.e.script.Say("← %d %s", r.StatusCode, l.describe())
	case r.StatusCode == 200:
		l.done, l.success = true, m
		l.e.script.Say("← 200 success realm=%v session=%v", m["realm"], m["tokenId"] != nil)
	default:
		l.done, l.failure = true, m
		l.e.script.Say("← %d failure %q", r.StatusCode, m["message"])
	}
}

var numberInText = regexp.MustCompile(`Tap the number (\d+)`)

// describe summarises the step's callbacks, masking secrets and random numbers.
func (l *login) describe() string {
	var parts []string
	for _, cb := range l.step["callbacks"].([]any) {
		m := cb.(map[string]any)
		typ := m["type"].(string)
		outs := map[string]any{}
		for _, o := range m["output"].([]any) {
			om := o.(map[string]any)
			outs[om["name"].(string)] = om["value"]
		}
		s := typ
		switch typ {
		case "NameCallback", "PasswordCallback", "TextInputCallback":
			s += fmt.Sprintf("(%q)", outs["prompt"])
		case "TextOutputCallback":
			msg := fmt.Sprint(outs["message"])
			if outs["messageType"] == "4" {
				msg = fmt.Sprintf("<script: %d recovery codes>", len(regexp.MustCompile(`\n    "([0-9A-Za-z]{10,12})\\n" \+`).FindAllString(msg, -1)))
			}
			s += fmt.Sprintf("(%q)", l.maskNumbers(msg))
		case "PollingWaitCallback":
			s += fmt.Sprintf("(%vms %q)", outs["waitTime"], l.maskNumbers(fmt.Sprint(outs["message"])))
		case "HiddenValueCallback":
			v := fmt.Sprint(outs["value"])
			if scheme, _, ok := strings.Cut(v, "://"); ok && (scheme == "pushauth" || scheme == "otpauth") {
				v = scheme + "://..."
			} else {
				v = l.e.mask("number", v)
			}
			s += fmt.Sprintf("(%v=%s)", outs["id"], v)
		case "ConfirmationCallback":
			s += fmt.Sprintf("(%v input=%v)", outs["options"], m["input"].([]any)[0].(map[string]any)["value"])
		case "MetadataCallback":
			d, _ := outs["data"].(map[string]any)
			s += fmt.Sprintf("(%v)", d["type"])
		case "ChoiceCallback":
			s += fmt.Sprintf("(%v)", outs["choices"])
		}
		parts = append(parts, s)
	}
	head := ""
	if h, ok := l.step["header"]; ok {
		head = fmt.Sprintf(" header=%q", h)
	}
	return "step" + head + " [" + strings.Join(parts, ", ") + "]"
}

func (l *login) maskNumbers(s string) string {
	return numberInText.ReplaceAllStringFunc(s, func(m string) string {
		return "Tap the number " + l.e.mask("number", strings.TrimPrefix(m, "Tap the number "))
	})
}

// callback returns the first callback of type typ in the current step.
func (l *login) callback(typ string) map[string]any {
	for _, cb := range l.step["callbacks"].([]any) {
		if m := cb.(map[string]any); m["type"] == typ {
			return m
		}
	}
	l.e.t.Fatalf("step has no %s: %v", typ, l.describe())
	return nil
}

func output(cb map[string]any, name string) any {
	for _, o := range cb["output"].([]any) {
		if om := o.(map[string]any); om["name"] == name {
			return om["value"]
		}
	}
	return nil
}

// answer sets inputs by callback type and submits the step.
func (l *login) answer(values map[string]any) {
	var shown []string
	for _, cb := range l.step["callbacks"].([]any) {
		m := cb.(map[string]any)
		v, ok := values[m["type"].(string)]
		if !ok {
			continue
		}
		m["input"].([]any)[0].(map[string]any)["value"] = v
		if m["type"] == "PasswordCallback" {
			v = "***"
		}
		if str, ok := v.(string); ok && l.e.codes[str] {
			v = l.e.mask("code", str)
		} else if ok && l.e.otps[str] {
			v = l.e.mask("otp", str)
		}
		shown = append(shown, fmt.Sprintf("%s=%v", m["type"], v))
	}
	sort.Strings(shown)
	l.e.script.Say("→ answer %s", strings.Join(shown, " "))
	body, _ := json.Marshal(l.step)
	l.post(body)
}

// poll resubmits the step unchanged, as a client does after a PollingWaitCallback.
func (l *login) poll() {
	l.e.script.Say("→ poll")
	body, _ := json.Marshal(l.step)
	l.post(body)
}

func (l *login) credentials() {
	l.answer(map[string]any{"NameCallback": "alice", "PasswordCallback": password})
}

// number returns the number to match shown in the current step.
func (l *login) number() int {
	var n int
	fmt.Sscan(fmt.Sprint(output(l.callback("HiddenValueCallback"), "value")), &n)
	return n
}

// golden compares the transcript with testdata/<name>.txt.
func (e *env) golden(name string) {
	e.t.Helper()
	e.script.Golden(e.t, filepath.Join("testdata", name+".txt"), *update)
}

// register answers a registration step with the phone.
func (e *env) register(l *login) {
	e.t.Helper()
	uri := fmt.Sprint(output(l.callback("HiddenValueCallback"), "value"))
	acc, err := e.phone.Register(context.Background(), uri, authenticator.RegisterOptions{Name: "Alice's phone"})
	if err != nil {
		e.t.Fatalf("register: %v", err)
	}
	e.script.Say("(phone) registered %q", acc.Name)
}

func (e *env) phoneApprove(number int) {
	e.t.Helper()
	n, err := e.phone.ApproveLatest(context.Background(), number)
	if err != nil {
		e.t.Fatalf("approve: %v", err)
	}
	e.script.Say("(phone) approve %q picking %s of %d numbers", n.Message, e.mask("number", fmt.Sprint(number)), len(n.Numbers))
}

func (e *env) phoneDeny() {
	e.t.Helper()
	if _, err := e.phone.DenyLatest(context.Background()); err != nil {
		e.t.Fatalf("deny: %v", err)
	}
	e.script.Say("(phone) deny")
}

func (e *env) wait(d time.Duration) {
	e.clock.Advance(d)
	e.script.Say("(%s pass)", d)
}

func (e *env) expectAudit(typ string, n int) {
	e.t.Helper()
	if got := e.audit.Count(typ); got != n {
		e.t.Errorf("audit %s: %d events, want %d", typ, got, n)
	}
}
