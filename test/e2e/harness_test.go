// Package e2e runs Arbor as users meet it: the real `arbor` binary, serving on a real
// Redis, driven by the official ForgeRock JavaScript SDK in Node and by the reference
// authenticator. Under CI=true a missing part (redis-server, node, the SDK packages)
// fails the run; elsewhere it skips with the command that installs it.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	binDir    string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// repoRoot is two levels up from this package.
func repoRoot(t testing.TB) string {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Clean(filepath.Join(wd, "..", ".."))
}

// arbor builds the arbor binary once per test run.
func arbor(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "arbor-e2e-")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "arbor")
		cmd := exec.Command("go", "build", "-race", "-o", binPath, ".")
		cmd.Dir = repoRoot(t)
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// need fails under CI=true and skips otherwise when a part is missing.
func need(t testing.TB, ok bool, what, install string) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is missing: %s", what, install)
	}
	t.Skipf("%s is missing (%s)", what, install)
}

// sdkDir returns test/sdk after checking Node and the SDK packages are there.
func sdkDir(t testing.TB) string {
	t.Helper()
	_, err := exec.LookPath("node")
	need(t, err == nil, "node", "apt-get install nodejs npm")
	dir := filepath.Join(repoRoot(t), "test", "sdk")
	_, err = os.Stat(filepath.Join(dir, "node_modules", "@forgerock", "javascript-sdk", "package.json"))
	need(t, err == nil, "the ForgeRock SDK packages", "cd test/sdk && npm ci")
	return dir
}

// server is a running `arbor serve`.
type server struct {
	URL string
	cmd *exec.Cmd
	// done is closed when the process has exited.
	done chan struct{}
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startServer runs `arbor serve` with args on a free port and waits until it is ready.
func startServer(t testing.TB, args ...string) (*server, *syncBuf) {
	t.Helper()
	port := freePort(t)
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	all := append([]string{"serve", "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--log-format", "json", "--public-url", url}, args...)
	cmd := exec.Command(arbor(t), all...)
	logs := &syncBuf{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{URL: url, cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
		}
		if t.Failed() {
			t.Logf("arbor serve output:\n%s", logs.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		r, err := http.Get(url + "/health/ready")
		if err == nil {
			r.Body.Close()
			if r.StatusCode == 200 {
				return s, logs
			}
		}
		exited := false
		select {
		case <-s.done:
			exited = true
		default:
		}
		if time.Now().After(deadline) || exited {
			t.Fatalf("arbor serve did not become ready:\n%s", logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// node runs a script of test/sdk and decodes the one JSON line it prints last.
func node(t testing.TB, timeout time.Duration, script string, args ...string) map[string]any {
	t.Helper()
	dir := sdkDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", append([]string{script}, args...)...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("node %s: %v\nstdout: %s\nstderr: %s", script, err, out.String(), errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var m map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &m); err != nil {
		t.Fatalf("node %s printed %q: %v (stderr %s)", script, out.String(), err, errb.String())
	}
	return m
}

func writeFile(t testing.TB, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// postJSON posts body and decodes the JSON answer.
func postJSON(t testing.TB, url string, body any, hdr ...string) (int, map[string]any) {
	t.Helper()
	var rd *bytes.Reader
	if body == nil {
		rd = bytes.NewReader(nil)
	} else {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(http.MethodPost, url, rd)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	var m map[string]any
	json.NewDecoder(r.Body).Decode(&m)
	return r.StatusCode, m
}
