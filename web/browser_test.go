package web_test

// Browser tests: the pages in a real headless Chromium, driven by chromedp, against an
// in-process Arbor with the reference authenticator as the phone. Under CI=true a
// missing Chromium fails the run (test.sh installs it); elsewhere these tests skip.
// A failing test saves a screenshot and the page's HTML to $ARBOR_TEST_ARTIFACTS, or
// web/test-artifacts, and prints where.

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/authenticator"
	"github.com/arbor-auth/arbor/internal/app/apptest"
	"github.com/arbor-auth/arbor/internal/chrometest"
)

// stepTimeout bounds one browser action, page loads and waits included.
const stepTimeout = chrometest.DefaultTimeout

// browser is a Chromium on the pages of one env.
type browser struct {
	*chrometest.Browser
	t *testing.T
	e *env
}

// newBrowser starts a fresh Chromium (its own profile, so no cookie crosses tests) with
// an 800x600 window.
func newBrowser(t *testing.T, e *env) *browser {
	t.Helper()
	return &browser{Browser: chrometest.Start(t, chrometest.Options{Width: 800, Height: 600}), t: t, e: e}
}

// open opens path on the env's server.
func (b *browser) open(path string) {
	b.t.Helper()
	b.Navigate(b.e.srv.URL + path)
}

func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	return chrometest.Eval[T](b.Browser, expr)
}

// signIn fills the credentials page and submits it with the keyboard, as a user would.
func (b *browser) signIn(pw string) {
	b.t.Helper()
	b.WaitVisible("#IDToken2")
	b.WaitFocus("IDToken1")
	b.TypeIn("#IDToken1", alice)
	b.TypeIn("#IDToken2", pw+"\r")
}

// checkConsole fails on any CSP violation or script error the pages reported.
func (b *browser) checkConsole() {
	b.t.Helper()
	for _, m := range b.Console() {
		if strings.Contains(m.Text, "Content Security Policy") || m.Type == "exception" || m.Type == "error" {
			b.t.Errorf("browser console: %s: %s", m.Type, m.Text)
		}
	}
}

func (b *browser) number() int {
	b.t.Helper()
	b.WaitVisible("#challenge-number")
	n, err := strconv.Atoi(b.Text("#challenge-number"))
	if err != nil {
		b.t.Fatalf("the number to match is not a number: %v", err)
	}
	return n
}

func TestBrowserLoginSuccess(t *testing.T) {
	e := newEnv(t, envOptions{})
	b := newBrowser(t, e)
	b.open("/login")
	if got := b.Text("h1"); got != "Sign in" {
		t.Fatalf("heading %q", got)
	}
	b.signIn(password)
	b.WaitVisible("#signed-in-user")
	if got := b.Text("#signed-in-user"); got != alice {
		t.Fatalf("signed in as %q", got)
	}
	// Neither cookie is readable by scripts.
	if c := eval[string](b, `document.cookie`); c != "" {
		t.Fatalf("cookies visible to scripts: %q", c)
	}
	if n := e.audit.Count(audit.LoginSuccess); n != 1 {
		t.Fatalf("%d login.success events", n)
	}
	b.Click("form[action='/login/logout'] button")
	b.WaitVisible("#message")
	if got := b.Text("#message"); !strings.Contains(got, "You have signed out.") {
		t.Fatalf("after sign-out: %q", got)
	}
	b.checkConsole()
}

func TestBrowserWrongPassword(t *testing.T) {
	e := newEnv(t, envOptions{})
	b := newBrowser(t, e)
	b.open("/login")
	b.signIn("not the password")
	b.WaitVisible("#step-alert")
	if got := b.Text("#step-alert"); got != "Sign-in failed. Check your details and try again." {
		t.Fatalf("alert %q", got)
	}
	if got := eval[string](b, `document.getElementById('IDToken1').value`); got != alice {
		t.Fatalf("user name not kept: %q", got)
	}
	b.WaitFocus("IDToken2")
	b.TypeIn("#IDToken2", password+"\r")
	b.WaitVisible("#signed-in-user")
	b.checkConsole()
}

