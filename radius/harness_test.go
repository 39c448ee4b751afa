package radius_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/authenticator"
	"github.com/arbor-auth/arbor/devices"
	"github.com/arbor-auth/arbor/internal/app"
	"github.com/arbor-auth/arbor/internal/app/apptest"
	"github.com/arbor-auth/arbor/oath"
)

var update = flag.Bool("update", false, "rewrite golden transcripts")

const (
	secret   = "s3cret-shared-with-the-gateway"
	password = "correct horse battery"
)

// env is a running Arbor with the RADIUS door on a real UDP socket, the device API on
// a real HTTP server, user alice (with the vendor attribute group) and a transcript.
type env struct {
	t      testing.TB
	app    *app.App
	addr   string // host:port of the RADIUS socket
	clock  *apptest.Clock
	audit  *audit.Recorder
	phone  *authenticator.Authenticator
	otp    []byte // alice's authenticator-app secret, once registered
	script apptest.Transcript
	secret string
}

// needRadclient fails under CI=true and skips otherwise when radclient is missing.
func needRadclient(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("radclient"); err == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("radclient is missing: apt-get install freeradius-utils (./test.sh installs it)")
	}
	t.Skip("radclient is missing (apt-get install freeradius-utils)")
}

// start is 10 s into a TOTP step, so "Please wait N seconds" reads 20.
var start = time.Date(2026, 11, 30, 9, 0, 10, 0, time.UTC)

// newEnv starts Arbor with a radius section whose one client, vpn-gw on 127.0.0.0/8,
// runs journey; extra is YAML added to the client (reply attributes).
func newEnv(t testing.TB, journey, extra string) *env {
	t.Helper()
	return newEnvConfig(t, journey, extra, "")
}

