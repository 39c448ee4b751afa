package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arbor-auth/arbor/internal/testredis"
)

func TestJourneysImportExport(t *testing.T) {
	dir := t.TempDir()
	fixtures := []string{"../../journeys/forgerock/testdata/login.frodo.json", "../../journeys/forgerock/testdata/push-mfa.frodo.json"}
	code, out, errs := run(t, "", append([]string{"journeys", "import", "-o", dir}, fixtures...)...)
	if code != 0 {
		t.Fatalf("import: exit %d\n%s%s", code, out, errs)
	}
	for _, name := range []string{"frodologin", "frodopushmfa"} {
		p := filepath.Join(dir, name+".json")
		if !strings.Contains(out, "-> "+p) {
			t.Errorf("output does not name %s:\n%s", p, out)
		}
		if code, out, _ := run(t, "", "journeys", "validate", p); code != 0 {
			t.Errorf("imported %s does not validate:\n%s", name, out)
		}
	}

	// A journey file has no enabled flag: a tree disabled in AM is written with a note
	// saying how to keep it disabled.
	code, out, errs = run(t, "", "journeys", "import", "-o", t.TempDir(), withEnabled(t, fixtures[0], false))
	if code != 0 || !strings.Contains(out, "list frodologin in disabled_journeys to keep it disabled") {
		t.Fatalf("import of a disabled tree to a file: exit %d\n%s%s", code, out, errs)
	}

	// A refused journey is reported with its pointer and nothing of it is written.
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"tree":{"_id":"Passkey","entryNodeId":"a","nodes":{"a":{"nodeType":"WebAuthnAuthenticationNode","connections":{}}}}}`), 0o644)
	code, out, _ = run(t, "", "journeys", "import", "-o", dir, bad)
	if code != 1 || !strings.Contains(out, "/tree/nodes/a/nodeType: unsupported_node") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "passkey.json")); err == nil {
		t.Fatal("a refused journey was written")
	}

	// Export: a built-in by name and an imported file, in frodo's multi-journey shape.
	exp := filepath.Join(dir, "export.json")
	code, out, errs = run(t, "", "journeys", "export", "-o", exp, "push-mfa", filepath.Join(dir, "frodologin.json"))
	if code != 0 {
		t.Fatalf("export: exit %d\n%s%s", code, out, errs)
	}
	b, _ := os.ReadFile(exp)
	for _, want := range []string{`"trees"`, `"push-mfa"`, `"frodologin"`, `"PushAuthenticationSenderNode"`, `"innerNodes"`, `"meta"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("export lacks %s", want)
		}
	}
	// ...which imports back.
	if code, out, _ := run(t, "", "journeys", "import", "-o", t.TempDir(), exp); code != 0 {
		t.Fatalf("re-import: exit %d\n%s", code, out)
	}

	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"journeys", "import"}, 2, "usage"},
		{[]string{"journeys", "export"}, 2, "usage"},
		{[]string{"journeys", "export", "nope"}, 1, "nope is neither a journey file, a stored journey nor a built-in journey"},
		{[]string{"journeys", "export", filepath.Join(dir, "missing.json")}, 1, "no such file"},
		{[]string{"journeys", "import", filepath.Join(dir, "missing.json")}, 1, "no such file"},
	} {
		code, out, errs := run(t, "", tc.args...)
		if code != tc.code || !strings.Contains(out+errs, tc.want) {
			t.Errorf("%v: exit %d, output %q; want %d and %q", tc.args, code, out+errs, tc.code, tc.want)
		}
	}
}

func TestJourneysTest(t *testing.T) {
	code, out, errs := run(t, "", "journeys", "test", "../../journeys/builtin/tests")
	if code != 0 || !strings.Contains(out, "--- PASS: push-mfa.yaml/approve") || !strings.HasSuffix(out, "PASS\n") {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte("journey: login\ncases:\n  - name: expects success\n    steps:\n      - input: {NameCallback: x, PasswordCallback: y}\n      - expect: {result: success}\n"), 0o644)
	code, out, _ = run(t, "", "journeys", "test", "--tap", dir)
	if code != 1 || !strings.Contains(out, "not ok 1 - bad.yaml/expects success") {
		t.Fatalf("exit %d\n%s", code, out)
	}
	if code, _, errs := run(t, "", "journeys", "test", t.TempDir()); code != 1 || !strings.Contains(errs, "no test case files") {
		t.Fatalf("empty dir: exit %d %s", code, errs)
	}
	if code, _, _ := run(t, "", "journeys", "test"); code != 2 {
		t.Fatalf("no dir: exit %d", code)
	}
}

