package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/arbor-auth/arbor/internal/adminclient"
)

// journeysAdminCmds are the `arbor journeys` subcommands that talk to a running server.
// validate is among them only in its server mode (see journeysValidateOnServer).
func journeysAdminCmds() map[string]apiCmd {
	var (
		version, ifVersion int
		cases              string
	)
	versionFlag := func(fs *flag.FlagSet) {
		fs.IntVar(&ifVersion, "if-version", 0, "refuse unless this is still the current version (default: whatever is current)")
	}
	return map[string]apiCmd{
		"list": {usage: "list", args: 0, run: func(ctx context.Context, e *adminEnv) error {
			js, err := e.c.ListJourneys(ctx)
			if err != nil || e.json {
				return err
			}
			tw := table(e.stdout)
			fmt.Fprintln(tw, "NAME\tVERSION\tENABLED\tSAVED\tBY\tSOURCE")
			for _, j := range js {
				enabled := fmt.Sprint(j.Enabled)
				if j.DisabledByConfig {
					enabled += " (disabled by config)"
				}
				fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", j.Name, j.Version, enabled, when(j.Saved), orDash(j.Actor), orDash(j.Source))
			}
			return tw.Flush()
		}},
		"get": {usage: "get NAME [--version N]", args: 1,
			flags: func(fs *flag.FlagSet) {
				fs.IntVar(&version, "version", 0, "the version to get (default: the current one)")
			},
			run: func(ctx context.Context, e *adminEnv) error {
				j, err := e.c.GetJourney(ctx, e.args[0], version)
				if err != nil || e.json {
					return err
				}
				// The document alone on stdout, ready to edit and put back; which version
				// it is goes to stderr.
				if version == 0 {
					fmt.Fprintf(e.stderr, "journey %s version %d, the current one (save an edit of it with: arbor journeys put FILE --if-version %d)\n", j.Name, j.Version, j.Version)
				} else {
					fmt.Fprintf(e.stderr, "journey %s version %d\n", j.Name, j.Version)
				}
				fmt.Fprintln(e.stdout, pretty(j.Doc))
				return nil
			}},
		"put": {usage: "put FILE [--if-version N]", args: 1, flags: versionFlag, run: func(ctx context.Context, e *adminEnv) error {
			doc, err := os.ReadFile(e.args[0])
			if err != nil {
				return fmt.Errorf("%w: %v", errUsage, err)
			}
			s, err := e.c.PutJourney(ctx, doc, ifVersion)
			if err != nil {
				return err
			}
			e.printf("saved journey %s version %d\n", s.Name, s.Version)
			return nil
		}},
		"validate": {usage: "validate --server URL FILE... [--cases DIR]", args: -1,
			flags: func(fs *flag.FlagSet) {
				fs.StringVar(&cases, "cases", "", "also run the journey test cases (arbor journeys test format) in DIR on the server")
			},
			run: func(ctx context.Context, e *adminEnv) error { return validateOnServer(ctx, e, cases) }},
		"rollback": {usage: "rollback NAME VERSION [--if-version N]", args: 2, flags: versionFlag, run: func(ctx context.Context, e *adminEnv) error {
			v, err := strconv.Atoi(e.args[1])
			if err != nil || v < 1 {
				return fmt.Errorf("%w: VERSION %q is not a version number", errUsage, e.args[1])
			}
			s, err := e.c.Rollback(ctx, e.args[0], v, ifVersion)
			if err != nil {
				return err
			}
			e.printf("journey %s: version %d, a copy of version %d, is now current\n", s.Name, s.Version, v)
			return nil
		}},
		"diff": {usage: "diff NAME A B", args: 3, run: func(ctx context.Context, e *adminEnv) error {
			var ab [2]int
			for i, s := range e.args[1:] {
				n, err := strconv.Atoi(s)
				if err != nil || n < 1 {
					return fmt.Errorf("%w: %q is not a version number", errUsage, s)
				}
				ab[i] = n
			}
			d, err := e.c.Diff(ctx, e.args[0], ab[0], ab[1])
			if err != nil || e.json {
				return err
			}
			fmt.Fprint(e.stdout, d.Diff)
			if d.Diff != "" && !strings.HasSuffix(d.Diff, "\n") {
				fmt.Fprintln(e.stdout)
			}
			return nil
		}},
		"enable":  journeySwitchCmd(true),
		"disable": journeySwitchCmd(false),
		"delete": {usage: "delete NAME", args: 1, run: func(ctx context.Context, e *adminEnv) error {
			if err := e.c.DeleteJourney(ctx, e.args[0]); err != nil {
				return err
			}
			e.printf("deleted journey %s\n", e.args[0])
			return nil
		}},
	}
}

// journeySwitchCmd is enable or disable.
func journeySwitchCmd(on bool) apiCmd {
	verb := "disable"
	if on {
		verb = "enable"
	}
	return apiCmd{usage: verb + " NAME", args: 1, run: func(ctx context.Context, e *adminEnv) error {
		r, err := e.c.SetJourneyEnabled(ctx, e.args[0], on)
		if err != nil {
			return err
		}
		e.printf("journey %s: enabled %t\n", r.Name, r.Enabled)
		return nil
	}}
}

