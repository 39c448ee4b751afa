package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/arbor-auth/arbor/internal/app"
	"github.com/arbor-auth/arbor/internal/testredis"
	"github.com/arbor-auth/arbor/journeys"
	"github.com/arbor-auth/arbor/journeys/forgerock"
	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/store/redisstore"
)

const frodoUsers = `users:
  - username: amadmin
    password: "admin password 1"
    realm: /
    attributes: {roles: [admin]}
  - username: alice
    password: "correct horse battery"
    realm: /
`

// frodoCLI runs test/sdk's frodo-cli (pinned by its package-lock.json) with home as
// HOME, so that its connection profiles and token cache are the test's own.
type frodoCLI struct {
	t         *testing.T
	bin, home string
	dir       string // working directory (exports are written here)
}

func newFrodo(t *testing.T) *frodoCLI {
	t.Helper()
	dir := sdkDir(t)
	bin := filepath.Join(dir, "node_modules", ".bin", "frodo")
	_, err := os.Stat(bin)
	need(t, err == nil, "frodo-cli", "cd test/sdk && npm ci")
	return &frodoCLI{t: t, bin: bin, home: t.TempDir(), dir: t.TempDir()}
}

// ansi matches the colour escapes frodo prints.
var ansi = regexp.MustCompile(`\x1b\[[0-9;]*m`)

// exec runs frodo with args and returns its combined output without colours.
func (f *frodoCLI) exec(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, f.bin, args...)
	cmd.Dir = f.dir
	cmd.Env = append(os.Environ(), "HOME="+f.home, "NO_COLOR=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return ansi.ReplaceAllString(out.String(), ""), err
}