// TestJourneysImportIntoStore saves imported journeys where serve reads them: the
// embedded store of a data directory, and a real Redis that running instances share.
func TestJourneysImportIntoStore(t *testing.T) {
	fixtures := []string{"../../journeys/forgerock/testdata/login.frodo.json", "../../journeys/forgerock/testdata/push-mfa.frodo.json"}
	srv := testredis.Start(t)
	for name, flags := range map[string][]string{
		"embedded": {"--data", t.TempDir()},
		"redis":    {"--redis", srv.URL()},
	} {
		t.Run(name, func(t *testing.T) {
			code, out, errs := run(t, "", append(append([]string{"journeys", "import"}, flags...), fixtures...)...)
			if code != 0 || !strings.Contains(out, "-> journey frodopushmfa version 1") {
				t.Fatalf("exit %d\n%s%s", code, out, errs)
			}
			dir, url := flags[1], ""
			if name == "redis" {
				dir, url = "", flags[1]
			}
			repo, closeRepo, err := openOfflineRepo(dir, url)
			if err != nil {
				t.Fatal(err)
			}
			vs, err := repo.Versions(context.Background(), "frodologin")
			_, headErr := repo.Head(context.Background(), "frodopushmfa")
			closeRepo() // the embedded store's directory is locked while open
			if err != nil || len(vs) != 1 || !strings.HasPrefix(vs[0].Source, "import:") {
				t.Fatalf("versions %+v, %v", vs, err)
			}
			if headErr != nil {
				t.Fatal(headErr)
			}

			// The stored journey exports back to frodo's format.
			code, out, errs = run(t, "", append(append([]string{"journeys", "export"}, flags...), "frodologin")...)
			if code != 0 || !strings.Contains(out, `"_id": "frodologin"`) || !strings.Contains(out, `"UsernameCollectorNode"`) ||
				!strings.Contains(out, `"enabled": true`) {
				t.Fatalf("export from the store: exit %d\n%s%s", code, out, errs)
			}

			// A tree disabled in AM is saved disabled (here the same document: the
			// state alone changes), its export says so, and that export imports back
			// disabled; a tree enabled in AM enables it again.
			disabled := withEnabled(t, fixtures[0], false)
			code, out, errs = run(t, "", append(append([]string{"journeys", "import"}, flags...), disabled)...)
			if code != 0 || !strings.Contains(out, "-> journey frodologin version 1, disabled as in AM") {
				t.Fatalf("import disabled: exit %d\n%s%s", code, out, errs)
			}
			if on := enabledIn(t, dir, url, "frodologin"); on {
				t.Fatal("a tree disabled in AM was imported enabled")
			}
			exp := filepath.Join(t.TempDir(), "exp.json")
			if code, out, errs := run(t, "", append(append([]string{"journeys", "export", "-o", exp}, flags...), "frodologin")...); code != 0 {
				t.Fatalf("export disabled: exit %d\n%s%s", code, out, errs)
			}
			if b, _ := os.ReadFile(exp); !strings.Contains(string(b), `"enabled": false`) {
				t.Fatalf("the export of a disabled journey says it is enabled:\n%s", b)
			}
			if code, out, errs := run(t, "", append(append([]string{"journeys", "import"}, flags...), withEnabled(t, fixtures[0], true))...); code != 0 {
				t.Fatalf("import enabled: exit %d\n%s%s", code, out, errs)
			}
			if on := enabledIn(t, dir, url, "frodologin"); !on {
				t.Fatal("a tree enabled in AM left the journey disabled")
			}
			if code, out, errs := run(t, "", append(append([]string{"journeys", "import"}, flags...), exp)...); code != 0 || !strings.Contains(out, "-> journey frodologin version 1, disabled as in AM") {
				t.Fatalf("import of the disabled export: exit %d\n%s%s", code, out, errs)
			}
			if on := enabledIn(t, dir, url, "frodologin"); on {
				t.Fatal("the export of a disabled journey imported enabled")
			}
		})
	}
	if code, _, errs := run(t, "", "journeys", "import", "--redis", "redis://127.0.0.1:1/0", fixtures[0]); code != 1 || !strings.Contains(errs, "redis") {
		t.Fatalf("unreachable redis: exit %d %s", code, errs)
	}
}

// withEnabled writes a copy of the single-tree export at path whose tree says
// "enabled": on, and returns the copy's path.
func withEnabled(t *testing.T, path string, on bool) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var exp map[string]any
	if err := json.Unmarshal(b, &exp); err != nil {
		t.Fatal(err)
	}
	exp["tree"].(map[string]any)["enabled"] = on
	out := filepath.Join(t.TempDir(), filepath.Base(path))
	if b, err = json.Marshal(exp); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

// enabledIn reports whether journey name is enabled in the store serve reads (the
// embedded one in dir, or Redis at url).
func enabledIn(t *testing.T, dir, url, name string) bool {
	t.Helper()
	repo, closeRepo, err := openOfflineRepo(dir, url)
	if err != nil {
		t.Fatal(err)
	}
	defer closeRepo()
	on, err := repo.Enabled(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return on
}
