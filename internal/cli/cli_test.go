package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/arbor-auth/arbor/identity"
)

func run(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestCommands(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	os.WriteFile(good, []byte(`{"name":"good","start":"a","nodes":{"a":{"type":"username","outcomes":{"outcome":"success"}}}}`), 0o644)
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"name":"bad","start":"a","nodes":{"a":{"type":"push_sender","config":{"push_type":"loud"},"outcomes":{"sent":"nowhere"}}}}`), 0o644)
	for _, tc := range []struct {
		name   string
		stdin  string
		args   []string
		code   int
		stdout []string
		stderr string
	}{
		{"validate good", "", []string{"journeys", "validate", good}, 0, []string{"good.json: ok"}, ""},
		{"validate bad lists every problem", "", []string{"journeys", "validate", good, bad}, 1,
			[]string{"bad.json: ", "/nodes/a/config/push_type: bad_config", "/nodes/a/outcomes/sent: dangling_target", "good.json: ok"}, ""},
		{"validate built-ins", "", []string{"journeys", "validate", "../../journeys/builtin/login.json", "../../journeys/builtin/push-mfa.json"}, 0, []string{"login.json: ok", "push-mfa.json: ok"}, ""},
		{"validate missing file", "", []string{"journeys", "validate", filepath.Join(dir, "none.json")}, 1, nil, "no such file"},
		{"validate without files", "", []string{"journeys", "validate"}, 2, nil, "usage"},
		{"schema", "", []string{"journeys", "schema"}, 0, []string{`"config_push_sender"`, `"config_page"`}, ""},
		{"palette", "", []string{"journeys", "nodes"}, 0, []string{`"type": "push_wait"`, `"outcomes"`}, ""},
		{"config table", "", []string{"config", "table"}, 0, []string{"ARBOR_LISTEN"}, ""},
		{"journeys nodes table", "", []string{"journeys", "nodes", "table"}, 0, []string{"| `push_sender` | mfa |"}, ""},
		{"users hash", "s3cret\n", []string{"users", "hash"}, 0, []string{"$argon2id$v=19$m=19456,t=2,p=1$"}, ""},
		{"users hash empty", "\n", []string{"users", "hash"}, 1, nil, "arbor users hash"},
		{"unknown command", "", []string{"frobnicate"}, 2, nil, `unknown command "frobnicate"`},
		{"bad serve flag", "", []string{"serve", "--nope"}, 2, nil, "not defined"},
		{"help lists every command", "", []string{"help"}, 0, []string{"arbor journeys validate", "arbor login", "arbor device", "arbor version", "arbor bench", "arbor config table", "arbor users hash"}, ""},
		{"version", "", []string{"version"}, 0, []string{"arbor ", "go1."}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := run(t, tc.stdin, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, out, errs)
			}
			for _, want := range tc.stdout {
				if !strings.Contains(out, want) {
					t.Errorf("stdout lacks %q:\n%s", want, out)
				}
			}
			if tc.stderr != "" && !strings.Contains(errs, tc.stderr) {
				t.Errorf("stderr lacks %q:\n%s", tc.stderr, errs)
			}
		})
	}
}

func TestUsersHashVerifies(t *testing.T) {
	code, out, _ := run(t, "correct horse\n", "users", "hash")
	if code != 0 {
		t.Fatal(code)
	}
	ok, err := identity.VerifyPassword(strings.TrimSpace(out), "correct horse")
	if err != nil || !ok {
		t.Fatalf("hash does not verify: %v", err)
	}
}

func TestSchemaIsJSON(t *testing.T) {
	_, out, _ := run(t, "", "journeys", "schema")
	var s map[string]any
	if err := json.Unmarshal([]byte(out), &s); err != nil || s["$schema"] == nil {
		t.Fatalf("schema: %v", err)
	}
}

func TestBrowseURL(t *testing.T) {
	for _, tc := range []struct{ public, addr, want string }{
		{"", "127.0.0.1:8080", "http://127.0.0.1:8080"},
		{"", "0.0.0.0:8080", "http://localhost:8080"},
		{"", "[::]:8080", "http://localhost:8080"},
		{"https://id.example.com/", "0.0.0.0:8080", "https://id.example.com"},
	} {
		if got := browseURL(tc.public, tc.addr); got != tc.want {
			t.Errorf("browseURL(%q, %q) = %q, want %q", tc.public, tc.addr, got, tc.want)
		}
	}
}

// TestDemoBanner: serve --demo lists the pages to open and says its push limit is the
// demo's looser one.
func TestDemoBanner(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errs syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, []string{"serve", "--demo", "--data", t.TempDir(), "--listen", "127.0.0.1:0",
			"--hash-memory-kib", "8", "--hash-iterations", "1", "--log-level", "error"}, strings.NewReader(""), &out, &errs)
	}()
	waitFor(t, &out, `Pushes are limited`)
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("serve exit %d: %s", code, errs.String())
	}
	for _, want := range []string{"/login?journey=push-mfa", "/account/devices", "/admin/journeys", "/health/ready",
		"Pushes are limited to 30 per user per 10m0s (a looser limit for --demo; the default is 5)."} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("banner lacks %q:\n%s", want, out.String())
		}
	}
}

// TestHelpNamesEveryCommand: every command Run dispatches (the cases of its switch, read
// from the source) is listed by arbor help.
func TestHelpNamesEveryCommand(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "cli.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	ast.Inspect(f, func(n ast.Node) bool {
		fn, ok := n.(*ast.FuncDecl)
		if !ok || fn.Name.Name != "Run" {
			return true
		}
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			if cc, ok := n.(*ast.CaseClause); ok {
				for _, e := range cc.List {
					if lit, ok := e.(*ast.BasicLit); ok && lit.Kind == token.STRING {
						if name, _ := strconv.Unquote(lit.Value); !strings.HasPrefix(name, "-") {
							names = append(names, name)
						}
					}
				}
			}
			return true
		})
		return false
	})
	if len(names) < 8 {
		t.Fatalf("found only the commands %v in Run: the test no longer reads it", names)
	}
	for _, name := range names {
		if !strings.Contains(usage, "arbor "+name+" ") && !strings.Contains(usage, "arbor "+name+"\n") {
			t.Errorf("arbor help does not list %q", name)
		}
	}
}
