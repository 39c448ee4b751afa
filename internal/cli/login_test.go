package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"github.com/arbor-auth/arbor/authenticator"
	"github.com/arbor-auth/arbor/internal/app/apptest"
	"github.com/arbor-auth/arbor/journeys"
)

const (
	testUser     = "alice"
	testPassword = "correct horse battery"
)

// loginServer serves a whole Arbor with alice, and push-mfa-fast: push-mfa as shipped
// but waiting one second, so the tests that poll stay quick.
func loginServer(t *testing.T) *apptest.Server {
	t.Helper()
	dir := t.TempDir()
	builtin, err := journeys.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	var j map[string]any
	if err := json.Unmarshal(builtin["push-mfa"], &j); err != nil {
		t.Fatal(err)
	}
	jdir := filepath.Join(dir, "journeys")
	if err := os.MkdirAll(jdir, 0o700); err != nil {
		t.Fatal(err)
	}
	// push-mfa-fast polls every second; push-mfa-code also takes a code during the wait.
	waitNode := j["nodes"].(map[string]any)["wait"].(map[string]any)
	wait, outcomes := waitNode["config"].(map[string]any), waitNode["outcomes"].(map[string]any)
	wait["seconds_to_wait"] = 1
	for _, v := range []struct {
		name string
		code bool
	}{{"push-mfa-fast", false}, {"push-mfa-code", true}} {
		j["name"] = v.name
		wait["accept_code"], wait["accept_recovery_code"] = v.code, v.code
		delete(outcomes, "code")
		if v.code {
			outcomes["code"] = "success"
		}
		b, _ := json.Marshal(j)
		if err := os.WriteFile(filepath.Join(jdir, v.name+".json"), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	srv := apptest.Start(t, apptest.Options{Args: []string{"--journeys", jdir}, PublicURL: true, Dir: dir})
	apptest.AddUser(t, srv.App, "/", testUser, testPassword, nil)
	return srv
}

// waitPolls lets the terminal client poll the server n more times.
func waitPolls(t *testing.T, srv *apptest.Server, n int) {
	t.Helper()
	apptest.WaitRequests(t, srv.App, "/json/*", n, 30*time.Second)
}

// syncBuffer is a bytes.Buffer the login goroutine writes while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor waits until the output matches re and returns the first submatch (or match).
func waitFor(t *testing.T, out interface{ String() string }, re string) string {
	t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if m := rx.FindStringSubmatch(out.String()); m != nil {
			return m[len(m)-1]
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("output never matched %q:\n%s", re, out.String())
	return ""
}

// TestLoginReadsPasswordWithoutEcho types at a real pseudo-terminal: the username is
// echoed as typed, the password is not.
func TestLoginReadsPasswordWithoutEcho(t *testing.T) {
	srv := loginServer(t)
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	defer tty.Close()
	var screen syncBuffer
	go func() { _, _ = io.Copy(&screen, ptmx) }()
	done := make(chan int, 1)
	go func() {
		done <- loginCmd(context.Background(), []string{"--url", srv.URL, "--journey", "login"}, tty, tty, io.Discard)
	}()
	waitFor(t, &screen, `User Name: $`)
	if _, err := ptmx.WriteString(testUser + "\n"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, &screen, `Password: $`)
	// Type only once the terminal stopped echoing: the line discipline echoes what
	// arrives, not what is read.
	deadline := time.Now().Add(10 * time.Second)
	for {
		tio, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
		if err != nil {
			t.Fatal(err)
		}
		if tio.Lflag&unix.ECHO == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the terminal still echoes at the password prompt:\n%s", screen.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := ptmx.WriteString(testPassword + "\n"); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d:\n%s", code, screen.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("login did not end:\n%s", screen.String())
	}
	waitFor(t, &screen, `Signed in`)
	if s := screen.String(); !strings.Contains(s, "User Name: "+testUser) || strings.Contains(s, testPassword) {
		t.Fatalf("want the username echoed and the password hidden, screen:\n%s", s)
	}
}

// TestLoginPushMFAFromPipe walks push-mfa with stdin piped: a number out of range is
// asked again, the registration block is printed once with this binary's own path, and
// Enter during the push wait takes "Lost phone? Use a recovery code".
func TestLoginPushMFAFromPipe(t *testing.T) {
	srv := loginServer(t)
	phone, err := authenticator.Open(filepath.Join(t.TempDir(), "phone.json"))
	if err != nil {
		t.Fatal(err)
	}
	inR, inW := io.Pipe()
	defer inW.Close()
	var out, errs syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- loginCmd(context.Background(), []string{"--url", srv.URL, "--journey", "push-mfa-fast"}, inR, &out, &errs)
	}()
	type_ := func(s string) {
		t.Helper()
		if _, err := io.WriteString(inW, s); err != nil {
			t.Fatal(err)
		}
	}
	type_(testUser + "\n" + testPassword + "\n")
	waitFor(t, &out, `Choose: $`)
	type_("9\n")
	waitFor(t, &out, `from 1 to \d+\.\nChoose: $`)
	type_("1\n")
	uri := waitFor(t, &out, `device register '(pushauth://[^']+)'`)
	self, _ := os.Executable()
	if !strings.Contains(out.String(), "  "+self+" device register '") {
		t.Errorf("the register command does not name this binary (%s):\n%s", self, out.String())
	}
	// Let a few registration polls pass: the block must not be printed again.
	waitPolls(t, srv, 2)
	if n := strings.Count(out.String(), "pushauth://"); n != 1 {
		t.Errorf("registration URI printed %d times, want once:\n%s", n, out.String())
	}
	if _, err := phone.Register(context.Background(), uri, authenticator.RegisterOptions{Name: "test phone"}); err != nil {
		t.Fatal(err)
	}
	code := waitFor(t, &out, `save them now, they are not shown again\):\n  (\S+)`)
	waitFor(t, &out, `Number to pick on your device: \d+`)
	waitFor(t, &out, `press Enter for: Lost phone\? Use a recovery code`)
	waitPolls(t, srv, 2) // a few polls of the wait
	if n := strings.Count(out.String(), "Number to pick on your device"); n != 1 {
		t.Errorf("number printed %d times, want once:\n%s", n, out.String())
	}
	type_("\n")
	waitFor(t, &out, `(?i)recovery code: $`)
	type_(code + "\n")
	select {
	case c := <-done:
		if c != 0 {
			t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", c, out.String(), errs.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("login did not end:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "Signed in") {
		t.Fatalf("not signed in:\n%s", out.String())
	}
}

// TestLoginPushCodeFromPipe: a push wait with a code field asks for the code once, not at
// every poll; Enter alone keeps waiting, a wrong code is refused and asked again, and a
// recovery code typed there signs in.
func TestLoginPushCodeFromPipe(t *testing.T) {
	srv := loginServer(t)
	phone, err := authenticator.Open(filepath.Join(t.TempDir(), "phone.json"))
	if err != nil {
		t.Fatal(err)
	}
	inR, inW := io.Pipe()
	defer inW.Close()
	var out, errs syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- loginCmd(context.Background(), []string{"--url", srv.URL, "--journey", "push-mfa-code"}, inR, &out, &errs)
	}()
	type_ := func(s string) {
		t.Helper()
		if _, err := io.WriteString(inW, s); err != nil {
			t.Fatal(err)
		}
	}
	prompts := func() int { return strings.Count(out.String(), "Enter a code instead: ") }
	type_(testUser + "\n" + testPassword + "\n")
	waitFor(t, &out, `Choose: $`)
	type_("1\n")
	uri := waitFor(t, &out, `device register '(pushauth://[^']+)'`)
	if _, err := phone.Register(context.Background(), uri, authenticator.RegisterOptions{Name: "test phone"}); err != nil {
		t.Fatal(err)
	}
	code := waitFor(t, &out, `save them now, they are not shown again\):\n  (\S+)`)
	waitFor(t, &out, `type "exit" for: Lost phone\? Use a recovery code\)\nEnter a code instead: $`)
	waitPolls(t, srv, 2) // a few polls of the wait
	if n := prompts(); n != 1 {
		t.Fatalf("code prompt shown %d times over the polls, want once:\n%s", n, out.String())
	}
	type_("\n") // Enter alone: keep waiting, neither the exit nor a new prompt
	waitPolls(t, srv, 2)
	if n := prompts(); n != 1 || strings.Contains(strings.ToLower(out.String()), "recovery code: ") {
		t.Fatalf("Enter alone did not just keep waiting (%d prompts):\n%s", n, out.String())
	}
	type_("000000\n")
	waitFor(t, &out, `Error: That code is not right\.\nEnter a code instead: $`)
	type_(code + "\n")
	select {
	case c := <-done:
		if c != 0 {
			t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", c, out.String(), errs.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("login did not end:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "Signed in") {
		t.Fatalf("not signed in:\n%s", out.String())
	}
	if n := prompts(); n != 2 {
		t.Errorf("code prompt shown %d times, want twice (first, after the wrong code):\n%s", n, out.String())
	}
}