// run is exec that fails the test unless frodo exits 0.
func (f *frodoCLI) run(args ...string) string {
	f.t.Helper()
	out, err := f.exec(args...)
	if err != nil {
		f.t.Fatalf("frodo %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// fail is exec that fails the test if frodo exits 0.
func (f *frodoCLI) fail(args ...string) string {
	f.t.Helper()
	out, err := f.exec(args...)
	if err == nil {
		f.t.Fatalf("frodo %s succeeded:\n%s", strings.Join(args, " "), out)
	}
	return out
}

// TestFrodoCLI: frodo-cli 3.1.0 from npm, unmodified, manages Arbor's journeys as those
// of a classic AM: it saves a connection (zero-page login as an admin, serverinfo,
// getSessionInfo), lists the journeys, exports push-mfa in a form Arbor's importer reads
// back, imports a push registration journey exported from AM (which Arbor stores as a
// new, valid journey that then runs), refuses a journey with a node type Arbor does not
// have (saving nothing), and deletes the imported journey. With Redis down, reading the
// journeys is a 503.
func TestFrodoCLI(t *testing.T) {
	rs := testredis.Start(t)
	srv, logs := startServer(t, "--redis", rs.URL(), "--users", writeFile(t, "users.yaml", frodoUsers), "--data", t.TempDir())
	st, err := redisstore.Open(rs.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	repo := journeys.NewRepo(st, journeys.CompileOptions{Registry: app.NewRegistry(), Deps: &nodes.Deps{}})
	ctx := context.Background()
	frodo := newFrodo(t)

	out := frodo.run("conn", "save", "--type", "classic", srv.URL, "amadmin", "admin password 1")
	if !strings.Contains(out, "Connected to "+srv.URL+" [/] as user amadmin") || !strings.Contains(out, "Saved connection profile "+srv.URL) {
		t.Fatalf("conn save:\n%s", out)
	}
	if !strings.Contains(logs.String(), `"door":"rest"`) {
		t.Errorf("no session was created through the REST door:\n%s", logs.String())
	}

	list := func() []string {
		out := frodo.run("journey", "list", srv.URL)
		var names []string
		for _, l := range strings.Split(out, "\n") {
			if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "Connected to") {
				names = append(names, l)
			}
		}
		return names
	}
	names, err := repo.Names(ctx)
	if err != nil {
		t.Fatal(err)
	}
	builtins := strings.Join(names, ",") // the built-in journeys, sorted
	if got := strings.Join(list(), ","); got != builtins || !strings.Contains(got, "push-mfa") {
		t.Fatalf("journey list: %s, want %s", got, builtins)
	}

	out = frodo.run("journey", "export", "-i", "push-mfa", srv.URL)
	if !strings.Contains(out, "Exported push-mfa to ") {
		t.Fatalf("journey export:\n%s", out)
	}
	exported, err := os.ReadFile(filepath.Join(frodo.dir, "push-mfa.journey.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ex struct {
		Meta       map[string]any            `json:"meta"`
		Tree       map[string]any            `json:"tree"`
		Nodes      map[string]map[string]any `json:"nodes"`
		InnerNodes map[string]map[string]any `json:"innerNodes"`
	}
	if err := json.Unmarshal(exported, &ex); err != nil {
		t.Fatal(err)
	}
	head, err := repo.Head(ctx, "push-mfa")
	if err != nil {
		t.Fatal(err)
	}
	if ex.Tree["_id"] != "push-mfa" || len(ex.Nodes) != len(head.Journey.Nodes) || len(ex.InnerNodes) != 2 ||
		ex.Meta["exportTool"] != "frodo" || ex.Meta["originAmVersion"] != "7.5.0" {
		t.Fatalf("export: tree %v, %d nodes (journey has %d), %d inner nodes, meta %v", ex.Tree["_id"], len(ex.Nodes), len(head.Journey.Nodes), len(ex.InnerNodes), ex.Meta)
	}
	back := forgerock.Import([]forgerock.File{{Name: "push-mfa.journey.json", Data: exported}}, forgerock.Options{Registry: app.NewRegistry()})
	if !back.OK() || len(back.Journeys) != 1 || back.Journeys[0].Name != "push-mfa" {
		t.Fatalf("frodo's export of push-mfa does not import back: %+v", back)
	}

	fixture, err := filepath.Abs(filepath.Join("testdata", "PushRegistration.journey.json"))
	if err != nil {
		t.Fatal(err)
	}
	out = frodo.run("journey", "import", "-i", "PushRegistration", "-f", fixture, srv.URL)
	if !strings.Contains(out, "Imported PushRegistration.") {
		t.Fatalf("journey import:\n%s", out)
	}
	imported, err := repo.Head(ctx, "pushregistration")
	if err != nil {
		t.Fatalf("the imported journey is not in the store: %v", err)
	}
	if imported.Version != 1 || imported.Journey.Nodes["c3d4e5f6-0718-4293-a4b5-c6d7e8f90a12"].Type != "push_registration" {
		t.Fatalf("imported journey: version %d, nodes %v", imported.Version, imported.Journey.Nodes)
	}
	if _, err := repo.Validate(ctx, imported.Raw); err != nil {
		t.Fatalf("the imported journey does not validate: %v", err)
	}
	if got := strings.Join(list(), ","); got != strings.Replace(builtins, "push-mfa", "push-mfa,pushregistration", 1) {
		t.Fatalf("journey list after import: %s", got)
	}
	// The imported journey runs: alice's password (zero-page) leads to the QR code.
	status, step := postJSON(t, srv.URL+"/json/realms/root/authenticate?authIndexType=service&authIndexValue=pushregistration", nil,
		"X-OpenAM-Username", "alice", "X-OpenAM-Password", "correct horse battery")
	if status != 200 || !strings.Contains(mustJSON(t, step), "pushauth://push/Example%20Corp:alice") {
		t.Fatalf("the imported journey does not reach push registration: %d %v", status, step)
	}

	// A node type Arbor does not have refuses the import, and nothing is saved.
	var bad map[string]any
	fixtureData, err := os.ReadFile(fixture)
	if err != nil {
		t.Fatal(err)
	}
	json.Unmarshal(bytes.ReplaceAll(bytes.ReplaceAll(fixtureData, []byte("RecoveryCodeDisplayNode"), []byte("WebAuthnRegistrationNode")),
		[]byte(`"PushRegistration"`), []byte(`"WebAuthnRegistration"`)), &bad)
	badFile := filepath.Join(frodo.dir, "webauthn.journey.json")
	b, _ := json.Marshal(bad)
	os.WriteFile(badFile, b, 0o600)
	out = frodo.fail("journey", "import", "-i", "WebAuthnRegistration", "-f", badFile, srv.URL)
	if !strings.Contains(out, "WebAuthnRegistrationNode doesn't exist in deployment") {
		t.Fatalf("import of an unsupported node type:\n%s", out)
	}
	if _, err := repo.Head(ctx, "webauthnregistration"); !errors.Is(err, journeys.ErrNotFound) {
		t.Fatalf("a refused journey was saved: %v", err)
	}

	// The enabled flag travels both ways: a tree imported disabled is disabled, frodo's
	// export of it says so, and importing that export again (after a delete) brings the
	// journey back disabled.
	disabledFile := filepath.Join(frodo.dir, "disabled.journey.json")
	os.WriteFile(disabledFile, bytes.Replace(fixtureData, []byte(`"enabled": true`), []byte(`"enabled": false`), 1), 0o600)
	frodo.run("journey", "import", "-i", "PushRegistration", "-f", disabledFile, srv.URL)
	isEnabled := func(when string, want bool) {
		t.Helper()
		if _, en, err := repo.Latest(ctx, "pushregistration"); err != nil || en != want {
			t.Fatalf("%s: enabled %t (%v), want %t", when, en, err, want)
		}
	}
	isEnabled("imported with enabled false", false)
	frodo.run("journey", "export", "-i", "pushregistration", srv.URL)
	reexported, err := os.ReadFile(filepath.Join(frodo.dir, "pushregistration.journey.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rex struct {
		Tree map[string]any `json:"tree"`
	}
	if err := json.Unmarshal(reexported, &rex); err != nil || rex.Tree["enabled"] != false {
		t.Fatalf("frodo's export of a disabled journey: %v %v", rex.Tree["enabled"], err)
	}
	frodo.run("journey", "delete", "-i", "pushregistration", srv.URL)
	frodo.run("journey", "import", "-i", "pushregistration", "-f", filepath.Join(frodo.dir, "pushregistration.journey.json"), srv.URL)
	isEnabled("imported again from frodo's export", false)
	frodo.run("journey", "import", "-i", "PushRegistration", "-f", fixture, srv.URL)
	isEnabled("imported with enabled true", true)

	out = frodo.run("journey", "delete", "-i", "PushRegistration", srv.URL)
	if !strings.Contains(out, "Deleted PushRegistration") || strings.Contains(out, "Error") {
		t.Fatalf("journey delete:\n%s", out)
	}
	if _, err := repo.Head(ctx, "pushregistration"); !errors.Is(err, journeys.ErrNotFound) {
		t.Fatalf("the deleted journey is still there: %v", err)
	}
	if got := strings.Join(list(), ","); got != builtins {
		t.Fatalf("journey list after delete: %s", got)
	}
	// With the store down, reading journeys is AM's 503, not a wrong answer.
	status, login := postJSON(t, srv.URL+"/json/realms/root/authenticate", nil, "X-OpenAM-Username", "amadmin", "X-OpenAM-Password", "admin password 1")
	tok, _ := login["tokenId"].(string)
	if status != 200 || tok == "" {
		t.Fatalf("zero-page login of the admin: %d %v", status, login)
	}
	rs.Pause()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/json/realms/root/realm-config/authentication/authenticationtrees/trees?_queryFilter=true", nil)
	req.Header.Set("Cookie", "iPlanetDirectoryPro="+tok)
	r, err := http.DefaultClient.Do(req)
	rs.Resume()
	if err != nil {
		t.Fatal(err)
	}
	var outage map[string]any
	json.NewDecoder(r.Body).Decode(&outage)
	r.Body.Close()
	if r.StatusCode != 503 || outage["code"] != float64(503) || !strings.Contains(fmt.Sprint(outage["message"]), "store") {
		t.Fatalf("trees during a store outage: %d %v", r.StatusCode, outage)
	}

	for _, ev := range []string{`"event":"admin.journey.created"`, `"event":"admin.journey.deleted"`} {
		if !strings.Contains(logs.String(), ev) {
			t.Errorf("no %s audit event", ev)
		}
	}
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