// validateOnServer asks the server to validate each file, printing "FILE: ok" or the
// problems as the offline command does. With casesDir, the server also runs the case
// files of DIR whose journey is the file's (`arbor journeys test` format) against it,
// printed go test style. Every file is checked; any refusal or failed case exits 1.
func validateOnServer(ctx context.Context, e *adminEnv, casesDir string) error {
	var suites []caseFile
	if casesDir != "" {
		var err error
		if suites, err = readCases(casesDir); err != nil {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
	}
	files := append([]string(nil), e.args...)
	sort.Strings(files)
	failed := false
	for _, f := range files {
		doc, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
		ok, err := validateFile(ctx, e, f, doc, suites, casesDir)
		if err != nil {
			return err
		}
		failed = failed || !ok
	}
	if failed {
		return errReported
	}
	return nil
}

// validateFile validates one file (and runs its cases) and prints the outcome; ok is
// false when the server refused the file or a case failed.
func validateFile(ctx context.Context, e *adminEnv, f string, doc []byte, suites []caseFile, casesDir string) (ok bool, err error) {
	// refused prints why the server refused the file; it reports whether it did.
	refused := func(err error) bool {
		if err == nil {
			return false
		}
		var ae *adminclient.Error
		if errors.As(err, &ae) && len(ae.Problems) > 0 {
			if !e.json { // as the offline validate prints them
				fmt.Fprintf(e.stdout, "%s: %d problem(s)\n", f, len(ae.Problems))
				for _, p := range ae.Problems {
					fmt.Fprintf(e.stdout, "  %s\n", p)
				}
			}
			return true
		}
		reportAdminError(e.stderr, f, e.c.URL, err)
		return true
	}
	if casesDir == "" {
		if err := e.c.ValidateJourney(ctx, doc); err != nil {
			return !refused(err), nil
		}
		e.printf("%s: ok\n", f)
		return true, nil
	}
	var probe struct {
		Name string `json:"name"`
	}
	_ = json.Unmarshal(doc, &probe)
	ok = true
	ran := 0
	for _, s := range suites {
		if s.Journey != probe.Name || probe.Name == "" {
			continue
		}
		ran++
		rep, err := e.c.ValidateAndTest(ctx, doc, s.Users, s.Cases)
		if err != nil {
			return !refused(err), nil
		}
		if e.json {
			ok = ok && rep.Passed
			continue
		}
		fmt.Fprintf(e.stdout, "%s: ok; cases of %s:\n", f, s.File)
		for _, r := range rep.Results {
			if r.Passed {
				fmt.Fprintf(e.stdout, "--- PASS: %s\n", r.Name)
				continue
			}
			fmt.Fprintf(e.stdout, "--- FAIL: %s\n", r.Name)
			for _, l := range strings.Split(r.Failure, "\n") {
				fmt.Fprintf(e.stdout, "    %s\n", l)
			}
		}
		for _, l := range rep.Coverage {
			fmt.Fprintf(e.stdout, "    %s\n", l)
		}
		ok = ok && rep.Passed
	}
	if ran == 0 && probe.Name != "" {
		// Validate it anyway, so its problems show; then say why nothing ran.
		if err := e.c.ValidateJourney(ctx, doc); err != nil {
			return !refused(err), nil
		}
		return false, fmt.Errorf("%w: no case file in %s is for journey %q (its \"journey\")", errUsage, casesDir, probe.Name)
	}
	if ran == 0 {
		return !refused(e.c.ValidateJourney(ctx, doc)), nil
	}
	return ok, nil
}

// errReported is returned by a command that already wrote its errors: exit 1, nothing
// more printed.
var errReported = errors.New("reported")

// caseFile is one `arbor journeys test` case file, its users and cases kept as JSON for
// the API.
type caseFile struct {
	File    string
	Journey string
	Users   json.RawMessage
	Cases   json.RawMessage
}

// readCases reads the journey test case files of dir (YAML or JSON, as `arbor journeys
// test` reads them); the server checks their cases strictly.
func readCases(dir string) ([]caseFile, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read test cases: %w", err)
	}
	var out []caseFile
	for _, en := range entries {
		ext := filepath.Ext(en.Name())
		if en.IsDir() || (ext != ".yaml" && ext != ".yml" && ext != ".json") {
			continue
		}
		p := filepath.Join(dir, en.Name())
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("read test cases: %w", err)
		}
		var s struct {
			Journey string `yaml:"journey"`
			Users   any    `yaml:"users"`
			Cases   any    `yaml:"cases"`
		}
		if err := yaml.Unmarshal(b, &s); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		cf := caseFile{File: p, Journey: s.Journey}
		if s.Users != nil {
			if cf.Users, err = json.Marshal(s.Users); err != nil {
				return nil, fmt.Errorf("%s: users: %w", p, err)
			}
		}
		if cf.Cases, err = json.Marshal(s.Cases); err != nil || s.Cases == nil {
			return nil, fmt.Errorf("%s: no cases", p)
		}
		out = append(out, cf)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no test case files (*.yaml, *.yml, *.json) in %s", dir)
	}
	return out, nil
}

// pretty indents a JSON document, or returns it as it is if it is not JSON.
func pretty(doc []byte) string {
	var b bytes.Buffer
	if err := json.Indent(&b, doc, "", "  "); err != nil {
		return string(doc)
	}
	return b.String()
}

// journeysOnServer reports whether `arbor journeys validate` args ask for the server:
// a --server or --url flag, or ARBOR_TOKEN in the environment.
func journeysOnServer(args []string) bool {
	if os.Getenv(envToken) != "" {
		return true
	}
	for _, a := range args {
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if strings.HasPrefix(a, "-") && (name == "server" || name == "url" || name == "token") {
			return true
		}
	}
	return false
}
