// Package journeytest runs declarative test cases against journeys without a server:
// each case gets a fresh in-process Arbor on an embedded store in a temporary
// directory, with a manual clock, speaks the AM REST protocol to it through an
// in-process transport (no socket), and answers pushes with the reference authenticator
// on the same transport. It reports each case's result in go test or TAP style, and
// which nodes and outcomes of the journeys under test no case reached.
//
// A case file (YAML, or JSON, which is YAML too) holds the cases of one journey:
//
//	journey: push-mfa
//	users:                                   # created fresh for every case, in realm /
//	  - {username: alice, password: "correct horse battery"}   # status: locked is possible
//	cases:
//	  - name: approve
//	    device: alice                          # alice has a registered phone and recovery codes
//	    steps:
//	      - expect: {stage: UsernamePassword, callbacks: [NameCallback, PasswordCallback]}
//	        input: {NameCallback: alice, PasswordCallback: correct horse battery}
//	      - expect: {callbacks: [PollingWaitCallback, HiddenValueCallback, ConfirmationCallback]}
//	        device: approve                      # approve, deny, wrong_number or register
//	        advance: 5s                          # the clock moves before the step is sent
//	      - expect: {result: success}
//
// A case starts the journey; then each step checks the answer in front of it (expect),
// acts (the device, then the clock), and, when another step follows, sends the step
// back with its inputs filled in. Inputs are keyed by callback type (the first callback
// of that type not yet filled) or by input name (IDToken2); the value "$recovery_code"
// is one of the user's recovery codes not used yet in the case, and "$otp" the code the
// user's authenticator app shows at the case's clock (a case with app: NAME gives NAME a
// time-based app, six digits, 30 s, before it starts; after a step that offered an app to
// register, an otpauth:// URI, it is that app's code).
package journeytest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Suite is one case file.
type Suite struct {
	// File is where the suite was read from.
	File string `yaml:"-"`
	// Journey is the journey every case runs.
	Journey string `yaml:"journey"`
	// Users are created before every case.
	Users []User `yaml:"users"`
	// Cases run in order, each on a fresh server.
	Cases []Case `yaml:"cases"`
}

// User is an account the cases log in as.
type User struct {
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// Status is "active" (the default) or "locked".
	Status string `yaml:"status"`
}

// Case is one run of the journey.
type Case struct {
	Name string `yaml:"name"`
	// Device names a user who has a registered phone (the reference authenticator) and
	// ten recovery codes before the case starts.
	Device string `yaml:"device"`
	// App names a user who has an authenticator app (TOTP) before the case starts; the
	// input "$otp" is its current code.
	App string `yaml:"app"`
	// PIN, when set, is the token PIN of the case's app and phone (the token_pin node).
	PIN   string `yaml:"pin"`
	Steps []Step `yaml:"steps"`
	// line is where the case starts in its file.
	line int
}

// Step checks the answer in front of it, acts, and sends the next request.
type Step struct {
	Expect Expect `yaml:"expect"`
	// Device is what the phone does: approve (with the number the login shows),
	// deny, wrong_number (approve with another of the numbers offered), or register
	// (scan the registration URI of this step).
	Device string `yaml:"device"`
	// Advance moves the clock forward before the step is sent ("5s", "2m").
	Advance Duration `yaml:"advance"`
	// Input fills in callbacks by type or input name.
	Input map[string]any `yaml:"input"`
	line  int
}

// Expect is what an answer must be. Empty fields are not checked.
type Expect struct {
	// Callbacks are the callback types of the step, in order.
	Callbacks []string `yaml:"callbacks"`
	Stage     string   `yaml:"stage"`
	Header    string   `yaml:"header"`
	// Shows is text one of the callbacks' outputs must contain.
	Shows string `yaml:"shows"`
	// Result is "success" or "failure" when the flow must have ended.
	Result string `yaml:"result"`
}

// Duration is a time.Duration written as Go writes it ("5s").
type Duration time.Duration

// UnmarshalYAML reads "5s", "2m30s".
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil || v < 0 {
		return fmt.Errorf("line %d: advance %q is not a duration like 5s", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// Device actions.
var deviceActions = map[string]bool{"approve": true, "deny": true, "wrong_number": true, "register": true}

// LoadDir reads every *.yaml, *.yml and *.json file of dir, in name order.
func LoadDir(dir string) ([]*Suite, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read test cases: %w", err)
	}
	var suites []*Suite
	var errs []error
	for _, e := range entries {
		ext := filepath.Ext(e.Name())
		if e.IsDir() || (ext != ".yaml" && ext != ".yml" && ext != ".json") {
			continue
		}
		p := filepath.Join(dir, e.Name())
		b, err := os.ReadFile(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		s, err := Parse(p, b)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		suites = append(suites, s)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if len(suites) == 0 {
		return nil, fmt.Errorf("no test case files (*.yaml, *.yml, *.json) in %s", dir)
	}
	sort.Slice(suites, func(a, b int) bool { return suites[a].File < suites[b].File })
	return suites, nil
}

// Parse reads one case file strictly: an unknown field, a missing journey, name or
// step, an unknown device action or result is an error naming the file and line.
func Parse(file string, data []byte) (*Suite, error) {
	s := &Suite{File: file}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true) // a misspelt field is an error, not a check silently skipped
	if err := dec.Decode(s); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: empty file", file)
		}
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	var doc yaml.Node
	_ = yaml.Unmarshal(data, &doc) // decoded above; read again for the lines
	// Lines, for messages: the cases and steps in the node tree.
	if cases := mapValue(&doc, "cases"); cases != nil {
		for i, cn := range cases.Content {
			if i < len(s.Cases) {
				s.Cases[i].line = cn.Line
				if steps := mapValue(cn, "steps"); steps != nil {
					for k, sn := range steps.Content {
						if k < len(s.Cases[i].Steps) {
							s.Cases[i].Steps[k].line = sn.Line
						}
					}
				}
			}
		}
	}
	var problems []string
	bad := func(line int, format string, args ...any) {
		problems = append(problems, fmt.Sprintf("%s:%d: %s", file, line, fmt.Sprintf(format, args...)))
	}
	if s.Journey == "" {
		bad(1, "no journey")
	}
	if len(s.Cases) == 0 {
		bad(1, "no cases")
	}
	names := map[string]bool{}
	for _, c := range s.Cases {
		switch {
		case c.Name == "":
			bad(c.line, "a case needs a name")
		case names[c.Name]:
			bad(c.line, "two cases are named %q", c.Name)
		}
		names[c.Name] = true
		if len(c.Steps) == 0 {
			bad(c.line, "case %q has no steps", c.Name)
		}
		for i, st := range c.Steps {
			if st.Device != "" && !deviceActions[st.Device] {
				bad(st.line, "device %q: want approve, deny, wrong_number or register", st.Device)
			}
			if r := st.Expect.Result; r != "" && r != "success" && r != "failure" {
				bad(st.line, "result %q: want success or failure", r)
			}
			if st.Expect.Result != "" && (i < len(c.Steps)-1 || st.Device != "" || st.Input != nil || st.Advance != 0) {
				bad(st.line, "a step expecting the end of the flow must be the last, with nothing to do")
			}
		}
	}
	if len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "\n"))
	}
	return s, nil
}

// mapValue returns the value of key in the mapping n (or in the document n holds).
func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}
