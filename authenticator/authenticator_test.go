package authenticator_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/arbor-auth/arbor/authenticator"
	"github.com/arbor-auth/arbor/authenticator/authtest"
	"github.com/arbor-auth/arbor/push"
)

var ctx = context.Background()

func TestRegisterPersistsOnlyAfterSuccess(t *testing.T) {
	env := authtest.New(t, authtest.Options{})
	reg, err := env.Push.BeginRegistration(ctx, push.RegistrationRequest{Realm: "/", Username: "alice", FlowID: "f", Issuer: "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "sub", "devices.json")
	a, err := authenticator.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	a.Now = env.Now
	acc, err := a.Register(ctx, reg.URI, authenticator.RegisterOptions{Name: "laptop", Communication: "webhook", Token: "hook-1"})
	if err != nil {
		t.Fatalf("Register: %v", err)
	}
	if acc.Issuer != "Acme" || acc.Username != "alice" || acc.Communication != "webhook" || len(acc.Secret) != 32 {
		t.Errorf("account = %+v", acc)
	}
	// Reopening the file finds the account.
	b, err := authenticator.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := b.Accounts(); len(got) != 1 || got[0].ID != acc.ID || !bytes.Equal(got[0].Secret, acc.Secret) {
		t.Fatalf("reopened accounts = %+v", got)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v, want 0600", fi.Mode().Perm())
	}
	// The server refuses a second use of the URI; nothing is saved.
	if _, err := b.Register(ctx, reg.URI, authenticator.RegisterOptions{}); !errors.Is(err, authenticator.ErrServer) {
		t.Fatalf("replayed registration: err = %v, want ErrServer", err)
	}
	if c, _ := authenticator.Open(path); len(c.Accounts()) != 1 {
		t.Errorf("a refused registration was saved")
	}
	// A malformed URI is refused before anything is sent.
	if _, err := b.Register(ctx, "pushauth://push/x:y?m=REGISTER:1", authenticator.RegisterOptions{}); !errors.Is(err, push.ErrMalformedURI) {
		t.Errorf("malformed URI: err = %v", err)
	}
}

func TestOpenRejectsGarbage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "devices.json")
	os.WriteFile(path, []byte("not json"), 0o600)
	if _, err := authenticator.Open(path); err == nil {
		t.Fatal("Open accepted a corrupt file")
	}
}

func TestHandleWebhookPush(t *testing.T) {
	env := authtest.New(t, authtest.Options{})
	a, acc := env.Register(t, "/", "bob")
	sent, err := env.Push.Send(ctx, push.SendRequest{Realm: "/", Username: "bob", FlowID: "f", PushType: push.TypeChallenge,
		ContextInfo: map[string]any{"remoteIp": "198.51.100.7"}, Payload: map[string]any{"risk": "low"}})
	if err != nil {
		t.Fatal(err)
	}
	m, _ := env.Deliverer.Last()

	if _, err := a.Handle(m.MessageID, m.JWT+"x"); !errors.Is(err, authenticator.ErrBadPush) {
		t.Errorf("tampered push: err = %v, want ErrBadPush", err)
	}
	other := env.Authenticator(t)
	if _, err := other.Handle(m.MessageID, m.JWT); !errors.Is(err, authenticator.ErrUnknownAccount) {
		t.Errorf("push for someone else: err = %v, want ErrUnknownAccount", err)
	}
	n, err := a.Handle(m.MessageID, m.JWT)
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if n.AccountID != acc.ID || n.Type != "challenge" || len(n.Numbers) != 3 || n.ContextInfo["remoteIp"] != "198.51.100.7" || n.Payload["risk"] != "low" {
		t.Errorf("notification = %+v", n)
	}
	var ne *authenticator.NumberError
	if err := a.Approve(ctx, n.MessageID, 0); !errors.As(err, &ne) || !errors.Is(err, authenticator.ErrNumberRequired) || len(ne.Offered) != 3 {
		t.Errorf("no number: err = %v", err)
	}
	if err := a.Approve(ctx, n.MessageID, sent.Number); err != nil {
		t.Fatalf("Approve: %v", err)
	}
	if r, _ := env.Push.Result(ctx, sent.MessageID, "f"); r.Status != push.StatusApproved {
		t.Fatalf("Result = %v", r.Status)
	}
	if err := a.Approve(ctx, n.MessageID, sent.Number); !errors.Is(err, authenticator.ErrUnknownMessage) {
		t.Errorf("approving twice: err = %v, want ErrUnknownMessage", err)
	}
}

