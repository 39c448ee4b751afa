package linotp_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/linotp"
)

// tokenPIN is the door with otppin token_pin and its default journey (linotp-pin).
const tokenPIN = "linotp: {enabled: true, clients: [127.0.0.0/8, \"::1/128\"], otppin: token_pin}\n"

// Token PINs of the tests: alice's authenticator app and alice's phone.
const (
	appPIN   = "1111-app"
	phonePIN = "2222-phone"
)

// setPIN gives alice's device of kind ("push" or "otp") its PIN, as an admin does.
func (e *env) setPIN(kind, pin string) {
	e.t.Helper()
	var id string
	if kind == "push" {
		list, err := e.srv.Devices.Devices(ctx, "/", "alice")
		if err != nil || len(list) == 0 {
			e.t.Fatalf("alice's phone: %v %v", list, err)
		}
		id = list[0].ID
	} else {
		list, err := e.srv.Devices.OATHDevices(ctx, "/", "alice")
		if err != nil || len(list) == 0 {
			e.t.Fatalf("alice's app: %v %v", list, err)
		}
		id = list[0].ID
	}
	if err := e.srv.Devices.SetPIN(ctx, "/", "alice", id, pin); err != nil {
		e.t.Fatal(err)
	}
	e.mask("pin", pin)
	e.say("(setup) alice's %s device has a token PIN", kind)
}

// TestCheckTokenPIN: with otppin token_pin, pass is the PIN of the user's device
// followed by that device's code. The PIN of another of the user's tokens, a wrong PIN
// and the user's password all answer false.
func TestCheckTokenPIN(t *testing.T) {
	e := newEnv(t, tokenPIN)
	e.enrollApp("alice")
	e.enrollPush("/", "alice")
	e.setPIN("otp", appPIN)
	e.setPIN("push", phonePIN)
	check := func(pass string) bool {
		_, m := e.call(http.MethodGet, "/validate/check", url.Values{"user": {"alice"}, "pass": {pass}})
		return value(t, m)
	}
	if !check(appPIN + e.code()) {
		t.Error("the app's PIN + its code refused")
	}
	e.clock.Advance(30 * time.Second)
	if check("1111-apq" + e.code()) {
		t.Error("a wrong PIN + the code accepted")
	}
	e.clock.Advance(30 * time.Second)
	if check(phonePIN + e.code()) {
		t.Error("the phone's PIN + the app's code accepted")
	}
	e.clock.Advance(30 * time.Second)
	if check(password + e.code()) {
		t.Error("the password + the code accepted under token_pin")
	}
	e.clock.Advance(30 * time.Second)
	if check(appPIN + e.wrongCode()) {
		t.Error("the PIN + a wrong code accepted")
	}
	e.expectAudit(linotp.EventAccept, 1)
	e.expectAudit(linotp.EventReject, 4)
	e.expectAudit(audit.PINAccepted, 3) // the app's PIN twice, the phone's once
	e.expectAudit(audit.PINRejected, 2)
	e.expectAudit(audit.PushSent, 0)
	e.golden("check_token_pin")
}

// TestPushTokenPIN: with otppin token_pin and content_type=0, pass is the PIN alone:
// the phone's PIN sends the push to the phone, which approves it; the app's PIN sends
// nothing (the app is not a push device), and a wrong PIN nothing either.
func TestPushTokenPIN(t *testing.T) {
	e := newEnv(t, tokenPIN)
	e.enrollApp("alice")
	e.enrollPush("/", "alice")
	e.setPIN("otp", appPIN)
	e.setPIN("push", phonePIN)
	challenge := func(pin string) map[string]any {
		_, m := e.call(http.MethodGet, "/validate/check", url.Values{"user": {"alice"}, "pass": {pin}, "data": {"Login to dc1.example.net"}, "content_type": {"0"}})
		if value(t, m) {
			t.Fatalf("a challenge answered true: %v", m)
		}
		return m
	}
	for _, pin := range []string{appPIN, "2222-phonf"} {
		if id := detail(challenge(pin))["transactionid"]; id != nil {
			t.Errorf("PIN %s opened transaction %v", pin, id)
		}
	}
	e.expectAudit(audit.PushSent, 0)
	id, _ := detail(challenge(phonePIN))["transactionid"].(string)
	if len(id) != 20 {
		t.Fatal("the phone's PIN opened no transaction")
	}
	n := e.pending(id)
	if err := e.phone.Approve(ctx, n.MessageID, 0); err != nil {
		t.Fatal(err)
	}
	e.say("(phone) approves")
	e.clock.Advance(2 * time.Second)
	if entry, ok := e.status("alice", id); !ok || entry["status"] != linotp.StateAccepted {
		t.Fatalf("approved: %v %v", ok, entry)
	}
	e.expectAudit(audit.PushApproved, 1)
	e.golden("push_token_pin")
}

// TestTokenPINNotSetNeverMatches: a device without a PIN matches no PIN: a bare code
// (no PIN) and a made-up PIN with the right code are both refused.
func TestTokenPINNotSetNeverMatches(t *testing.T) {
	e := newEnv(t, tokenPIN)
	e.enrollApp("alice")
	for _, pass := range []string{e.code(), "0000" + e.code()} {
		if _, m := e.call(http.MethodGet, "/validate/check", url.Values{"user": {"alice"}, "pass": {pass}}); value(t, m) {
			t.Errorf("pass %q accepted for a device without a PIN", pass)
		}
	}
	// The bare code leaves the PIN empty, which the journey asks for again: a failure
	// with no PIN checked. The made-up PIN is checked, and matches nothing.
	e.expectAudit(audit.PINRejected, 1)
}
