package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/arbor-auth/arbor/internal/testredis"
)

// The seed's curl commands (seed 003, "Alternative Fortigate Authentication API"),
// verbatim: they speak to https://192.168.5.130 and are sent there through a proxy
// (https_proxy) that tunnels to Arbor, so not a character of them changes. The PUT
// example's second header line lacks its trailing backslash in the seed, so its -d line
// runs as a separate (failing) shell command and the PUT goes with no body, as it
// would for anyone pasting it: Arbor renews from the Authorization header alone.
const (
	seedCookieLogin = `curl -k -X "POST" "https://192.168.5.130/api/v2/authentication" \
-c cookies.txt -H "Content-Type: json" \
-d "{ \"username\": \"admin\", \"secretkey\":\"12345\", \"ack_post_disclaimer\":true}"`
	seedKeyLogin = `curl -k -X "POST" "https://192.168.5.130/api/v2/authentication" \
-H "Content-Type: json" \
-d "{ \"username\": \"admin\", \"secretkey\":\"12345\", \"request_key\":true}"`
	seedRenew = `curl -k -X "PUT" "https://192.168.5.130/api/v2/authentication" \
-H "Content-Type: json" \
-H "Authorization: Bearer hsGcgjss4b8073wnk6x07GQ7dxHy71"
-d "{ \"session_key\": \"hsGcgjss4b8073wnk6x07GQ7dxHy71\"}"`
	// seedKey is the session key in the seed's PUT example: the one string the test
	// replaces, with the key Arbor answered.
	seedKey = "hsGcgjss4b8073wnk6x07GQ7dxHy71"
)

// tunnel is an HTTP proxy that answers CONNECT by tunnelling to an https server in
// front of target, so curl's https://192.168.5.130 reaches Arbor.
func tunnel(t *testing.T, target string) string {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewTLSServer(httputil.NewSingleHostReverseProxy(u))
	t.Cleanup(front.Close)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 4096)
				n, err := c.Read(buf)
				if err != nil || !strings.HasPrefix(string(buf[:n]), "CONNECT 192.168.5.130:443 ") {
					io.WriteString(c, "HTTP/1.1 403 Forbidden\r\n\r\n")
					return
				}
				up, err := net.Dial("tcp", front.Listener.Addr().String())
				if err != nil {
					return
				}
				defer up.Close()
				io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n")
				go io.Copy(up, c)
				io.Copy(c, up)
			}()
		}
	}()
	return "http://" + l.Addr().String()
}

// curl runs a shell script of curl commands in dir through proxy and returns stdout.
func curl(t *testing.T, dir, proxy, script string) string {
	t.Helper()
	cmd := exec.Command("bash", "-c", script)
	cmd.Dir = dir
	env := []string{"https_proxy=" + proxy, "HTTPS_PROXY=" + proxy, "NO_PROXY=", "no_proxy="}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch strings.ToLower(k) {
		case "https_proxy", "http_proxy", "all_proxy", "no_proxy":
			continue
		}
		env = append(env, kv)
	}
	cmd.Env = env
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	_ = cmd.Run() // the seed's PUT example ends in a failing line; its output is what counts
	if out.Len() == 0 {
		t.Fatalf("curl printed nothing; stderr: %s", errb.String())
	}
	return out.String()
}

func decode(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSpace(s)), &m); err != nil {
		t.Fatalf("not one JSON answer: %q", s)
	}
	return m
}

