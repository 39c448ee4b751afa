package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// nginxConf is the nginx configuration the README documents; this test runs it as it
// is, with only the addresses changed.
const nginxConf = "docs/proxies/nginx.conf"

// nginxBin finds nginx (Debian installs it in /usr/sbin, not always on PATH).
func nginxBin(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	_, err := os.Stat("/usr/sbin/nginx")
	need(t, err == nil, "nginx", "apt-get install nginx")
	return "/usr/sbin/nginx"
}

// startNginx runs nginx with the documented server block, pointed at arbor and app,
// on a free loopback port, and returns its base URL.
func startNginx(t *testing.T, arborAddr, appAddr string) string {
	t.Helper()
	bin := nginxBin(t)
	doc, err := os.ReadFile(filepath.Join(repoRoot(t), nginxConf))
	if err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	site := string(doc)
	for old, new := range map[string]string{
		"server 127.0.0.1:8080;": "server " + arborAddr + ";",
		"server 127.0.0.1:3000;": "server " + appAddr + ";",
		"listen 80;":             fmt.Sprintf("listen 127.0.0.1:%d;", port),
	} {
		if !strings.Contains(site, old) {
			t.Fatalf("%s no longer says %q", nginxConf, old)
		}
		site = strings.ReplaceAll(site, old, new)
	}
	dir := t.TempDir()
	conf := fmt.Sprintf(`daemon off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log info;
events { worker_connections 64; }
http {
    access_log %[1]s/access.log;
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
%[2]s
}
`, dir, site)
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-p", dir, "-c", path)
	out := &syncBuf{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
		}
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Logf("nginx output:\n%s\nerror.log:\n%s", out.String(), log)
		}
	})
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(30 * time.Second)
	for {
		r, err := http.Get(base + "/static/web/none")
		if err == nil {
			r.Body.Close()
			return base
		}
		select {
		case <-done:
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("nginx exited: %s\n%s", out.String(), log)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx did not answer on %s", base)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// seen is what the protected application received.
type seen struct {
	Path    string            `json:"path"`
	Headers map[string]string `json:"headers"`
}

// TestForwardAuthNginx puts a real nginx with auth_request, configured as the README
// says, in front of an application and a real `arbor serve`: an anonymous page load is
// sent to sign in, a real login through the browser door comes back to the page, and
// the application sees who signed in; a path that needs push sends the password-only
// session to push-mfa; identity headers a client forges never reach the application.
func TestForwardAuthNginx(t *testing.T) {
	appSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := seen{Path: r.URL.RequestURI(), Headers: map[string]string{}}
		for k, v := range r.Header {
			if strings.HasPrefix(k, "X-Arbor-") {
				s.Headers[k] = strings.Join(v, "|")
			}
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(s)
	}))
	t.Cleanup(appSrv.Close)

	users := writeFile(t, "users.yaml", `users:
  - {username: alice, password: "correct horse", attributes: {groups: [staff, ops]}}
`)
	cfg := writeFile(t, "arbor.yaml", `trusted_proxies: [127.0.0.1]
forward_auth:
  rules:
    - {path: /public, public: true}
    - {path: /admin, factors: [push]}
`)
	srv, _ := startServer(t, "--users", users, "--config", cfg, "--data", t.TempDir(), "--hash-memory-kib", "8", "--hash-iterations", "1")
	base := startNginx(t, strings.TrimPrefix(srv.URL, "http://"), strings.TrimPrefix(appSrv.URL, "http://"))

	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	noFollow := &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	follow := &http.Client{Jar: jar, Timeout: 60 * time.Second}
	get := func(c *http.Client, path string, hdr ...string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		r, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		return r, string(b)
	}
	app := func(body string) seen {
		t.Helper()
		var s seen
		if err := json.Unmarshal([]byte(body), &s); err != nil {
			t.Fatalf("not the application's answer: %q", body)
		}
		return s
	}

	// Anonymous: a page load is redirected to sign in and come back; a script gets 401.
	r, _ := get(noFollow, "/hello?x=1")
	if r.StatusCode != http.StatusFound || r.Header.Get("Location") != "/login?goto=%2Fhello%3Fx%3D1" {
		t.Fatalf("anonymous page load: %d Location %q", r.StatusCode, r.Header.Get("Location"))
	}
	r, _ = get(noFollow, "/api/things", "Accept", "application/json")
	if r.StatusCode != http.StatusUnauthorized || !strings.Contains(r.Header.Get("WWW-Authenticate"), `Bearer realm="arbor"`) {
		t.Fatalf("anonymous script: %d WWW-Authenticate %q", r.StatusCode, r.Header.Get("WWW-Authenticate"))
	}
	// A public path passes with no identity, and a forged identity header is dropped.
	r, body := get(noFollow, "/public/logo.png", "X-Arbor-User", "admin")
	if r.StatusCode != http.StatusOK {
		t.Fatalf("public path: %d %s", r.StatusCode, body)
	}
	if s := app(body); len(s.Headers) != 0 {
		t.Errorf("public path: the application saw %v", s.Headers)
	}

	// Sign in through the browser door, as a browser would: the login page, its form,
	// then back to the page first asked for.
	r, page := get(follow, "/hello?x=1")
	if r.StatusCode != http.StatusOK || !strings.Contains(page, `name="IDToken1"`) {
		t.Fatalf("login page through nginx: %d %s", r.StatusCode, page)
	}
	form := url.Values{"IDToken1": {"alice"}, "IDToken2": {"correct horse"}}
	for _, m := range regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)"`).FindAllStringSubmatch(page, -1) {
		form.Set(m[1], html.UnescapeString(m[2]))
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "text/html")
	r, err = follow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if r.StatusCode != http.StatusOK {
		t.Fatalf("after the login: %d %s", r.StatusCode, b)
	}
	s := app(string(b))
	want := map[string]string{"X-Arbor-User": "alice", "X-Arbor-Realm": "/", "X-Arbor-Level": "10",
		"X-Arbor-Factors": "pwd", "X-Arbor-Groups": "staff,ops"}
	if s.Path != "/hello?x=1" || fmt.Sprint(s.Headers) != fmt.Sprint(want) {
		t.Fatalf("after the login the application saw %+v, want /hello?x=1 with %v", s, want)
	}

	// Signed in: a forged header is overwritten by the real identity.
	_, body = get(noFollow, "/page", "X-Arbor-User", "admin", "X-Arbor-Level", "20")
	if s := app(body); s.Headers["X-Arbor-User"] != "alice" || s.Headers["X-Arbor-Level"] != "10" {
		t.Errorf("forged headers reached the application: %v", s.Headers)
	}
	// The password-only session is too weak for /admin: step up through push-mfa.
	r, _ = get(noFollow, "/admin/users")
	if r.StatusCode != http.StatusFound || r.Header.Get("Location") != "/login?goto=%2Fadmin%2Fusers&journey=push-mfa" {
		t.Errorf("password session at /admin: %d Location %q", r.StatusCode, r.Header.Get("Location"))
	}
	r, _ = get(noFollow, "/admin/users", "Accept", "application/json")
	if r.StatusCode != http.StatusUnauthorized || !strings.Contains(r.Header.Get("WWW-Authenticate"), "insufficient_user_authentication") {
		t.Errorf("password session at /admin, script: %d WWW-Authenticate %q", r.StatusCode, r.Header.Get("WWW-Authenticate"))
	}
}

// TestNginxConfIsTheREADMEs: the README shows the tested nginx configuration, verbatim.
func TestNginxConfIsTheREADMEs(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join(repoRoot(t), nginxConf))
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(repoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "```nginx\n"+string(doc)+"```\n") {
		t.Errorf("README.md does not show %s as it is: copy it into the forward-auth section", nginxConf)
	}
}
