package linotp_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/door"
	"github.com/arbor-auth/arbor/journeys"
	"github.com/arbor-auth/arbor/linotp"
	"github.com/arbor-auth/arbor/nodes"
)

// none is the door with otppin none and its default journey (linotp-otp).
const none = "linotp: {enabled: true, clients: [127.0.0.0/8, \"::1/128\"], otppin: none}\n"

// TestCheckNone: with otppin none pass is the code alone; the gateway vouches for the
// password, so a right code answers true (the core counts the attested pwd, audited as
// login.attested) and a wrong one false. A password in front of the code is not a code.
func TestCheckNone(t *testing.T) {
	e := newEnv(t, none)
	e.enrollApp("alice")
	check := func(pass string) bool {
		_, m := e.call(http.MethodGet, "/validate/check", url.Values{"user": {"alice"}, "pass": {pass}})
		return value(t, m)
	}
	if !check(e.code()) {
		t.Error("the right code alone refused")
	}
	e.clock.Advance(30 * time.Second)
	if check(e.wrongCode()) {
		t.Error("a wrong code accepted")
	}
	e.clock.Advance(30 * time.Second)
	if check(password + e.code()) {
		t.Error("password + code accepted as a code")
	}
	e.expectAudit(linotp.EventAccept, 1)
	e.expectAudit(linotp.EventReject, 2)
	e.expectAudit(door.EventAttested, 1)
	e.expectAudit(door.EventSessionCreated, 0)
	for _, ev := range e.audit.Events() {
		if ev.Type == door.EventAttested {
			if a, _ := ev.Details["attested"].([]nodes.Factor); !slices.Equal(a, []nodes.Factor{nodes.FactorPassword}) || ev.Journey != "linotp-otp" {
				t.Errorf("login.attested: journey %s, details %v", ev.Journey, ev.Details)
			}
		}
	}
	e.golden("check_none")
}

// TestPushNone: with otppin none a challenge needs no password; the approval answers
// true through check_status, with the attested password.
func TestPushNone(t *testing.T) {
	e := newEnv(t, none)
	e.enrollPush("/", "alice")
	st, m := e.call(http.MethodGet, "/validate/check", url.Values{"user": {"alice"}, "pass": {""}, "data": {"Login to dc1.example.net"}, "content_type": {"0"}})
	id, _ := detail(m)["transactionid"].(string)
	if st != 200 || value(t, m) || len(id) != 20 {
		t.Fatalf("check did not open a challenge: %d %v", st, m)
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
	e.expectAudit(door.EventAttested, 1)
	e.golden("push_none")
}

// TestNoneThrottled: a code-only call goes through the guessing defence like any other:
// after many wrong codes from one address the right code is refused too, with the
// answer a wrong code gets.
func TestNoneThrottled(t *testing.T) {
	e := newEnv(t, none)
	e.enrollApp("alice")
	wrong := e.wrongCode()
	var wrongAnswer map[string]any
	for range 8 {
		_, m := e.call(http.MethodGet, "/validate/check", url.Values{"user": {"alice"}, "pass": {wrong}})
		if value(t, m) {
			t.Fatal("a wrong code accepted")
		}
		wrongAnswer = m
	}
	if e.audit.Count(audit.ThrottleRefused) == 0 {
		t.Fatal("eight wrong codes from one address were never throttled")
	}
	st, m := e.call(http.MethodGet, "/validate/check", url.Values{"user": {"alice"}, "pass": {e.code()}})
	if st != 200 || value(t, m) {
		t.Fatalf("the right code while throttled: %d %v", st, m)
	}
	if got, want := detail(m)["message"], detail(wrongAnswer)["message"]; got != want {
		t.Errorf("throttled answer %q, a wrong code's %q", got, want)
	}
	e.expectAudit(linotp.EventAccept, 0)
	e.expectAudit(door.EventAttested, 0)
}

// TestNoneJourneyMismatch: with otppin none the door sends no password. A journey that
// asks for one is refused at start-up (TestJourneyFitsPolicy); one saved after the
// start is refused when it runs, as a journey that cannot run here, and nothing is
// verified.
func TestNoneJourneyMismatch(t *testing.T) {
	e := newEnv(t, "linotp: {enabled: true, journey: gateway, clients: [127.0.0.0/8, \"::1/128\"], otppin: none}\n")
	e.enrollApp("alice")
	doc, err := journeys.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	gateway := strings.Replace(string(doc["linotp"]), `"name": "linotp"`, `"name": "gateway"`, 1)
	if _, err := e.srv.Journeys.Save(ctx, []byte(gateway), "test"); err != nil {
		t.Fatal(err)
	}
	st, m := e.call(http.MethodGet, "/validate/check", url.Values{"user": {"alice"}, "pass": {e.code()}})
	if st != http.StatusInternalServerError || !strings.Contains(errorMessage(t, m), "asks what /validate cannot answer") {
		t.Fatalf("%d %v", st, m)
	}
	e.expectAudit(linotp.EventAccept, 0)
}
