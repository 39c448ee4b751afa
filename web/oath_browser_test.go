package web_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/devices"
	"github.com/arbor-auth/arbor/journeys"
	"github.com/arbor-auth/arbor/oath"
)

// codeJourney is push-mfa whose wait also takes a code typed instead of the push.
const codeJourney = "push-or-code"

var appSecret = []byte("alice's app secret!!")

// withCodeJourney saves codeJourney (push-mfa as shipped, with accept_code and
// accept_recovery_code, polling every eight seconds: long enough for a loaded machine to
// read a page before its next poll replaces it) and gives alice an authenticator app.
func withCodeJourney(t *testing.T, e *env) {
	t.Helper()
	builtin, err := journeys.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	var j map[string]any
	if err := json.Unmarshal(builtin["push-mfa"], &j); err != nil {
		t.Fatal(err)
	}
	j["name"] = codeJourney
	wait := j["nodes"].(map[string]any)["wait"].(map[string]any)
	cfg := wait["config"].(map[string]any)
	cfg["seconds_to_wait"], cfg["accept_code"], cfg["accept_recovery_code"] = 8, true, true
	wait["outcomes"].(map[string]any)["code"] = "success"
	b, _ := json.Marshal(j)
	ctx := context.Background()
	if _, err := e.app.Journeys.Save(ctx, b, "test"); err != nil {
		t.Fatalf("save %s: %v", codeJourney, err)
	}
	if _, err := e.app.Devices.AddOATH(ctx, "/", alice, devices.OATHDevice{Name: "Authenticator app", Params: oath.DefaultParams}, appSecret); err != nil {
		t.Fatal(err)
	}
}

func (e *env) appCode() string {
	e.t.Helper()
	c, err := oath.Code(oath.DefaultParams, appSecret, e.clock.Now(), 0)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// TestBrowserCodeInsteadOfPush: on the wait page, a code typed in the field signs in
// and cancels the push; the page does not poll away a half-typed code; a wrong code
// says so and keeps waiting.
func TestBrowserCodeInsteadOfPush(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.enroll()
	withCodeJourney(t, e)
	b := newBrowser(t, e)
	b.open("/login?journey=" + codeJourney)
	b.signIn(password)
	b.WaitVisible("#challenge-number")
	if got := b.Text("label[for='IDToken3']"); got != "Enter a code instead" {
		t.Fatalf("code field label %q", got)
	}
	if eval[bool](b, `document.activeElement === document.getElementById('IDToken3')`) {
		t.Error("the wait page opened the keyboard on the code field")
	}

	// A wrong code: the page says so and the push still waits.
	b.TypeIn("#IDToken3", "000000\r")
	b.WaitVisible("#challenge-number")
	b.WaitVisible("p.message.error")
	if got := b.Text("p.message.error"); got != "That code is not right." {
		t.Fatalf("error %q", got)
	}

	// Half a code, then a pause longer than the poll: the page stays, the digits too.
	b.TypeIn("#IDToken3", "12")
	polls := e.loginRequests()
	b.waitHeld()
	if n := e.loginRequests(); n != polls {
		t.Errorf("the page polled %v times with a half-typed code", n-polls)
	}
	if got := eval[string](b, `document.getElementById('IDToken3').value`); got != "12" {
		t.Fatalf("the page polled away a half-typed code: field %q", got)
	}
	if n := e.audit.Count(audit.OTPRejected); n != 1 {
		t.Fatalf("%d otp.rejected events, want only the wrong code's", n)
	}
	eval[string](b, `document.getElementById('IDToken3').value = ''`)
	b.TypeIn("#IDToken3", e.appCode()+"\r")
	b.WaitVisible("#signed-in-user")
	if e.audit.Count(audit.OTPAccepted) != 1 || e.audit.Count(audit.PushCancelled) != 1 {
		t.Fatalf("events: accepted %d, cancelled %d", e.audit.Count(audit.OTPAccepted), e.audit.Count(audit.PushCancelled))
	}
	if _, err := e.phone.ApproveLatest(context.Background(), 0); err == nil {
		t.Error("the phone approved the cancelled push")
	}
	if e.audit.Count(audit.PushApproved) != 0 {
		t.Error("a late approval was accepted")
	}
	b.checkConsole()
}

// TestBrowserDevicesApp: the devices page lists an authenticator app beside the push
// device, and removes it after a fresh sign-in with a code from the app (the realm's
// step-up journey is oath-mfa here) without touching the push device.
func TestBrowserDevicesApp(t *testing.T) {
	e := newEnv(t, envOptions{args: []string{"--step-up-journey", "oath-mfa"}})
	e.enroll()
	if _, err := e.app.Devices.AddOATH(context.Background(), "/", alice, devices.OATHDevice{Name: "Authenticator app", Params: oath.DefaultParams}, appSecret); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, e)
	signIn := func() {
		t.Helper()
		b.signIn(password)
		b.waitText("label[for='IDToken1']", "Enter the code from your authenticator app")
		b.TypeIn("#IDToken1", e.appCode()+"\r")
	}
	b.open("/login?journey=oath-mfa&goto=%2Faccount%2Fdevices")
	signIn()
	b.WaitVisible("#app-list")
	if got := b.Text("#app-list h3"); got != "Authenticator app" {
		t.Fatalf("app %q", got)
	}
	if got := b.Text("#app-list dd"); got != "Time-based, 6 digits" {
		t.Fatalf("app facts %q", got)
	}
	e.clock.Advance(6 * time.Minute)
	b.Click("#app-list button")
	signIn()
	b.WaitVisible("#confirm")
	if got := b.Text("main p"); got != "Codes from “Authenticator app” will no longer sign you in." {
		t.Errorf("confirmation text %q", got)
	}
	b.Click("#confirm")
	b.WaitVisible("#notice")
	b.WaitVisible("#device-list")
	if n := eval[int](b, `document.querySelectorAll('#app-list').length`); n != 0 {
		t.Fatal("the app is still listed")
	}
	if apps, _ := e.app.Devices.OATHDevices(context.Background(), "/", alice); len(apps) != 0 {
		t.Fatalf("apps left: %+v", apps)
	}
	if push, _ := e.app.Devices.Devices(context.Background(), "/", alice); len(push) != 1 {
		t.Fatalf("the push device went too: %+v", push)
	}
	if n := e.audit.Count(audit.DeviceRevoked); n != 1 {
		t.Fatalf("%d device.revoked events", n)
	}
	b.checkConsole()
}