// newEnvConfig is newEnv with more config-file sections (top-level YAML).
func newEnvConfig(t testing.TB, journey, extra, sections string) *env {
	t.Helper()
	needRadclient(t)
	e := &env{t: t, clock: apptest.NewClock(start), audit: &audit.Recorder{}, secret: secret}
	dir := t.TempDir()
	yaml := fmt.Sprintf(`radius:
  listen: 127.0.0.1:0
  max_hold: 30s
  clients:
    - name: vpn-gw
      networks: [127.0.0.0/8]
      secret: %s
      journey: %s
%s%s`, secret, journey, extra, sections)
	jdir := filepath.Join(dir, "journeys")
	os.Mkdir(jdir, 0o700)
	tap, err := os.ReadFile("../journeys/builtin/radius.json")
	if err != nil {
		t.Fatal(err)
	}
	// radius-tap: the shipped journey with a tap push, held at once.
	tap = bytes.Replace(tap, []byte(`"name": "radius"`), []byte(`"name": "radius-tap"`), 1)
	tap = bytes.Replace(tap, []byte(`"push_type": "challenge"`), []byte(`"push_type": "tap"`), 1)
	os.WriteFile(filepath.Join(jdir, "radius-tap.json"), tap, 0o600)
	srv := apptest.Start(t, apptest.Options{Args: []string{"--journeys", jdir}, Config: yaml,
		Now: e.clock.Now, PublicURL: true, Dir: dir})
	a := srv.App
	a.Audit.AddSink(e.audit.Sink())
	e.app = a
	if a.RADIUS == nil || len(a.PacketListeners) != 1 {
		t.Fatal("the radius section did not add the RADIUS door")
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.addr = pc.LocalAddr().String()
	done := make(chan error, 1)
	go func() { done <- a.PacketListeners[0].Serve(pc) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := a.PacketListeners[0].Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	apptest.AddUser(t, a, "/", "alice", password, map[string]any{"radiusGroups": []any{"LOCALS", "vpn-users"}})
	e.phone = apptest.Phone(t, dir, e.clock.Now)
	return e
}

// registerPush registers the reference authenticator as alice's push device and
// sets the clock running (see clock).
func (e *env) registerPush() {
	e.t.Helper()
	e.clock.Run()
	apptest.RegisterPhone(e.t, e.app, e.phone, "/", "alice", authenticator.RegisterOptions{Name: "alice's phone"})
	if _, err := e.app.Devices.NewRecoveryCodes(context.Background(), "/", "alice"); err != nil {
		e.t.Fatal(err)
	}
}

// registerOTP gives alice an authenticator app (TOTP, 6 digits, 30 s).
func (e *env) registerOTP() {
	e.t.Helper()
	e.otp = []byte("12345678901234567890")
	if _, err := e.app.Devices.AddOATH(context.Background(), "/", "alice", devices.OATHDevice{Params: oath.DefaultParams}, e.otp); err != nil {
		e.t.Fatal(err)
	}
}

// code is alice's app's current code.
func (e *env) code() string {
	c, err := oath.Code(oath.DefaultParams, e.otp, e.clock.Now(), 0)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// reply is what radclient received.
type reply struct {
	code  string // Access-Accept, Access-Reject, Access-Challenge; "" for no answer
	attrs []attr
	out   string
}

type attr struct{ name, value string }

func (r reply) get(name string) string {
	for _, a := range r.attrs {
		if a.name == name {
			return a.value
		}
	}
	return ""
}

func (r reply) all(name string) []string {
	var out []string
	for _, a := range r.attrs {
		if a.name == name {
			out = append(out, a.value)
		}
	}
	return out
}

// message is the reply's Reply-Message as the user reads it.
func (r reply) message() string {
	var b strings.Builder
	for _, v := range r.all("Reply-Message") {
		s, err := strconv.Unquote(v)
		if err != nil {
			s = v
		}
		b.WriteString(s)
	}
	return b.String()
}

// req is one Access-Request radclient sends.
type req struct {
	user, answer string
	state        string // 0x... from an earlier challenge
	noMA         bool   // leave Message-Authenticator out
	secret       string // "" for the right one
	extra        []string
	timeout      int // seconds radclient waits for each try (default 20)
	retries      int // tries (default 1)
}

var received = regexp.MustCompile(`(?m)^Received (Access-\w+) Id \d+ from`)

// send runs radclient -x with r's attributes and returns what it received.
func (e *env) send(r req) reply {
	e.t.Helper()
	var in strings.Builder
	fmt.Fprintf(&in, "User-Name = %q\nUser-Password = %q\n", r.user, r.answer)
	if r.state != "" {
		fmt.Fprintf(&in, "State = %s\n", r.state)
	}
	if !r.noMA {
		in.WriteString("Message-Authenticator = 0x00\n")
	}
	for _, x := range r.extra {
		in.WriteString(x + "\n")
	}
	sec := r.secret
	if sec == "" {
		sec = e.secret
	}
	if r.timeout == 0 {
		r.timeout = 20
	}
	if r.retries == 0 {
		r.retries = 1
	}
	cmd := exec.Command("radclient", "-x", "-t", strconv.Itoa(r.timeout), "-r", strconv.Itoa(r.retries), e.addr, "auth", sec)
	cmd.Stdin = strings.NewReader(in.String())
	out, _ := cmd.CombinedOutput() // exit 1 on a reject or no answer: read the output
	rep := reply{out: string(out)}
	m := received.FindStringSubmatchIndex(rep.out)
	if m == nil {
		if !strings.Contains(rep.out, "No reply from server") {
			e.t.Fatalf("radclient said neither an answer nor no answer:\n%s", out)
		}
		return rep
	}
	rep.code = rep.out[m[2]:m[3]]
	for _, line := range strings.Split(rep.out[m[1]:], "\n")[1:] {
		if !strings.HasPrefix(line, "\t") {
			break
		}
		name, value, ok := strings.Cut(strings.TrimSpace(line), " = ")
		if ok {
			rep.attrs = append(rep.attrs, attr{name, value})
		}
	}
	return rep
}

// step sends r, writes the exchange to the transcript and returns the reply.
func (e *env) step(r req) reply {
	e.t.Helper()
	shown := r.answer
	switch {
	case r.answer == password:
		shown = "<password>"
	case e.otp != nil && len(r.answer) == 6 && strings.Trim(r.answer, "0123456789") == "":
		shown = "<code>"
	}
	line := fmt.Sprintf("→ Access-Request User-Name=%q User-Password=%q", r.user, shown)
	if r.state != "" {
		line += " State=" + e.script.Mask("state", r.state)
	}
	e.script.Say("%s", line)
	rep := e.send(r)
	if rep.code == "" {
		e.script.Say("← (no answer)")
		return rep
	}
	line = "← " + rep.code
	for _, a := range rep.attrs {
		v := a.value
		switch a.name {
		case "State":
			v = e.script.Mask("state", v)
		case "Message-Authenticator":
			v = "<hmac>"
		case "Reply-Message":
			v = numberIn.ReplaceAllString(v, "Tap the number <N>")
		}
		line += fmt.Sprintf(" %s=%s", a.name, v)
	}
	e.script.Say("%s", line)
	if rep.get("Message-Authenticator") == "" {
		e.t.Errorf("%s without Message-Authenticator", rep.code)
	}
	return rep
}

var numberIn = regexp.MustCompile(`Tap the number \d+`)

// number is the number to tap from a challenge's Reply-Message.
func number(t testing.TB, rep reply) int {
	t.Helper()
	m := regexp.MustCompile(`Tap the number (\d+)`).FindStringSubmatch(rep.message())
	if m == nil {
		t.Fatalf("no number to match in %q", rep.message())
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// soon runs f in the background after d (the phone answering while radclient waits)
// and returns a function that waits for it and reports its error.
func (e *env) soon(d time.Duration, f func(ctx context.Context) error) func() {
	errc := make(chan error, 1)
	go func() {
		time.Sleep(d)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		errc <- f(ctx)
	}()
	return func() {
		e.t.Helper()
		if err := <-errc; err != nil {
			e.t.Errorf("phone: %v", err)
		}
	}
}

// golden compares the transcript with testdata/golden/name.txt.
func (e *env) golden(name string) {
	e.t.Helper()
	e.script.Golden(e.t, filepath.Join("testdata", "golden", name+".txt"), *update)
}
