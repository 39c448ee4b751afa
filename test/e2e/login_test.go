package e2e

import (
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/arbor-auth/arbor/internal/testredis"
)

const usersYAML = `users:
  - username: alice
    password: "correct horse battery"
    realm: /
    attributes: {mail: alice@example.com}
`

// TestSDKLogin: the official ForgeRock JavaScript SDK logs in through the built-in
// login journey against `arbor serve` on Redis, and fails a wrong password.
func TestSDKLogin(t *testing.T) {
	rs := testredis.Start(t)
	srv, _ := startServer(t, "--redis", rs.URL(), "--users", writeFile(t, "users.yaml", usersYAML), "--data", t.TempDir(),
		"--secret", "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldC0xMjM0NTY3OA==")

	ok := node(t, 30*time.Second, "login.mjs", srv.URL, "login", "alice", "correct horse battery")
	if ok["result"] != "success" || ok["token"] == nil || ok["realm"] != "/" {
		t.Fatalf("SDK login: %v", ok)
	}
	if cbs := ok["callbacks"].([]any); len(cbs) != 2 || cbs[0] != "NameCallback" || cbs[1] != "PasswordCallback" || ok["header"] != "Sign in" {
		t.Fatalf("SDK saw %v", ok)
	}
	status, v := postJSON(t, srv.URL+"/json/realms/root/sessions/?_action=validate", map[string]any{"tokenId": ok["token"]})
	if status != 200 || v["valid"] != true || v["uid"] != "alice" {
		t.Fatalf("the SDK's session does not validate: %d %v", status, v)
	}

	bad := node(t, 30*time.Second, "login.mjs", srv.URL, "login", "alice", "wrong")
	if bad["result"] != "failure" || bad["code"] != float64(401) || bad["message"] != "Login failure" {
		t.Fatalf("SDK wrong password: %v", bad)
	}
	unknown := node(t, 30*time.Second, "login.mjs", srv.URL, "login", "mallory", "wrong")
	if unknown["result"] != "failure" || unknown["message"] != bad["message"] {
		t.Fatalf("unknown user is told apart from a wrong password: %v vs %v", unknown, bad)
	}
}

// TestStoreOutage: with Redis unreachable, a step answers 503 with a clear message and
// the flow survives; when Redis returns, the same step completes.
func TestStoreOutage(t *testing.T) {
	rs := testredis.Start(t)
	srv, _ := startServer(t, "--redis", rs.URL(), "--users", writeFile(t, "users.yaml", usersYAML), "--data", t.TempDir())
	url := srv.URL + "/json/realms/root/authenticate?authIndexType=service&authIndexValue=login"
	_, step := postJSON(t, url, nil)
	if step["authId"] == nil {
		t.Fatalf("start: %v", step)
	}
	for _, cb := range step["callbacks"].([]any) {
		m := cb.(map[string]any)
		in := m["input"].([]any)[0].(map[string]any)
		if m["type"] == "NameCallback" {
			in["value"] = "alice"
		} else {
			in["value"] = "correct horse battery"
		}
	}
	rs.Pause()
	start := time.Now()
	status, body := postJSON(t, url, step)
	if status != 503 || !strings.Contains(body["message"].(string), "store") {
		rs.Resume()
		t.Fatalf("during outage: %d %v", status, body)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the 503 took %s", d)
	}
	if r, err := http.Get(srv.URL + "/health/ready"); err != nil || r.StatusCode != 503 {
		t.Errorf("ready during outage: %v %v", r.StatusCode, err)
	}
	rs.Resume()
	status, body = postJSON(t, url, step)
	if status != 200 || body["tokenId"] == nil {
		t.Fatalf("after outage the same step should finish: %d %v", status, body)
	}
}

// TestGracefulShutdown: SIGINT lets a request in flight finish and exits 0.
func TestGracefulShutdown(t *testing.T) {
	srv, logs := startServer(t, "--data", t.TempDir(), "--demo")
	srv.cmd.Process.Signal(os.Interrupt)
	select {
	case <-srv.done:
	case <-time.After(20 * time.Second):
		t.Fatal("arbor serve did not stop on SIGINT")
	}
	if !srv.cmd.ProcessState.Success() {
		t.Fatalf("exit status %v\n%s", srv.cmd.ProcessState, logs.String())
	}
	if !strings.Contains(logs.String(), "shutting down") {
		t.Fatalf("no shutdown log:\n%s", logs.String())
	}
}