// TestBrowserOATHRegistration walks the shipped oath-mfa in the browser: register an
// authenticator app from the QR page's address, confirm it with its first code (a wrong
// one first), save the recovery codes, and sign in.
func TestBrowserOATHRegistration(t *testing.T) {
	e := newEnv(t, envOptions{})
	b := newBrowser(t, e)
	b.open("/login?journey=oath-mfa")
	b.signIn(password)
	b.WaitVisible("button[name='IDToken2'][value='0']")
	b.Click("button[name='IDToken2'][value='0']")

	b.WaitVisible("#registration-qr")
	uri := eval[string](b, `document.getElementById('registration-uri').value`)
	if !strings.HasPrefix(uri, "otpauth://totp/Arbor:alice?") {
		t.Fatalf("registration address %q", uri)
	}
	// The page is for end users: no developer command (--demo shows one).
	if eval[bool](b, `document.getElementById('registration-command') !== null`) {
		t.Fatal("the registration page shows the reference authenticator's command")
	}
	if got := b.Text("label[for='IDToken3']"); got != "Code from your app" {
		t.Fatalf("code field %q", got)
	}
	if _, err := e.phone.AddCodeAccount(uri); err != nil {
		t.Fatal(err)
	}
	b.TypeIn("#IDToken3", "000000\r")
	b.WaitVisible("p.message.error")
	if got := eval[string](b, `document.getElementById('registration-uri').value`); got != uri {
		t.Fatalf("a wrong code drew a new key: %q", got)
	}
	code, _, _, err := e.phone.Code("")
	if err != nil {
		t.Fatal(err)
	}
	// The error message is a callback of its own: the field is now the fourth.
	b.TypeIn("#IDToken4", code+"\r")
	b.WaitVisible("#recovery-codes")
	if n := eval[int](b, `document.querySelectorAll('#recovery-codes li').length`); n != 10 {
		t.Fatalf("%d recovery codes shown", n)
	}
	b.Click("button[name='IDToken3'][value='0']")
	b.WaitVisible("#signed-in-user")
	if apps, _ := e.app.Devices.OATHDevices(context.Background(), "/", alice); len(apps) != 1 {
		t.Fatalf("apps %+v", apps)
	}
	b.checkConsole()
}

// waitText waits until the element sel exists with the text want (the page after a
// submit may keep the same ids as the one before). A check that meets a navigation is
// simply tried again.
func (b *browser) waitText(sel, want string) {
	b.t.Helper()
	js := `(() => { const el = document.querySelector(` + strconv.Quote(sel) + `); return el !== null && el.textContent.trim() === ` + strconv.Quote(want) + `; })()`
	deadline := time.Now().Add(stepTimeout)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(b.Ctx, 5*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js))
		cancel()
		if err == nil && ok {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.t.Fatalf("%s never said %q", sel, want)
}