// TestBrowserPushMFAFromRegistration runs the shipped push-mfa journey, as shipped:
// register by the page's QR address, see the recovery codes, approve the push with the
// number shown. Every wait is the page's own polling.
func TestBrowserPushMFAFromRegistration(t *testing.T) {
	e := newEnv(t, envOptions{})
	b := newBrowser(t, e)
	b.open("/login?journey=push-mfa")
	b.signIn(password)

	b.WaitVisible("button[name='IDToken2'][value='0']")
	if got := b.Text("button[name='IDToken2'][value='0']"); got != "Register device" {
		t.Fatalf("first option %q", got)
	}
	b.Click("button[name='IDToken2'][value='0']")

	b.WaitVisible("#registration-qr")
	uri := eval[string](b, `document.getElementById('registration-uri').value`)
	if !strings.HasPrefix(uri, "pushauth://") {
		t.Fatalf("registration address %q", uri)
	}
	// The page is for end users: no developer command (--demo shows one).
	if eval[bool](b, `document.getElementById('registration-command') !== null`) {
		t.Fatal("the registration page shows the reference authenticator's command")
	}
	if w := eval[int](b, `document.getElementById('registration-qr').naturalWidth`); w < 200 {
		t.Fatalf("QR image is %d pixels wide", w)
	}
	if _, err := e.phone.Register(context.Background(), uri, authenticator.RegisterOptions{Name: phoneName}); err != nil {
		t.Fatalf("register: %v", err)
	}

	// The page polls by itself and moves on to the codes.
	b.WaitVisible("#recovery-codes")
	codes := eval[[]string](b, `Array.from(document.querySelectorAll('#recovery-codes code'), c => c.textContent)`)
	if len(codes) != 10 {
		t.Fatalf("%d recovery codes shown: %v", len(codes), codes)
	}
	for _, c := range codes {
		if !regexp.MustCompile(`^[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}$`).MatchString(c) {
			t.Fatalf("odd recovery code %q", c)
		}
	}
	if !strings.Contains(b.Text(".codes .alert"), phoneName) {
		t.Errorf("the codes do not name the device")
	}
	// The node's type-4 script never reached the page.
	if n := eval[int](b, `document.scripts.length`); n != 1 {
		t.Fatalf("%d scripts on the codes page", n)
	}
	b.Click("button[name='IDToken3'][value='0']")

	n := b.number()
	if _, err := e.phone.ApproveLatest(context.Background(), n); err != nil {
		t.Fatalf("approve with %d: %v", n, err)
	}
	b.WaitVisible("#signed-in-user")
	for typ, want := range map[string]int{audit.DeviceRegistered: 1, audit.RecoveryCodesNew: 1, audit.PushApproved: 1, audit.LoginSuccess: 1} {
		if got := e.audit.Count(typ); got != want {
			t.Errorf("%s: %d events, want %d", typ, got, want)
		}
	}
	b.checkConsole()
}

func TestBrowserNumberMatchingApproval(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.enroll()
	b := newBrowser(t, e)
	b.open("/login?journey=" + fastJourney)
	b.signIn(password)
	n := b.number()
	if role := eval[string](b, `document.getElementById('poll-message').getAttribute('aria-live')`); role != "polite" {
		t.Errorf("the polling message is not a live region: %q", role)
	}
	if size := eval[float64](b, `parseFloat(getComputedStyle(document.getElementById('challenge-number')).fontSize)`); size < 48 {
		t.Errorf("the number is %vpx, not large", size)
	}
	pending, err := e.phone.Pending(context.Background())
	if err != nil || len(pending) != 1 {
		t.Fatalf("pending: %v %v", pending, err)
	}
	found := false
	for _, x := range pending[0].Numbers {
		found = found || x == n
	}
	if !found {
		t.Fatalf("the page shows %d, the phone offers %v", n, pending[0].Numbers)
	}
	// Let the page poll a few times unanswered: it stays, and keeps the number.
	e.waitPolls(2)
	if again := b.number(); again != n {
		t.Fatalf("the number changed from %d to %d while waiting", n, again)
	}
	if err := e.phone.Approve(context.Background(), pending[0].MessageID, n); err != nil {
		t.Fatal(err)
	}
	b.WaitVisible("#signed-in-user")
	if e.audit.Count(audit.PushApproved) != 1 || e.audit.Count(audit.PushMismatch) != 0 {
		t.Fatalf("approved %d, mismatched %d", e.audit.Count(audit.PushApproved), e.audit.Count(audit.PushMismatch))
	}
	b.checkConsole()
}

