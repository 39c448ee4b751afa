package radius_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/radius"
)

// groups sends alice's radiusGroups as Fortinet-Group-Name (vendor 12356, type 1) and
// a fixed Session-Timeout.
const groups = `      reply_attributes:
        - {vendor: 12356, type: 1, from: radiusGroups}
        - {type: 27, value: "28800", integer: true}
`

const plus = "+Please enter the token code. You can also submit a blank response to initiate a push notification."

// count reads arbor_radius_requests_total{client, outcome} (-1 if the metrics cannot
// be gathered). It calls nothing on e.t, so fuzz targets may use it.
func (e *env) count(client, outcome string) float64 {
	mfs, err := e.app.Metrics.Gather()
	if err != nil {
		return -1
	}
	for _, mf := range mfs {
		if mf.GetName() != "arbor_radius_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, lp := range m.GetLabel() {
				l[lp.GetName()] = lp.GetValue()
			}
			if l["client"] == client && l["outcome"] == outcome {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func wantCode(t *testing.T, rep reply, code string) {
	t.Helper()
	if rep.code != code {
		t.Fatalf("got %q, want %s:\n%s", rep.code, code, rep.out)
	}
}

// TestPasswordOnly runs the password-only login journey: the right password gets
// Access-Accept with the vendor attributes decoded by radclient, the wrong one
// Access-Reject; both are audited with the client's name.
func TestPasswordOnly(t *testing.T) {
	e := newEnv(t, "login", groups)
	rep := e.step(req{user: "alice", answer: password, extra: []string{`Calling-Station-Id = "198.51.100.7"`}})
	wantCode(t, rep, "Access-Accept")
	if got := rep.all("Fortinet-Group-Name"); strings.Join(got, ",") != `"LOCALS","vpn-users"` {
		t.Errorf("Fortinet-Group-Name %v, want LOCALS and vpn-users (radclient -x decodes vendor 12356 type 1 by name)", got)
	}
	if got := rep.get("Session-Timeout"); got != "28800" {
		t.Errorf("Session-Timeout %q", got)
	}
	if !strings.Contains(rep.out, "Message-Authenticator = 0x") || rep.attrs[0].name != "Message-Authenticator" {
		t.Errorf("Message-Authenticator is not the first attribute: %v", rep.attrs)
	}
	wantCode(t, e.step(req{user: "alice", answer: "wrong password"}), "Access-Reject")
	wantCode(t, e.step(req{user: "nobody", answer: "wrong password"}), "Access-Reject")
	e.golden("password_only")

	var accepts, rejects int
	for _, ev := range e.audit.Events() {
		switch ev.Type {
		case radius.EventAccept:
			accepts++
			if ev.User != "alice" || ev.Details["radius_client"] != "vpn-gw" || ev.Details["calling_station_id"] != "198.51.100.7" || ev.Journey != "login" {
				t.Errorf("accept event %+v", ev)
			}
		case radius.EventReject:
			rejects++
		case audit.LoginSuccess:
			if ev.Client != "198.51.100.7" {
				t.Errorf("login.success client %q: the Calling-Station-Id is the user's address", ev.Client)
			}
		}
	}
	if accepts != 1 || rejects != 2 {
		t.Errorf("%d accept and %d reject events, want 1 and 2", accepts, rejects)
	}
	if got := e.count("vpn-gw", "accept") + e.count("vpn-gw", "reject")*10; got != 21 {
		t.Errorf("accept + 10*reject counters = %v, want 21", got)
	}
}

// TestNoAnswer checks that a request without Message-Authenticator, with the wrong
// secret, or from no configured client gets no answer and is counted.
func TestNoAnswer(t *testing.T) {
	e := newEnv(t, "login", "")
	if rep := e.send(req{user: "alice", answer: password, noMA: true, timeout: 1}); rep.code != "" {
		t.Errorf("no Message-Authenticator: answered %s", rep.code)
	}
	if rep := e.send(req{user: "alice", answer: password, secret: "not-the-secret", timeout: 1}); rep.code != "" {
		t.Errorf("wrong secret: answered %s", rep.code)
	}
	if got := e.count("vpn-gw", "dropped_no_message_authenticator"); got != 1 {
		t.Errorf("dropped_no_message_authenticator = %v", got)
	}
	if got := e.count("vpn-gw", "dropped_bad_authenticator"); got != 1 {
		t.Errorf("dropped_bad_authenticator = %v", got)
	}
	if n := e.audit.Count(audit.LoginSuccess) + e.audit.Count(audit.LoginFailure); n != 0 {
		t.Errorf("%d logins ran for dropped requests", n)
	}
	if n := e.audit.Count(radius.EventDropped); n != 2 {
		t.Errorf("%d radius.dropped events, want 2", n)
	}
	// The listener still answers.
	wantCode(t, e.send(req{user: "alice", answer: password}), "Access-Accept")
}

// TestPushApprove: password, the "+" challenge, a blank answer sends a push with number
// matching (the number comes in a challenge), and the next blank answer is held until
// the phone approves with that number.
func TestPushApprove(t *testing.T) {
	e := newEnv(t, "radius", groups)
	e.registerPush()
	rep := e.step(req{user: "alice", answer: password})
	wantCode(t, rep, "Access-Challenge")
	if rep.message() != plus {
		t.Errorf("Reply-Message %q, want %q", rep.message(), plus)
	}
	rep = e.step(req{user: "alice", answer: "", state: rep.get("State")})
	wantCode(t, rep, "Access-Challenge")
	n := number(t, rep)
	wait := e.soon(1500*time.Millisecond, func(ctx context.Context) error {
		_, err := e.phone.ApproveLatest(ctx, n)
		return err
	})
	began := time.Now()
	e.script.Say("(the phone approves with the number while radclient waits)")
	rep = e.step(req{user: "alice", answer: "", state: rep.get("State")})
	wait()
	wantCode(t, rep, "Access-Accept")
	if held := time.Since(began); held < time.Second {
		t.Errorf("answered after %v: the request was not held until the phone answered", held)
	}
	if got := rep.all("Fortinet-Group-Name"); len(got) != 2 {
		t.Errorf("Fortinet-Group-Name %v", got)
	}
	if n := e.audit.Count(audit.PushSent); n != 1 {
		t.Errorf("%d pushes sent", n)
	}
	e.golden("push_approve")
}

// TestPushDeny: the word "push" sends the push; the phone denies while radclient waits.
func TestPushDeny(t *testing.T) {
	e := newEnv(t, "radius", "")
	e.registerPush()
	rep := e.step(req{user: "alice", answer: password})
	rep = e.step(req{user: "alice", answer: "push", state: rep.get("State")})
	wantCode(t, rep, "Access-Challenge")
	wait := e.soon(1500*time.Millisecond, func(ctx context.Context) error {
		_, err := e.phone.DenyLatest(ctx)
		return err
	})
	e.script.Say("(the phone denies while radclient waits)")
	rep = e.step(req{user: "alice", answer: "", state: rep.get("State")})
	wait()
	wantCode(t, rep, "Access-Reject")
	if rep.message() != "The push notification was denied." {
		t.Errorf("Reply-Message %q", rep.message())
	}
	e.golden("push_deny")
}

// TestPushExpired: nobody answers; once the push has expired the held request is
// rejected.
func TestPushExpired(t *testing.T) {
	e := newEnv(t, "radius-tap", "")
	e.registerPush()
	rep := e.step(req{user: "alice", answer: password})
	wait := e.soon(1500*time.Millisecond, func(context.Context) error {
		e.clock.Advance(61 * time.Second)
		return nil
	})
	e.script.Say("(a minute passes while radclient waits)")
	rep = e.step(req{user: "alice", answer: "", state: rep.get("State")})
	wait()
	wantCode(t, rep, "Access-Reject")
	e.golden("push_expired")
}

// TestRetransmittedHold: a tap push is sent and held by the same request; radclient
// resends it every second while it is held; one push is sent and the answer comes
// once the phone approves.
func TestRetransmittedHold(t *testing.T) {
	e := newEnv(t, "radius-tap", "")
	e.registerPush()
	rep := e.send(req{user: "alice", answer: password})
	wantCode(t, rep, "Access-Challenge")
	wait := e.soon(3500*time.Millisecond, func(ctx context.Context) error {
		_, err := e.phone.ApproveLatest(ctx, 0)
		return err
	})
	rep = e.send(req{user: "alice", answer: "", state: rep.get("State"), timeout: 1, retries: 10})
	wait()
	wantCode(t, rep, "Access-Accept")
	if n := e.audit.Count(audit.PushSent); n != 1 {
		t.Errorf("%d pushes sent, want 1", n)
	}
	if got := e.count("vpn-gw", "duplicate"); got < 2 {
		t.Errorf("%v retransmissions seen, want at least 2 (radclient resends every second)", got)
	}
	if n := e.audit.Count(audit.LoginSuccess); n != 1 {
		t.Errorf("%d logins succeeded", n)
	}
}

// TestCode: a right one-time code instead of a push, then the same code again in the
// same time step: "Please wait 20 seconds to log in again." (start is 10 s into it).
func TestCode(t *testing.T) {
	e := newEnv(t, "radius", "")
	e.registerOTP()
	rep := e.step(req{user: "alice", answer: password})
	code := e.code()
	wantCode(t, e.step(req{user: "alice", answer: code, state: rep.get("State")}), "Access-Accept")
	e.script.Say("(a second login with the same code)")
	rep = e.step(req{user: "alice", answer: password})
	rep = e.step(req{user: "alice", answer: code, state: rep.get("State")})
	wantCode(t, rep, "Access-Challenge")
	if !strings.HasPrefix(rep.message(), "Please wait 20 seconds to log in again.") {
		t.Errorf("Reply-Message %q", rep.message())
	}
	e.clock.Advance(20 * time.Second)
	e.script.Say("(20 seconds later, the next code)")
	wantCode(t, e.step(req{user: "alice", answer: e.code(), state: rep.get("State")}), "Access-Accept")
	e.golden("code")
}

// TestWrongCode: a wrong code is asked again; three wrong codes fail.
func TestWrongCode(t *testing.T) {
	e := newEnv(t, "radius", "")
	e.registerOTP()
	wrong := "000000"
	if e.code() == wrong {
		wrong = "111111"
	}
	rep := e.step(req{user: "alice", answer: password})
	for range 3 {
		rep = e.step(req{user: "alice", answer: wrong, state: rep.get("State")})
		wantCode(t, rep, "Access-Challenge")
	}
	wantCode(t, e.step(req{user: "alice", answer: wrong, state: rep.get("State")}), "Access-Reject")
	e.golden("wrong_code")
}

// TestRecoveryCode: a recovery code typed at the "+" prompt signs in; a wrong one is
// asked again.
func TestRecoveryCode(t *testing.T) {
	e := newEnv(t, "radius", "")
	e.registerPush()
	codes, err := e.app.Devices.NewRecoveryCodes(context.Background(), "/", "alice")
	if err != nil {
		t.Fatal(err)
	}
	rep := e.step(req{user: "alice", answer: password})
	rep = e.step(req{user: "alice", answer: "NOTACODE00", state: rep.get("State")})
	wantCode(t, rep, "Access-Challenge")
	// Why it asks again and the prompt, in one Reply-Message (the engine's StepError).
	if rep.message() != "That recovery code is not valid. 3 attempts left. Recovery Code" {
		t.Errorf("Reply-Message %q", rep.message())
	}
	e.script.Say("(a real recovery code)")
	rep = e.send(req{user: "alice", answer: codes[0], state: rep.get("State")})
	wantCode(t, rep, "Access-Accept")
	e.script.Say("← %s", rep.code)
	if n := e.audit.Count(audit.RecoveryCodeUsed); n != 1 {
		t.Errorf("%d recovery codes used", n)
	}
	e.golden("recovery_code")
}

// TestBadState: a State is refused for another user, from a tampered packet, or once
// its flow has finished; none of them changes anything.
func TestBadState(t *testing.T) {
	e := newEnv(t, "radius", "")
	e.registerOTP()
	rep := e.send(req{user: "alice", answer: password})
	st := rep.get("State")
	if rep := e.send(req{user: "bob", answer: e.code(), state: st}); rep.code != "Access-Reject" {
		t.Errorf("alice's State for bob: %s", rep.code)
	}
	tampered := st[:len(st)-2] + "00"
	if tampered == st {
		tampered = st[:len(st)-2] + "11"
	}
	if rep := e.send(req{user: "alice", answer: e.code(), state: tampered}); rep.code != "Access-Reject" {
		t.Errorf("tampered State: %s", rep.code)
	}
	if rep := e.send(req{user: "alice", answer: e.code(), state: "0x1234"}); rep.code != "Access-Reject" {
		t.Errorf("short State: %s", rep.code)
	}
	// The State still works: nothing above moved the flow.
	e.clock.Advance(30 * time.Second)
	wantCode(t, e.send(req{user: "alice", answer: e.code(), state: st}), "Access-Accept")
	// Replayed once the flow is finished.
	e.clock.Advance(30 * time.Second)
	if rep := e.send(req{user: "alice", answer: e.code(), state: st}); rep.code != "Access-Reject" {
		t.Errorf("replayed State: %s", rep.code)
	}
	if n := e.audit.Count(audit.LoginSuccess); n != 1 {
		t.Errorf("%d logins succeeded, want 1", n)
	}
}

// TestCodeWhilePushPending: the push is sent and its number shown; instead of tapping,
// the user types a wrong code (told so, the push still waits), then the right one-time
// code: Access-Accept, and the push is cancelled, so a late approval does nothing.
func TestCodeWhilePushPending(t *testing.T) {
	e := newEnv(t, "radius", "")
	e.registerPush()
	e.registerOTP()
	rep := e.step(req{user: "alice", answer: password})
	rep = e.step(req{user: "alice", answer: "", state: rep.get("State")})
	wantCode(t, rep, "Access-Challenge")
	n := number(t, rep)
	wrong := "000000"
	if e.code() == wrong {
		wrong = "111111"
	}
	rep = e.step(req{user: "alice", answer: wrong, state: rep.get("State")})
	wantCode(t, rep, "Access-Challenge")
	if !strings.Contains(rep.message(), "Tap the number") || number(t, rep) != n {
		t.Errorf("after a wrong code: %q, want the same number to tap", rep.message())
	}
	wantCode(t, e.step(req{user: "alice", answer: e.code(), state: rep.get("State")}), "Access-Accept")
	if _, err := e.phone.ApproveLatest(context.Background(), n); err == nil {
		t.Error("a late approval of the cancelled push was taken")
	}
	if n := e.audit.Count(audit.PushSent); n != 1 {
		t.Errorf("%d pushes sent", n)
	}
	e.golden("code_while_push_pending")
}

// TestWrongCodeThenApprove: a wrong code typed while the push waits is refused with the
// number again; the next blank answer is held, and the phone's approval signs in.
func TestWrongCodeThenApprove(t *testing.T) {
	e := newEnv(t, "radius", "")
	e.registerPush()
	e.registerOTP()
	rep := e.send(req{user: "alice", answer: password})
	rep = e.send(req{user: "alice", answer: "", state: rep.get("State")})
	n := number(t, rep)
	rep = e.send(req{user: "alice", answer: "99999999", state: rep.get("State")})
	wantCode(t, rep, "Access-Challenge")
	wait := e.soon(1500*time.Millisecond, func(ctx context.Context) error {
		_, err := e.phone.ApproveLatest(ctx, n)
		return err
	})
	rep = e.send(req{user: "alice", answer: "", state: rep.get("State")})
	wait()
	wantCode(t, rep, "Access-Accept")
}

// TestSecondFactorRule: through the door core, a user with a push device gets
// Access-Reject from the password-only journey, also where the realm lets such logins
// through as restricted sessions (a gateway cannot restrict what follows).
func TestSecondFactorRule(t *testing.T) {
	for _, bypass := range []string{"", "realm_settings:\n  /: {mfa_bypass: restricted}\n"} {
		e := newEnv(t, "login", "")
		if bypass != "" {
			e = newEnvConfig(t, "login", "", bypass)
		}
		e.registerPush()
		rep := e.send(req{user: "alice", answer: password})
		wantCode(t, rep, "Access-Reject")
		if rep.message() != "This account has a second factor: sign in with a journey that asks for it." {
			t.Errorf("bypass %q: Reply-Message %q", bypass, rep.message())
		}
	}
}