func TestPendingDropsExpired(t *testing.T) {
	env := authtest.New(t, authtest.Options{})
	a, _ := env.Register(t, "/", "carol")
	sent, err := env.Push.Send(ctx, push.SendRequest{Realm: "/", Username: "carol", FlowID: "f", Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	m, _ := env.Deliverer.Last()
	env.Clock.Advance(10 * time.Second)
	if _, err := a.Handle(m.MessageID, m.JWT); !errors.Is(err, authenticator.ErrExpired) {
		t.Errorf("Handle(expired): err = %v, want ErrExpired", err)
	}
	if list, err := a.Pending(ctx); err != nil || len(list) != 0 {
		t.Errorf("Pending = %+v, %v; want none", list, err)
	}
	if _, err := a.ApproveLatest(ctx, 0); !errors.Is(err, authenticator.ErrNoPending) {
		t.Errorf("ApproveLatest: err = %v, want ErrNoPending", err)
	}
	_ = sent
}

// cli runs RunCLI and returns its status, stdout and stderr.
func cli(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := authenticator.RunCLI(ctx, args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestCLI(t *testing.T) {
	// The CLI opens its authenticator itself, on the real clock, so the server runs on
	// it too.
	env := authtest.New(t, authtest.Options{RealClock: true})
	file := filepath.Join(t.TempDir(), "devices.json")
	reg, err := env.Push.BeginRegistration(ctx, push.RegistrationRequest{Realm: "/", Username: "dave", FlowID: "f", Issuer: "Acme"})
	if err != nil {
		t.Fatal(err)
	}

	steps := []struct {
		name     string
		args     []string
		code     int
		out, err string
	}{
		{name: "no command", args: []string{}, code: 2, err: "no command"},
		{name: "unknown command", args: []string{"fly"}, code: 2, err: `unknown command "fly"`},
		{name: "help", args: []string{"help"}, code: 0, out: "Usage: arbor device"},
		{name: "empty list", args: []string{"--file", file, "list"}, code: 0, out: "No accounts"},
		{name: "malformed URI", args: []string{"--file", file, "register", "pushauth://push/a:b?m=REGISTER:x"}, code: 1, err: "malformed registration URI"},
		{name: "register", args: []string{"register", reg.URI, "--file", file, "--name", "ci"}, code: 0, out: "Registered Acme for dave"},
		{name: "list", args: []string{"list", "--file", file}, code: 0, out: "Acme"},
		{name: "nothing pending", args: []string{"--file", file, "pending"}, code: 0, out: "No pending push."},
		{name: "approve with nothing pending", args: []string{"--file", file, "approve"}, code: 1, err: "no pending push"},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			code, out, errs := cli(t, s.args...)
			if code != s.code || !strings.Contains(out, s.out) || !strings.Contains(errs, s.err) {
				t.Fatalf("RunCLI(%q) = %d\nstdout: %s\nstderr: %s\nwant %d, stdout with %q, stderr with %q", s.args, code, out, errs, s.code, s.out, s.err)
			}
		})
	}

	sent, err := env.Push.Send(ctx, push.SendRequest{Realm: "/", Username: "dave", FlowID: "f2", PushType: push.TypeChallenge,
		ContextInfo: map[string]any{"remoteIp": "192.0.2.1"}})
	if err != nil {
		t.Fatal(err)
	}
	code, out, _ := cli(t, "--file", file, "pending")
	if code != 0 || !strings.Contains(out, sent.MessageID) || !strings.Contains(out, strconv.Itoa(sent.Number)) || !strings.Contains(out, "192.0.2.1") {
		t.Fatalf("pending: %d %s", code, out)
	}
	code, _, errs := cli(t, "--file", file, "approve")
	if code != 1 || !strings.Contains(errs, "pick a number") || !strings.Contains(errs, strconv.Itoa(sent.Number)) {
		t.Fatalf("approve without number: %d %s", code, errs)
	}
	code, _, errs = cli(t, "--file", file, "approve", "--number", "5", sent.MessageID)
	if code != 1 || !strings.Contains(errs, "not one of those offered") || !strings.Contains(errs, strconv.Itoa(sent.Number)) {
		t.Fatalf("approve with a number not offered: %d %s", code, errs)
	}
	code, out, errs = cli(t, "approve", sent.MessageID, "--number", strconv.Itoa(sent.Number), "--file", file)
	if code != 0 || !strings.Contains(out, "Approved "+sent.MessageID) {
		t.Fatalf("approve: %d %s %s", code, out, errs)
	}
	if r, _ := env.Push.Result(ctx, sent.MessageID, "f2"); r.Status != push.StatusApproved {
		t.Fatalf("Result = %v", r.Status)
	}

	t.Setenv(authenticator.EnvFile, file)
	sent, err = env.Push.Send(ctx, push.SendRequest{Realm: "/", Username: "dave", FlowID: "f3"})
	if err != nil {
		t.Fatal(err)
	}
	code, out, errs = cli(t, "deny")
	if code != 0 || !strings.Contains(out, "Denied "+sent.MessageID) {
		t.Fatalf("deny via ARBOR_DEVICE_FILE: %d %s %s", code, out, errs)
	}
	if r, _ := env.Push.Result(ctx, sent.MessageID, "f3"); r.Status != push.StatusDenied {
		t.Fatalf("Result = %v", r.Status)
	}
	if code, _, errs := cli(t, "deny", "AUTHENTICATE:gone"); code != 1 || !strings.Contains(errs, "no pending push with that id") {
		t.Errorf("deny unknown: %d %s", code, errs)
	}
}

// TestCLIAfterTheServer: the CLI prints what the server did with an answer, stops listing
// a push the login no longer waits for, and tells of (and forgets) a device removed on
// the server.
func TestCLIAfterTheServer(t *testing.T) {
	env := authtest.New(t, authtest.Options{RealClock: true})
	file := filepath.Join(t.TempDir(), "devices.json")
	t.Setenv(authenticator.EnvFile, file)
	reg, err := env.Push.BeginRegistration(ctx, push.RegistrationRequest{Realm: "/", Username: "erin", FlowID: "f"})
	if err != nil {
		t.Fatal(err)
	}
	if code, out, errs := cli(t, "register", reg.URI); code != 0 {
		t.Fatalf("register: %d %s %s", code, out, errs)
	}
	acc := mustAccount(t, file)

	// A number that is offered but is not the one on the login page: the login is denied.
	sent, err := env.Push.Send(ctx, push.SendRequest{Realm: "/", Username: "erin", FlowID: "f1", PushType: push.TypeChallenge})
	if err != nil {
		t.Fatal(err)
	}
	code, out, errs := cli(t, "pending")
	wrong := 0
	for _, f := range strings.Fields(out) {
		if n, err := strconv.Atoi(f); err == nil && n != sent.Number {
			wrong = n
			break
		}
	}
	if code != 0 || wrong == 0 {
		t.Fatalf("pending: %d %s %s", code, out, errs)
	}
	code, out, errs = cli(t, "approve", "--number", strconv.Itoa(wrong))
	if code != 1 || strings.Contains(out, "Approved") || !strings.Contains(errs, "the server denied the login") {
		t.Fatalf("approve with the wrong number: %d\nstdout: %s\nstderr: %s", code, out, errs)
	}

	// A push the flow withdrew (the user took a recovery code) is no longer listed.
	sent, err = env.Push.Send(ctx, push.SendRequest{Realm: "/", Username: "erin", FlowID: "f2"})
	if err != nil {
		t.Fatal(err)
	}
	if _, out, _ := cli(t, "pending"); !strings.Contains(out, sent.MessageID) {
		t.Fatalf("pending before the withdrawal: %s", out)
	}
	if err := env.Push.Cancel(ctx, sent.MessageID, "f2"); err != nil {
		t.Fatal(err)
	}
	if code, out, _ := cli(t, "pending"); code != 0 || !strings.Contains(out, "No pending push.") {
		t.Fatalf("pending after the withdrawal: %d %s", code, out)
	}

	// The device is removed on the server: pending says so, and forget drops it here.
	if err := env.Devices.Revoke(ctx, "/", "erin", acc); err != nil {
		t.Fatal(err)
	}
	code, _, errs = cli(t, "pending")
	if code != 1 || !strings.Contains(errs, "no longer knows this device") || !strings.Contains(errs, "arbor device forget") {
		t.Fatalf("pending with a removed device: %d %s", code, errs)
	}
	if code, out, errs := cli(t, "forget", acc); code != 0 || !strings.Contains(out, "Forgot device "+acc) {
		t.Fatalf("forget: %d %s %s", code, out, errs)
	}
	if code, out, _ := cli(t, "list"); code != 0 || !strings.Contains(out, "No accounts") {
		t.Fatalf("list after forget: %d %s", code, out)
	}
	if code, _, errs := cli(t, "forget", acc); code != 1 || !strings.Contains(errs, "no account") {
		t.Fatalf("forget twice: %d %s", code, errs)
	}
}

func mustAccount(t *testing.T, file string) string {
	t.Helper()
	a, err := authenticator.Open(file)
	if err != nil || len(a.Accounts()) != 1 {
		t.Fatalf("accounts in %s: %v", file, err)
	}
	return a.Accounts()[0].ID
}