func TestBrowserRecoveryCode(t *testing.T) {
	e := newEnv(t, envOptions{})
	codes := e.enroll()
	b := newBrowser(t, e)
	b.open("/login?journey=" + fastJourney)
	b.signIn(password)
	b.WaitVisible("#challenge-number")
	exit := "button[name='IDToken3'][value='0']"
	if got := b.Text(exit); got != "Lost phone? Use a recovery code" {
		t.Fatalf("exit button %q", got)
	}
	b.Click(exit)
	b.WaitVisible("#IDToken1")
	if got := b.Text("label[for='IDToken1']"); got != "Recovery Code" {
		t.Fatalf("label %q", got)
	}
	b.TypeIn("#IDToken1", codes[4]+"\r")
	b.WaitVisible("#signed-in-user")
	if left, _ := e.app.Devices.RecoveryCodesLeft(context.Background(), "/", alice); left != 9 {
		t.Fatalf("%d codes left, want 9", left)
	}
	if e.audit.Count(audit.RecoveryCodeUsed) != 1 {
		t.Fatal("no recovery_code.used event")
	}
	b.checkConsole()
}

func TestBrowserDeny(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.enroll()
	b := newBrowser(t, e)
	b.open("/login?journey=" + fastJourney)
	b.signIn(password)
	b.number()
	if _, err := e.phone.DenyLatest(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The page polls, learns of the denial, and offers a new attempt.
	b.WaitVisible("#step-alert")
	if got := b.Text("#step-alert"); got != "The push notification was denied." {
		t.Fatalf("alert %q", got)
	}
	if got := eval[string](b, `document.getElementById('IDToken1').value`); got != alice {
		t.Fatalf("user name %q", got)
	}
	if e.audit.Count(audit.PushDenied) != 1 || e.audit.Count(audit.LoginSuccess) != 0 {
		t.Fatal("the denial did not end the login")
	}
	b.checkConsole()
}

// TestBrowserWithoutJavaScript waits on a push with scripts off: nothing polls, and the
// "Check now" button moves the login on.
func TestBrowserWithoutJavaScript(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.enroll()
	b := newBrowser(t, e)
	b.Do("disable scripts", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
		return err
	}))
	b.open("/login?journey=" + fastJourney)
	b.WaitVisible("#IDToken2")
	b.TypeIn("#IDToken1", alice)
	b.TypeIn("#IDToken2", password+"\r")
	n := b.number()
	if !strings.Contains(b.Text(".poll"), "Without JavaScript, press “Check now”") {
		t.Errorf("the <noscript> hint is not shown")
	}
	if _, err := e.phone.ApproveLatest(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	// The journey waits one second before it looks at the answer: move its clock.
	e.clock.Advance(1100 * time.Millisecond)
	b.ClickAndLoad("#check-now")
	if h := b.Text("h1"); !strings.Contains(h, "You are signed in") {
		t.Fatalf("still at %q after pressing Check now", h)
	}
}

// TestBrowserPhoneLayout checks the pages on a phone screen: nothing wider than the
// screen, buttons big enough to tap.
func TestBrowserPhoneLayout(t *testing.T) {
	e := newEnv(t, envOptions{})
	b := newBrowser(t, e)
	b.Do("emulate a phone", chromedp.EmulateViewport(375, 740, chromedp.EmulateMobile, chromedp.EmulateTouch))
	fits := func(where string) {
		t.Helper()
		if w := eval[int](b, `document.documentElement.scrollWidth - window.innerWidth`); w > 0 {
			t.Errorf("%s: %d pixels wider than the screen", where, w)
		}
		small := eval[[]string](b, `Array.from(document.querySelectorAll('button:not([hidden]), input:not([type=hidden]), .button'))
			.filter(el => el.getBoundingClientRect().height < 44).map(el => el.outerHTML)`)
		if len(small) > 0 {
			t.Errorf("%s: tap targets under 44px: %v", where, small)
		}
	}
	b.open("/login?journey=push-mfa")
	b.WaitVisible("#IDToken1")
	fits("login")
	b.TypeIn("#IDToken1", alice)
	b.TypeIn("#IDToken2", password+"\r")
	b.WaitVisible("button[name='IDToken2'][value='0']")
	fits("registration options")
	b.Click("button[name='IDToken2'][value='0']")
	b.WaitVisible("#registration-qr")
	fits("registration")
	if w := eval[float64](b, `document.getElementById('registration-qr').getBoundingClientRect().width`); w > 375 || w < 200 {
		t.Errorf("QR code %vpx wide on a 375px screen", w)
	}
	b.checkConsole()
}