// TestFortiGateCurl runs the seed's curl commands against `arbor serve` on Redis: two
// instances whose fortigate journey has a post-login banner (the seed's first
// example), one without banners (the second, and the renewal); a login started on one
// instance continues on the other.
func TestFortiGateCurl(t *testing.T) {
	_, err := exec.LookPath("curl")
	need(t, err == nil, "curl", "apt-get install curl")
	rs := testredis.Start(t)
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), "journeys", "builtin", "fortigate.json"))
	if err != nil {
		t.Fatal(err)
	}
	var j map[string]any
	if err := json.Unmarshal(raw, &j); err != nil {
		t.Fatal(err)
	}
	j["name"] = "fortigate-post"
	nodes := j["nodes"].(map[string]any)
	nodes["check"].(map[string]any)["outcomes"].(map[string]any)["true"] = "post"
	nodes["post"] = map[string]any{"type": "disclaimer", "config": map[string]any{"position": "post", "text": map[string]any{"en": "POST WARNING: authorised use only."}},
		"outcomes": map[string]any{"accepted": "sender", "declined": "failure"}}
	jb, _ := json.Marshal(j)
	jdir := t.TempDir()
	if err := os.WriteFile(filepath.Join(jdir, "fortigate-post.json"), jb, 0o600); err != nil {
		t.Fatal(err)
	}
	users := writeFile(t, "users.yaml", "users:\n  - {username: admin, password: \"12345\", realm: /}\n")
	banner := writeFile(t, "banner.yaml", "fortigate: {enabled: true, journey: fortigate-post}\n")
	plain := writeFile(t, "plain.yaml", "fortigate: {enabled: true}\n")
	common := append([]string{"--redis", rs.URL(), "--secret", sharedSecret}, fastHash...)
	a1, _ := startServer(t, append(common, "--data", t.TempDir(), "--users", users, "--config", banner, "--journeys", jdir)...)
	a2, _ := startServer(t, append(common, "--data", t.TempDir(), "--config", banner, "--journeys", jdir)...)
	b, _ := startServer(t, append(common, "--data", t.TempDir(), "--config", plain)...)
	dir := t.TempDir()

	// Example 1: cookies, post-login banner acknowledged in the same request.
	got := decode(t, curl(t, dir, tunnel(t, a1.URL), seedCookieLogin))
	if got["status_code"] != 5.0 || got["status_message"] != "LOGIN_SUCCESS" || got["post_login_disclaimer"] != "POST WARNING: authorised use only." {
		t.Fatalf("example 1: %v", got)
	}
	jar, err := os.ReadFile(filepath.Join(dir, "cookies.txt"))
	if err != nil || !strings.Contains(string(jar), "\tccsrftoken\t") || !strings.Contains(string(jar), "\tiPlanetDirectoryPro\t") {
		t.Fatalf("cookies.txt: %s %v", jar, err)
	}

	// The same login in two requests, the second on another instance.
	status, first := postFortiGate(t, a1.URL, `{"username":"admin","secretkey":"12345","request_key":true}`)
	if status != 200 || first["status_code"] != 3.0 {
		t.Fatalf("without the acknowledgement: %d %v", status, first)
	}
	status, second := postFortiGate(t, a2.URL, fmt.Sprintf(`{"session_key":%q,"ack_post_disclaimer":true}`, first["session_key"]))
	if status != 200 || second["status_code"] != 5.0 || second["session_key_timeout"] != "5" {
		t.Fatalf("continued on the other instance: %d %v", status, second)
	}

	// Example 2: a session key, no banners.
	proxyB := tunnel(t, b.URL)
	got = decode(t, curl(t, dir, proxyB, seedKeyLogin))
	key, _ := got["session_key"].(string)
	if got["status_code"] != 5.0 || key == "" || got["session_key_timeout"] != "5" {
		t.Fatalf("example 2: %v", got)
	}
	// Renewal, with the key Arbor gave in place of the seed's.
	got = decode(t, curl(t, dir, proxyB, strings.ReplaceAll(seedRenew, seedKey, key)))
	fresh, _ := got["session_key"].(string)
	if got["status_id"] != "TOKEN_RENEWAL_SUCCESS" || got["status"] != "Token renewal succeeded." || fresh == "" || fresh == key {
		t.Fatalf("renewal: %v", got)
	}
	got = decode(t, curl(t, dir, proxyB, strings.ReplaceAll(seedRenew, seedKey, key)))
	if got["http_status"] != 401.0 || got["status"] != "error" {
		t.Fatalf("renewal with the old key: %v", got)
	}
}

// postFortiGate posts body to base's /api/v2/authentication.
func postFortiGate(t *testing.T, base, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/api/v2/authentication", strings.NewReader(body))
	req.Header.Set("Content-Type", "json")
	c := &http.Client{Timeout: 60 * time.Second}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(res.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, m
}
