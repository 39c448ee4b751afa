package authenticator_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/arbor-auth/arbor/authenticator"
	"github.com/arbor-auth/arbor/oath"
)

// TestCodeAccounts adds TOTP and HOTP accounts from the URIs Arbor's registration
// makes, and checks the codes against the verifier's own check, on a manual clock.
func TestCodeAccounts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "devices.json")
	a, err := authenticator.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	a.Now = func() time.Time { return now }
	if _, _, _, err := a.Code(""); !errors.Is(err, authenticator.ErrNoCodeAccount) {
		t.Fatalf("Code with no account: %v", err)
	}

	tp := oath.Params{Kind: oath.TOTP, Algorithm: oath.SHA256, Digits: 8, Period: 60}
	tsecret, turi, err := oath.NewKey(oath.KeyRequest{Issuer: "Acme", Account: "alice", Params: tp})
	if err != nil {
		t.Fatal(err)
	}
	hp := oath.Params{Kind: oath.HOTP, Algorithm: oath.SHA1, Digits: 6}
	hsecret, huri, err := oath.NewKey(oath.KeyRequest{Issuer: "Other", Account: "bob", Params: hp})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.AddCodeAccount(turi); err != nil {
		t.Fatal(err)
	}
	if _, err := a.AddCodeAccount(huri); err != nil {
		t.Fatal(err)
	}
	if _, err := a.AddCodeAccount("otpauth://totp/x:y?secret=!!"); !errors.Is(err, oath.ErrInvalid) {
		t.Errorf("bad URI: %v", err)
	}

	code, acc, valid, err := a.Code("acme")
	if err != nil || acc.AccountName != "alice" || valid != 60*time.Second {
		t.Fatalf("Code(acme) = %q, %+v, %v, %v", code, acc, valid, err)
	}
	if res, _ := oath.Verify(tp, tsecret, oath.State{}, code, now, oath.DefaultPolicy); res.Outcome != oath.Accepted {
		t.Errorf("TOTP code %q not accepted", code)
	}

	// HOTP: each code moves the counter on, and the counter survives a reopen.
	st := oath.State{}
	for i := range 3 {
		if i == 2 {
			if a, err = authenticator.Open(path); err != nil {
				t.Fatal(err)
			}
		}
		code, _, valid, err := a.Code("bob")
		if err != nil || valid != 0 {
			t.Fatalf("Code(bob) #%d: %q, %v, %v", i, code, valid, err)
		}
		res, _ := oath.Verify(hp, hsecret, st, code, now, oath.Policy{LookAhead: 1})
		if res.Outcome != oath.Accepted {
			t.Fatalf("HOTP code #%d %q not accepted at counter %d", i, code, st.Counter)
		}
		st = res.State
	}
	// No name: the newest account.
	if _, acc, _, _ := a.Code(""); acc.Issuer != "Other" {
		t.Errorf("newest account %+v", acc)
	}
	if _, _, _, err := a.Code("nobody"); !errors.Is(err, authenticator.ErrNoCodeAccount) || !strings.Contains(err.Error(), "nobody") {
		t.Errorf("Code(nobody): %v", err)
	}
}

func TestCLICodes(t *testing.T) {
	file := filepath.Join(t.TempDir(), "devices.json")
	secret, uri, err := oath.NewKey(oath.KeyRequest{Issuer: "Arbor", Account: "carol", Params: oath.DefaultParams})
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name     string
		args     []string
		code     int
		out, err string
	}{
		{name: "no code account", args: []string{"--file", file, "code"}, code: 1, err: "no one-time code account"},
		{name: "add", args: []string{"--file", file, "register", uri}, code: 0, out: "Added one-time codes (TOTP) for carol at Arbor"},
		{name: "bad URI", args: []string{"--file", file, "register", "otpauth://totp/a:b?secret=JBSW"}, code: 1, err: "too short"},
		{name: "list", args: []string{"--file", file, "list"}, code: 0, out: "TOTP"},
		{name: "code with an argument", args: []string{"--file", file, "code", "carol"}, code: 2, err: "--account"},
		{name: "unknown account", args: []string{"--file", file, "code", "--account", "dave"}, code: 1, err: `named "dave"`},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			code, out, errs := cli(t, s.args...)
			if code != s.code || !strings.Contains(out, s.out) || !strings.Contains(errs, s.err) {
				t.Fatalf("RunCLI(%q) = %d\nstdout: %s\nstderr: %s\nwant %d, stdout with %q, stderr with %q", s.args, code, out, errs, s.code, s.out, s.err)
			}
		})
	}
	// The code alone on stdout, valid at the real clock's reading.
	code, out, errs := cli(t, "--file", file, "code", "--account", "carol")
	now := time.Now()
	if code != 0 || !strings.Contains(errs, "valid for") {
		t.Fatalf("code: %d %q %q", code, out, errs)
	}
	res, _ := oath.Verify(oath.DefaultParams, secret, oath.State{}, strings.TrimSuffix(out, "\n"), now, oath.DefaultPolicy)
	if res.Outcome != oath.Accepted || strings.Count(out, "\n") != 1 {
		t.Errorf("printed %q, not the current code", out)
	}
}