func TestBrowserDevices(t *testing.T) {
	e := newEnv(t, envOptions{args: []string{"--step-up-journey", fastJourney}})
	e.enroll()
	b := newBrowser(t, e)
	approve := func() {
		t.Helper()
		if _, err := e.phone.ApproveLatest(context.Background(), b.number()); err != nil {
			t.Fatal(err)
		}
	}
	// The password alone is refused for a user with a phone.
	b.open("/account/devices")
	b.signIn(password) // not signed in: the login comes first
	b.WaitVisible("[role=alert]")
	if got := b.Text("[role=alert]"); !strings.Contains(got, "second factor") {
		t.Fatalf("password-only login of a push-enrolled user: alert %q", got)
	}
	b.open("/login?journey=" + fastJourney + "&goto=%2Faccount%2Fdevices")
	b.signIn(password)
	approve()
	b.WaitVisible("#device-list")
	if got := b.Text("#device-list h3"); got != phoneName {
		t.Fatalf("device %q", got)
	}
	if got := b.Text("#codes-left"); got != "10" {
		t.Fatalf("codes left %q", got)
	}

	// Minutes later, removing the device asks for the password and the phone again,
	// then asks to confirm.
	e.clock.Advance(6 * time.Minute)
	b.Click("#device-list a.remove")
	b.signIn(password)
	approve()
	b.WaitVisible("#confirm")
	if got := b.Text("h1"); got != "Remove this device?" {
		t.Fatalf("confirmation %q", got)
	}
	b.Click("#confirm")
	b.WaitVisible("#notice")
	if !strings.Contains(b.Text("#notice"), "The device was removed.") {
		t.Fatalf("notice %q", b.Text("#notice"))
	}
	b.WaitVisible("#no-devices")
	if n := e.audit.Count(audit.DeviceRevoked); n != 1 {
		t.Fatalf("%d device.revoked events", n)
	}

	// Just signed in: new codes come at once, shown once.
	before := e.audit.Count(audit.RecoveryCodesNew)
	b.Click("#new-codes")
	b.WaitVisible("#recovery-codes")
	if n := eval[int](b, `document.querySelectorAll('#recovery-codes li').length`); n != 10 {
		t.Fatalf("%d codes shown", n)
	}
	if e.audit.Count(audit.RecoveryCodesNew) != before+1 {
		t.Fatal("no recovery_codes.generated event")
	}
	b.checkConsole()
}

// loginRequests counts the requests the login page has served: each poll of a waiting
// page is one.
func (e *env) loginRequests() float64 { e.t.Helper(); return apptest.Requests(e.t, e.app, "/login") }

// waitPolls waits until the open page has polled the server n more times: what a test
// means by "let the page wait", without guessing how long that takes.
func (e *env) waitPolls(n int) {
	e.t.Helper()
	apptest.WaitRequests(e.t, e.app, "/login", n, stepTimeout)
}

// waitHeld waits until the waiting page's poll timer has come due and held back (the
// user was typing), so a test can check that nothing was sent.
func (b *browser) waitHeld() {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, stepTimeout)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`(parseInt((document.querySelector('form[data-step]') || {getAttribute(){}}).getAttribute('data-held'), 10) || 0) >= 1`,
		chromedp.WithPollingTimeout(stepTimeout))); err != nil {
		b.t.Fatalf("the page never held a poll back: %v", err)
	}
}

// TestBrowserGotoAnotherOrigin: after the login form's post, the browser follows the
// redirect to an allowed goto on another origin. Browsers apply the page's CSP
// form-action to that redirect, so the allowed origins must be in it.
func TestBrowserGotoAnotherOrigin(t *testing.T) {
	appSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><title>app</title><h1 id="app">the app at %s</h1>`, html.EscapeString(r.URL.Path))
	}))
	t.Cleanup(appSrv.Close)
	e := newEnv(t, envOptions{args: []string{"--allowed-redirects", appSrv.URL + "/app"}})
	b := newBrowser(t, e)
	b.open("/login?goto=" + url.QueryEscape(appSrv.URL+"/app/home"))
	b.signIn(password)
	b.WaitVisible("#app")
	if got := b.Text("#app"); got != "the app at /app/home" {
		t.Fatalf("landed on %q", got)
	}
}
