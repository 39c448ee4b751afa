package journeytest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/arbor-auth/arbor/authenticator"
	"github.com/arbor-auth/arbor/devices"
	"github.com/arbor-auth/arbor/engine"
	"github.com/arbor-auth/arbor/identity"
	"github.com/arbor-auth/arbor/internal/app"
	"github.com/arbor-auth/arbor/internal/config"
	"github.com/arbor-auth/arbor/oath"
	"github.com/arbor-auth/arbor/push"
)

// Options configure Run.
type Options struct {
	// Journeys is a directory of journey files loaded besides the built-in ones, as
	// serve --journeys loads it.
	Journeys string
	// Config is a config file (serve --config), for push delivery settings say.
	Config string
}

// Result is one case's outcome.
type Result struct {
	// Name is "<file>/<case>".
	Name    string
	Passed  bool
	Failure string
	Elapsed time.Duration
}

// Coverage is what the cases reached of one journey.
type Coverage struct {
	Journey string
	// Nodes and Outcomes count the journey's nodes and their outcomes; Reached and
	// Taken how many of them some case reached.
	Nodes, Reached, Outcomes, Taken int
	// MissedNodes are the nodes no case reached; MissedOutcomes ("node.outcome") the
	// outcomes of reached nodes no case followed.
	MissedNodes, MissedOutcomes []string
}

// Report is the result of a run.
type Report struct {
	Results  []Result
	Coverage []Coverage
}

// Failed reports whether a case failed.
func (r *Report) Failed() bool {
	for _, res := range r.Results {
		if !res.Passed {
			return true
		}
	}
	return false
}

// tracer collects the engine's trace events of every case.
type tracer struct {
	mu   sync.Mutex
	seen map[string]bool // journey\x00node and journey\x00node\x00outcome
}

func (t *tracer) record(ev engine.TraceEvent) {
	t.mu.Lock()
	defer t.mu.Unlock()
	k := ev.Journey + "\x00" + ev.Node
	if ev.Outcome != "" {
		k += "\x00" + ev.Outcome
	}
	t.seen[k] = true
}

// Run runs every case of suites, each on a fresh in-process server.
func Run(ctx context.Context, suites []*Suite, opts Options) *Report {
	tr := &tracer{seen: map[string]bool{}}
	rep := &Report{}
	shape := map[string]map[string][]string{} // journey -> node -> outcomes
	var order []string
	for _, s := range suites {
		for _, c := range s.Cases {
			start := time.Now()
			r := &caseRun{suite: s, c: c, opts: opts, tr: tr}
			err := r.run(ctx)
			res := Result{Name: filepath.Base(s.File) + "/" + c.Name, Passed: err == nil, Elapsed: time.Since(start)}
			if err != nil {
				res.Failure = err.Error()
			}
			rep.Results = append(rep.Results, res)
			if _, ok := shape[s.Journey]; !ok && r.shape != nil {
				shape[s.Journey] = r.shape
				order = append(order, s.Journey)
			}
		}
	}
	sort.Strings(order)
	for _, j := range order {
		cov := Coverage{Journey: j}
		for _, node := range sortedKeys(shape[j]) {
			cov.Nodes++
			outs := shape[j][node]
			cov.Outcomes += len(outs)
			if !tr.seen[j+"\x00"+node] {
				cov.MissedNodes = append(cov.MissedNodes, node)
				continue
			}
			cov.Reached++
			for _, o := range outs {
				if tr.seen[j+"\x00"+node+"\x00"+o] {
					cov.Taken++
				} else {
					cov.MissedOutcomes = append(cov.MissedOutcomes, node+"."+o)
				}
			}
		}
		rep.Coverage = append(rep.Coverage, cov)
	}
	return rep
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// appSecret is the secret of a case's authenticator app (app:): fixed, so a failing
// case's codes can be reproduced.
var appSecret = []byte("journeytest app key!")

// clock is the manual clock of one case.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// inProcess is an http.RoundTripper that serves requests with a handler, so the cases
// and the phone reach the server without a socket.
type inProcess struct{ h http.Handler }

func (t inProcess) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	return rec.Result(), nil
}

// caseRun is one case being run.
type caseRun struct {
	suite *Suite
	c     Case
	opts  Options
	tr    *tracer

	app    *app.App
	clock  *clock
	client *http.Client
	phone  *authenticator.Authenticator
	codes  []string // recovery codes not used yet
	// appKey is the key of an authenticator app a registration step showed.
	appKey *oath.Key
	shape  map[string][]string

	// The answer in front of the current step.
	status int
	body   map[string]any
}

