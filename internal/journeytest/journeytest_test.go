package journeytest

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
)

// The shipped journeys' cases run in the Go test suite, so a change that breaks one
// fails CI.
func TestBuiltinCases(t *testing.T) {
	suites, err := LoadDir("../../journeys/builtin/tests")
	if err != nil {
		t.Fatal(err)
	}
	rep := Run(context.Background(), suites, Options{})
	for _, r := range rep.Results {
		if !r.Passed {
			t.Errorf("%s: %s", r.Name, r.Failure)
		}
	}
	if len(rep.Results) < 10 {
		t.Errorf("only %d cases ran", len(rep.Results))
	}
	for _, c := range rep.Coverage {
		if len(c.MissedNodes) > 0 {
			t.Errorf("%s: nodes no case reaches: %v", c.Journey, c.MissedNodes)
		}
	}
}

func parse(t *testing.T, doc string) *Suite {
	t.Helper()
	s, err := Parse("case.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestFailuresAreReported(t *testing.T) {
	const head = "journey: login\nusers: [{username: alice, password: pw}]\ncases:\n  - name: c\n"
	for _, tc := range []struct {
		name, steps, want string
	}{
		{"wrong result", `    steps:
      - input: {NameCallback: alice, PasswordCallback: pw}
      - expect: {result: failure}`, "case.yaml:7: step 2: got success, want failure"},
		{"wrong callbacks", `    steps:
      - expect: {callbacks: [NameCallback]}`, "callbacks [NameCallback PasswordCallback], want [NameCallback]"},
		{"wrong stage", `    steps:
      - expect: {stage: Other}`, `stage UsernamePassword, want "Other"`},
		{"text not shown", `    steps:
      - expect: {shows: Welcome}`, `no callback shows "Welcome"`},
		{"no such callback", `    steps:
      - input: {ChoiceCallback: 1}
      - expect: {result: success}`, "input ChoiceCallback: no such callback in this step"},
		{"step after the end", `    steps:
      - input: {NameCallback: alice, PasswordCallback: pw}
      - input: {NameCallback: alice}
      - expect: {result: success}`, "case.yaml:7: step 2: got success, want a step"},
		{"device without a push", `    steps:
      - device: approve`, "device approve:"},
		{"no recovery code", `    steps:
      - input: {NameCallback: $recovery_code, PasswordCallback: pw}
      - expect: {result: failure}`, "no recovery code left"},
		{"unknown journey", "", `journey "nope"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := head + tc.steps
			if tc.steps == "" {
				doc = "journey: nope\ncases:\n  - name: c\n    steps:\n      - expect: {result: success}\n"
			}
			rep := Run(context.Background(), []*Suite{parse(t, doc)}, Options{})
			if !rep.Failed() || len(rep.Results) != 1 {
				t.Fatalf("not reported as failed: %+v", rep.Results)
			}
			if !strings.Contains(rep.Results[0].Failure, tc.want) {
				t.Fatalf("failure %q, want %q", rep.Results[0].Failure, tc.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for name, tc := range map[string]struct{ doc, want string }{
		"unknown field":  {"journey: login\ncases:\n  - name: a\n    stpes: []\n", "field stpes not found"},
		"no journey":     {"cases:\n  - name: a\n    steps: [{}]\n", "case.yaml:1: no journey"},
		"no cases":       {"journey: login\n", "no cases"},
		"unnamed case":   {"journey: login\ncases:\n  - steps: [{}]\n", "case.yaml:3: a case needs a name"},
		"same names":     {"journey: login\ncases:\n  - {name: a, steps: [{}]}\n  - {name: a, steps: [{}]}\n", `two cases are named "a"`},
		"bad device":     {"journey: login\ncases:\n  - name: a\n    steps:\n      - device: shake\n", `case.yaml:5: device "shake"`},
		"bad result":     {"journey: login\ncases:\n  - name: a\n    steps:\n      - expect: {result: maybe}\n", `result "maybe"`},
		"end not last":   {"journey: login\ncases:\n  - name: a\n    steps:\n      - expect: {result: success}\n      - {}\n", "must be the last"},
		"bad duration":   {"journey: login\ncases:\n  - name: a\n    steps:\n      - advance: soon\n", `advance "soon"`},
		"empty":          {"", "empty file"},
		"not yaml":       {"journey: [", "case.yaml"},
		"steps are none": {"journey: login\ncases:\n  - name: a\n", `case "a" has no steps`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse("case.yaml", []byte(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestCoverageAndOutput(t *testing.T) {
	s := parse(t, `journey: login
users: [{username: alice, password: pw}]
cases:
  - name: wrong password
    steps:
      - input: {NameCallback: alice, PasswordCallback: nope}
      - expect: {result: failure}
  - name: expects success
    steps:
      - input: {NameCallback: alice, PasswordCallback: nope}
      - expect: {result: success}
`)
	rep := Run(context.Background(), []*Suite{s}, Options{})
	if len(rep.Coverage) != 1 {
		t.Fatalf("coverage %+v", rep.Coverage)
	}
	c := rep.Coverage[0]
	if c.Nodes != 2 || c.Reached != 2 || c.Outcomes != 3 || c.Taken != 2 || !slices.Equal(c.MissedOutcomes, []string{"check.true"}) {
		t.Fatalf("coverage %+v", c)
	}
	var gt, tap bytes.Buffer
	rep.WriteGoTest(&gt)
	rep.WriteTAP(&tap)
	for _, want := range []string{
		"--- PASS: case.yaml/wrong password", "--- FAIL: case.yaml/expects success",
		"    case.yaml:11: step 2: got failure, want success",
		"coverage: login: 2/2 nodes reached, 2/3 outcomes taken", "outcomes never taken: check.true", "\nFAIL\n",
	} {
		if !strings.Contains(gt.String(), want) {
			t.Errorf("go test output lacks %q:\n%s", want, gt.String())
		}
	}
	for _, want := range []string{"TAP version 13\n1..2\n", "ok 1 - case.yaml/wrong password", "not ok 2 - case.yaml/expects success",
		"  ---\n  message: |\n    case.yaml:11: step 2", "# coverage: login"} {
		if !strings.Contains(tap.String(), want) {
			t.Errorf("TAP output lacks %q:\n%s", want, tap.String())
		}
	}
}

// TestDisabledJourneys: Options.Disabled disables journeys as an admin does, so a case
// of a disabled journey cannot start it, and the others still run.
func TestDisabledJourneys(t *testing.T) {
	s := parse(t, "journey: login\nusers: [{username: alice, password: pw}]\ncases:\n  - name: c\n    steps:\n      - input: {NameCallback: alice, PasswordCallback: pw}\n      - expect: {result: success}\n")
	if rep := Run(context.Background(), []*Suite{s}, Options{Disabled: []string{"push-mfa"}}); rep.Failed() {
		t.Fatalf("login with push-mfa disabled: %+v", rep.Results)
	}
	rep := Run(context.Background(), []*Suite{s}, Options{Disabled: []string{"login"}})
	if !rep.Failed() || !strings.Contains(rep.Results[0].Failure, "the journey is disabled") {
		t.Fatalf("a case of a disabled journey ran: %+v", rep.Results)
	}
}
