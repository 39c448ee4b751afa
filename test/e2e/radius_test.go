package e2e

import (
	"fmt"
	"net"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/arbor-auth/arbor/internal/testredis"
)

// radclient sends one Access-Request with FreeRADIUS's radclient and returns the code
// received ("" for no answer) and radclient's output.
func radclient(t *testing.T, addr, secret, attrs string, timeout int) (string, string) {
	t.Helper()
	_, err := exec.LookPath("radclient")
	need(t, err == nil, "radclient", "apt-get install freeradius-utils")
	cmd := exec.Command("radclient", "-x", "-t", fmt.Sprint(timeout), "-r", "1", addr, "auth", secret)
	cmd.Stdin = strings.NewReader(attrs + "\nMessage-Authenticator = 0x00\n")
	out, _ := cmd.CombinedOutput()
	if m := regexp.MustCompile(`Received (Access-\w+) Id`).FindSubmatch(out); m != nil {
		return string(m[1]), string(out)
	}
	if !strings.Contains(string(out), "No reply from server") {
		t.Fatalf("radclient: %s", out)
	}
	return "", string(out)
}

func freeUDPPort(t *testing.T) int {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// TestRADIUSServe: `arbor serve` on Redis with a radius section answers radclient:
// Access-Accept with the user's group as Fortinet-Group-Name for the right password,
// Access-Reject for a wrong one, nothing for a wrong secret; with Redis paused a
// request gets no answer (the gateway retries), and once Redis is back it is accepted.
func TestRADIUSServe(t *testing.T) {
	rs := testredis.Start(t)
	addr := fmt.Sprintf("127.0.0.1:%d", freeUDPPort(t))
	cfg := writeFile(t, "arbor.yaml", fmt.Sprintf(`radius:
  listen: %s
  clients:
    - {name: vpn-gw, networks: [127.0.0.0/8], secret: testing123, journey: login,
       reply_attributes: [{vendor: 12356, type: 1, from: radiusGroup}]}
`, addr))
	users := writeFile(t, "users.yaml", `users:
  - {username: alice, password: "correct horse battery", realm: /, attributes: {radiusGroup: LOCALS}}
`)
	_, logs := startServer(t, "--redis", rs.URL(), "--users", users, "--data", t.TempDir(), "--config", cfg)
	right := `User-Name = "alice", User-Password = "correct horse battery"`
	code, out := radclient(t, addr, "testing123", right, 10)
	if code != "Access-Accept" || !strings.Contains(out, `Fortinet-Group-Name = "LOCALS"`) {
		t.Fatalf("right password: %s", out)
	}
	if code, out := radclient(t, addr, "testing123", `User-Name = "alice", User-Password = "wrong"`, 10); code != "Access-Reject" {
		t.Fatalf("wrong password: %s", out)
	}
	if code, out := radclient(t, addr, "not-the-secret", right, 2); code != "" {
		t.Fatalf("wrong secret answered: %s", out)
	}
	rs.Pause()
	code, out = radclient(t, addr, "testing123", right, 8)
	rs.Resume()
	if code != "" {
		t.Fatalf("answered during the store outage: %s", out)
	}
	if code, out := radclient(t, addr, "testing123", right, 10); code != "Access-Accept" {
		t.Fatalf("after the outage: %s", out)
	}
	if !strings.Contains(logs.String(), "RADIUS door listening") || !strings.Contains(logs.String(), "bad_authenticator") {
		t.Errorf("the logs lack the listener or the dropped request:\n%s", logs)
	}
}