const publicURL = "http://arbor.test"

func (r *caseRun) run(ctx context.Context) (err error) {
	dir, err := os.MkdirTemp("", "arbor-journeytest-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	args := []string{"--data", dir, "--hash-memory-kib", "8", "--hash-iterations", "1", "--public-url", publicURL, "--log-level", "error"}
	if r.opts.Journeys != "" {
		args = append(args, "--journeys", r.opts.Journeys)
	}
	if r.opts.Config != "" {
		args = append(args, "--config", r.opts.Config)
	}
	// An empty environment: ARBOR_REDIS and friends must not point a test at a server.
	cfg, err := config.Load(args, func(string) string { return "" })
	if err != nil {
		return err
	}
	r.clock = &clock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	a, err := app.New(ctx, cfg, slog.New(slog.DiscardHandler), app.WithClock(r.clock.Now), app.WithTrace(r.tr.record))
	if err != nil {
		return err
	}
	defer a.Close()
	r.app = a
	comp, err := a.Journeys.Head(ctx, r.suite.Journey)
	if err != nil {
		return fmt.Errorf("journey %q: %w", r.suite.Journey, err)
	}
	r.shape = map[string][]string{}
	for id, st := range comp.Steps {
		for _, o := range st.Outcomes {
			r.shape[id] = append(r.shape[id], o.ID)
		}
	}
	r.client = &http.Client{Transport: inProcess{a.Handler()}}
	if err := r.setup(ctx, dir); err != nil {
		return fmt.Errorf("%s:%d: setup: %w", r.suite.File, r.c.line, err)
	}
	if err := r.post(ctx, nil); err != nil {
		return fmt.Errorf("%s:%d: start: %w", r.suite.File, r.c.line, err)
	}
	for i, st := range r.c.Steps {
		if err := r.step(ctx, st, i == len(r.c.Steps)-1); err != nil {
			return fmt.Errorf("%s:%d: step %d: %w", r.suite.File, st.line, i+1, err)
		}
	}
	return nil
}

// setup creates the users and the device.
func (r *caseRun) setup(ctx context.Context, dir string) error {
	for _, u := range r.suite.Users {
		h, err := identity.HashPassword(u.Password, identity.CheapParams)
		if err != nil {
			return fmt.Errorf("user %q: %w", u.Username, err)
		}
		status := identity.StatusActive
		if u.Status != "" {
			status = identity.Status(u.Status)
		}
		if err := r.app.Users.Put(ctx, &identity.User{Realm: "/", Username: u.Username, PasswordHash: h, Status: status}); err != nil {
			return fmt.Errorf("user %q: %w", u.Username, err)
		}
	}
	phone, err := authenticator.Open(filepath.Join(dir, "phone.json"))
	if err != nil {
		return err
	}
	phone.Client, phone.Now = r.client, r.clock.Now
	r.phone = phone
	if r.c.App != "" {
		if r.app.Devices == nil {
			return fmt.Errorf("app %q: this Arbor has no device registry", r.c.App)
		}
		d, err := r.app.Devices.AddOATH(ctx, "/", r.c.App, devices.OATHDevice{Name: "Authenticator app", Params: oath.DefaultParams}, appSecret)
		if err != nil {
			return fmt.Errorf("app %q: %w", r.c.App, err)
		}
		if err := r.setPIN(ctx, r.c.App, d.ID); err != nil {
			return fmt.Errorf("app %q: %w", r.c.App, err)
		}
		if err := r.app.Devices.SetSkip(ctx, "/", r.c.App, devices.MethodOATH, devices.SkipNotSkippable); err != nil {
			return fmt.Errorf("app %q: %w", r.c.App, err)
		}
	}
	if r.c.Device == "" {
		return nil
	}
	if r.app.Push == nil {
		return fmt.Errorf("device %q: this Arbor has no push service", r.c.Device)
	}
	reg, err := r.app.Push.BeginRegistration(ctx, push.RegistrationRequest{Realm: "/", Username: r.c.Device, FlowID: "journeytest-setup"})
	if err != nil {
		return fmt.Errorf("device %q: %w", r.c.Device, err)
	}
	acc, err := phone.Register(ctx, reg.URI, authenticator.RegisterOptions{Name: r.c.Device + "'s phone"})
	if err != nil {
		return fmt.Errorf("device %q: %w", r.c.Device, err)
	}
	if err := r.setPIN(ctx, r.c.Device, acc.ID); err != nil {
		return fmt.Errorf("device %q: %w", r.c.Device, err)
	}
	if err := r.app.Devices.SetSkip(ctx, "/", r.c.Device, devices.MethodPush, devices.SkipNotSkippable); err != nil {
		return fmt.Errorf("device %q: %w", r.c.Device, err)
	}
	r.codes, err = r.app.Devices.NewRecoveryCodes(ctx, "/", r.c.Device)
	return err
}

// setPIN gives user's device id the case's token PIN, if it has one.
func (r *caseRun) setPIN(ctx context.Context, user, id string) error {
	if r.c.PIN == "" {
		return nil
	}
	return r.app.Devices.SetPIN(ctx, "/", user, id, r.c.PIN)
}

// step checks the answer, acts and, unless last, sends the next request.
func (r *caseRun) step(ctx context.Context, st Step, last bool) error {
	if err := r.check(st.Expect); err != nil {
		return err
	}
	if st.Expect.Result != "" {
		return nil
	}
	if err := r.device(ctx, st.Device); err != nil {
		return fmt.Errorf("device %s: %w", st.Device, err)
	}
	r.clock.advance(time.Duration(st.Advance))
	if last {
		return nil
	}
	if err := r.fill(st.Input); err != nil {
		return err
	}
	b, _ := json.Marshal(r.body)
	return r.post(ctx, b)
}

// post sends a request to the authenticate endpoint and keeps the answer.
func (r *caseRun) post(ctx context.Context, body []byte) error {
	u := publicURL + "/json/realms/root/authenticate"
	if body == nil {
		u += "?authIndexType=service&authIndexValue=" + url.QueryEscape(r.suite.Journey)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept-API-Version", "protocol=1.0,resource=2.1")
	resp, err := r.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r.status, r.body = resp.StatusCode, nil
	if err := json.Unmarshal(raw, &r.body); err != nil {
		return fmt.Errorf("HTTP %d, not JSON: %s", resp.StatusCode, raw)
	}
	if r.status != http.StatusOK && r.status != http.StatusUnauthorized {
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, raw)
	}
	r.collectCodes()
	return nil
}

// result is "success", "failure" or "" (a step asking for input).
func (r *caseRun) result() string {
	switch {
	case r.body["authId"] != nil:
		return ""
	case r.status == http.StatusOK && r.body["tokenId"] != nil:
		return "success"
	}
	return "failure"
}

func (r *caseRun) callbacks() []map[string]any {
	var out []map[string]any
	list, _ := r.body["callbacks"].([]any)
	for _, cb := range list {
		if m, ok := cb.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

func (r *caseRun) types() []string {
	var ts []string
	for _, cb := range r.callbacks() {
		ts = append(ts, fmt.Sprint(cb["type"]))
	}
	return ts
}

func (r *caseRun) describe() string {
	if res := r.result(); res != "" {
		return res
	}
	return fmt.Sprintf("a step with %v", r.types())
}

// check compares the answer with what the step expects.
func (r *caseRun) check(e Expect) error {
	got := r.result()
	if e.Result != "" || got != "" {
		if e.Result != got {
			want := e.Result
			if want == "" {
				want = "a step"
			}
			return fmt.Errorf("got %s, want %s", r.describe(), want)
		}
		return nil
	}
	if e.Callbacks != nil && strings.Join(e.Callbacks, ",") != strings.Join(r.types(), ",") {
		return fmt.Errorf("callbacks %v, want %v", r.types(), e.Callbacks)
	}
	if e.Stage != "" && fmt.Sprint(r.body["stage"]) != e.Stage {
		return fmt.Errorf("stage %v, want %q", r.body["stage"], e.Stage)
	}
	if e.Header != "" && fmt.Sprint(r.body["header"]) != e.Header {
		return fmt.Errorf("header %v, want %q", r.body["header"], e.Header)
	}
	if e.Shows != "" {
		found := false
		for _, cb := range r.callbacks() {
			for _, o := range asList(cb["output"]) {
				if m, ok := o.(map[string]any); ok && strings.Contains(fmt.Sprint(m["value"]), e.Shows) {
					found = true
				}
			}
		}
		if !found {
			return fmt.Errorf("no callback shows %q", e.Shows)
		}
	}
	return nil
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

// output returns the value of the named output of the first callback of type typ
// whose outputs satisfy match.
func (r *caseRun) output(typ, name string, match func(map[string]any) bool) (any, bool) {
	for _, cb := range r.callbacks() {
		if cb["type"] != typ {
			continue
		}
		outs := map[string]any{}
		for _, o := range asList(cb["output"]) {
			if m, ok := o.(map[string]any); ok {
				outs[fmt.Sprint(m["name"])] = m["value"]
			}
		}
		if match == nil || match(outs) {
			v, ok := outs[name]
			return v, ok
		}
	}
	return nil, false
}

// device acts as the phone.
func (r *caseRun) device(ctx context.Context, action string) error {
	right := 0
	if v, ok := r.output("HiddenValueCallback", "value", func(o map[string]any) bool { return o["id"] == "pushChallengeNumber" }); ok {
		fmt.Sscan(fmt.Sprint(v), &right)
	}
	switch action {
	case "":
		return nil
	case "approve":
		_, err := r.phone.ApproveLatest(ctx, right)
		return err
	case "deny":
		_, err := r.phone.DenyLatest(ctx)
		return err
	case "wrong_number":
		pending, err := r.phone.Pending(ctx)
		if err != nil {
			return err
		}
		if len(pending) == 0 {
			return fmt.Errorf("no push to answer")
		}
		n := pending[len(pending)-1]
		for _, x := range n.Numbers {
			if x != right {
				// The server must refuse it: the reference authenticator reports the refusal.
				err := r.phone.Approve(ctx, n.MessageID, x)
				if errors.Is(err, authenticator.ErrNumberRejected) {
					return nil
				}
				if err == nil {
					return fmt.Errorf("the server accepted the wrong number %d", x)
				}
				return err
			}
		}
		return fmt.Errorf("the push offers no wrong number (%v)", n.Numbers)
	case "register":
		v, ok := r.output("HiddenValueCallback", "value", func(o map[string]any) bool { return strings.HasPrefix(fmt.Sprint(o["value"]), "pushauth://") })
		if !ok {
			return fmt.Errorf("this step shows no pushauth:// registration URI")
		}
		_, err := r.phone.Register(ctx, fmt.Sprint(v), authenticator.RegisterOptions{Name: "phone"})
		return err
	}
	return fmt.Errorf("unknown device action %q", action)
}

// codeInScript finds the recovery codes in the script a recovery_code_display sends.
var codeInScript = regexp.MustCompile(`"([0-9A-Za-z]{10})\\n"`)

// collectCodes remembers recovery codes shown in the answer, and the key of an
// authenticator app the answer offers to register (an otpauth:// URI in a hidden value),
// which then answers "$otp" as if the user had scanned it.
func (r *caseRun) collectCodes() {
	for _, cb := range r.callbacks() {
		if cb["type"] == "HiddenValueCallback" {
			for _, o := range asList(cb["output"]) {
				if m, ok := o.(map[string]any); ok && m["name"] == "value" {
					if k, err := oath.ParseKey(fmt.Sprint(m["value"])); err == nil {
						r.appKey = k
					}
				}
			}
		}
		if cb["type"] != "TextOutputCallback" {
			continue
		}
		for _, o := range asList(cb["output"]) {
			if m, ok := o.(map[string]any); ok && m["name"] == "message" {
				for _, sm := range codeInScript.FindAllStringSubmatch(fmt.Sprint(m["value"]), -1) {
					r.codes = append(r.codes, sm[1])
				}
			}
		}
	}
}

// fill sets the inputs of the step's callbacks.
func (r *caseRun) fill(input map[string]any) error {
	used := map[int]bool{}
	cbs := r.callbacks()
	for _, key := range sortedKeys(input) {
		v := input[key]
		if v == "$otp" {
			params, secret := oath.DefaultParams, appSecret
			switch {
			case r.appKey != nil:
				params, secret = r.appKey.Params, r.appKey.Secret
			case r.c.App == "":
				return fmt.Errorf("input %s: $otp needs the case's app: to name a user, or an app registration shown", key)
			}
			code, err := oath.Code(params, secret, r.clock.Now(), 0)
			if err != nil {
				return fmt.Errorf("input %s: %w", key, err)
			}
			v = code
		}
		if v == "$recovery_code" {
			if len(r.codes) == 0 {
				return fmt.Errorf("input %s: no recovery code left", key)
			}
			v, r.codes = r.codes[0], r.codes[1:]
		}
		done := false
		for i, cb := range cbs {
			ins := asList(cb["input"])
			if len(ins) == 0 {
				continue
			}
			in, _ := ins[0].(map[string]any)
			if (cb["type"] == key && !used[i]) || in["name"] == key {
				in["value"] = v
				used[i], done = true, true
				break
			}
		}
		if !done {
			return fmt.Errorf("input %s: no such callback in this step (%v)", key, r.types())
		}
	}
	return nil
}
