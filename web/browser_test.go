package web_test

// Browser tests: the pages in a real headless Chromium, driven by chromedp, against an
// in-process Arbor with the reference authenticator as the phone. Under CI=true a
// missing Chromium fails the run (test.sh installs it); elsewhere these tests skip.
// A failing test saves a screenshot and the page's HTML to $ARBOR_TEST_ARTIFACTS, or
// web/test-artifacts, and prints where.

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/authenticator"
	"github.com/arbor-auth/arbor/internal/app/apptest"
)

// chromiumPath is where Debian installs Chromium; ARBOR_CHROMIUM overrides it.
const chromiumPath = "/usr/bin/chromium"

// stepTimeout bounds one browser action, page loads and waits included. It is generous
// because the tests run under the race detector on small machines.
const stepTimeout = 45 * time.Second

type browser struct {
	t   *testing.T
	e   *env
	ctx context.Context

	mu      sync.Mutex
	console []string
}

// newBrowser starts a fresh Chromium (its own profile, so no cookie crosses tests) with
// an 800x600 window.
func newBrowser(t *testing.T, e *env) *browser {
	t.Helper()
	path := chromiumPath
	if p := os.Getenv("ARBOR_CHROMIUM"); p != "" {
		path = p
	}
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Chromium is missing at %s: install it with apt-get install chromium (test.sh does)", path)
		}
		t.Skipf("Chromium is missing at %s (apt-get install chromium)", path)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		// Without these Chromium reaches for the network at start and stalls on a
		// closed one.
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(800, 600),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	b := &browser{t: t, e: e, ctx: ctx}
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
	})
	// Registered after the cancels, so it runs before them, with the browser still up.
	t.Cleanup(func() {
		if t.Failed() {
			b.saveArtifacts()
		}
	})
	// The first action starts the browser, which lives as long as the context it was
	// given: that must be the tab's own, not one with a deadline.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	// Everything the pages write to the console, to catch script errors and CSP
	// violations.
	go func() {
		for m, err := range chromedp.Console(ctx) {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.console = append(b.console, string(m.Type)+": "+m.Text)
			b.mu.Unlock()
		}
	}()
	return b
}

// saveArtifacts writes a screenshot and the page's HTML next to each other.
func (b *browser) saveArtifacts() {
	dir := os.Getenv("ARBOR_TEST_ARTIFACTS")
	if dir == "" {
		dir = "test-artifacts"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Logf("cannot save a screenshot: %v", err)
		return
	}
	name := regexp.MustCompile(`[^A-Za-z0-9_.-]+`).ReplaceAllString(b.t.Name(), "_")
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	abs, _ := filepath.Abs(filepath.Join(dir, name))
	if png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot()); err == nil {
		if err := os.WriteFile(abs+".png", png, 0o644); err == nil {
			b.t.Logf("screenshot of the failure: %s.png", abs)
		}
	} else {
		b.t.Logf("no screenshot: %v", err)
	}
	if doc, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.outerHTML`)); err == nil {
		_ = os.WriteFile(abs+".html", []byte(doc), 0o644)
	}
	b.mu.Lock()
	b.t.Logf("browser console:\n%s", strings.Join(b.console, "\n"))
	b.mu.Unlock()
}

func (b *browser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

func (b *browser) open(path string) {
	b.t.Helper()
	b.do("open "+path, chromedp.Navigate(b.e.srv.URL+path))
}

func (b *browser) waitFor(sel string) {
	b.t.Helper()
	b.do("wait for "+sel, chromedp.WaitVisible(chromedp.CSS(sel)))
}

func (b *browser) click(sel string) {
	b.t.Helper()
	b.do("click "+sel, chromedp.Click(chromedp.CSS(sel)))
}

// clickAndLoad clicks sel and waits for the page it leads to.
func (b *browser) clickAndLoad(sel string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.WaitEvent(cdppage.LoadEventFired, nil, chromedp.Click(chromedp.CSS(sel)))); err != nil {
		b.t.Fatalf("click %s and wait for the next page: %v", sel, err)
	}
}

// typeIn types text into sel. A waiting page reloads itself when it polls; keys sent
// as that happens find their node gone, so typing is tried again on the new page.
func (b *browser) typeIn(sel, text string) {
	b.t.Helper()
	for try := 1; ; try++ {
		ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
		err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS(sel), text))
		cancel()
		if err == nil {
			return
		}
		if try == 3 || !(strings.Contains(err.Error(), "Could not find node") || strings.Contains(err.Error(), "Cannot find context")) {
			b.t.Fatalf("type into %s: %v", sel, err)
		}
		b.waitFor(sel)
	}
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// signIn fills the credentials page and submits it with the keyboard, as a user would.
func (b *browser) signIn(pw string) {
	b.t.Helper()
	b.waitFor("#IDToken2")
	b.wantFocus("IDToken1")
	b.typeIn("#IDToken1", alice)
	b.typeIn("#IDToken2", pw+"\r")
}

// wantFocus checks that the keyboard focus is on element id. Browsers apply autofocus
// a frame after the page shows, so it waits a little for it.
func (b *browser) wantFocus(id string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.activeElement !== null && document.activeElement.id === `+strconv.Quote(id),
		chromedp.WithPollingTimeout(5*time.Second)))
	if err != nil {
		b.t.Errorf("the focus is on %q, want %q", eval[string](b, `document.activeElement ? document.activeElement.id : ""`), id)
	}
}

// checkConsole fails on any CSP violation or script error the pages reported.
func (b *browser) checkConsole() {
	b.t.Helper()
	// A round trip to the page: events it sent before the answer have arrived by then.
	eval[bool](b, `true`)
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, m := range b.console {
		if strings.Contains(m, "Content Security Policy") || strings.HasPrefix(m, "exception") || strings.HasPrefix(m, "error") {
			b.t.Errorf("browser console: %s", m)
		}
	}
}

func (b *browser) number() int {
	b.t.Helper()
	b.waitFor("#challenge-number")
	n, err := strconv.Atoi(b.text("#challenge-number"))
	if err != nil {
		b.t.Fatalf("the number to match is not a number: %v", err)
	}
	return n
}

func TestBrowserLoginSuccess(t *testing.T) {
	e := newEnv(t, envOptions{})
	b := newBrowser(t, e)
	b.open("/login")
	if got := b.text("h1"); got != "Sign in" {
		t.Fatalf("heading %q", got)
	}
	b.signIn(password)
	b.waitFor("#signed-in-user")
	if got := b.text("#signed-in-user"); got != alice {
		t.Fatalf("signed in as %q", got)
	}
	// Neither cookie is readable by scripts.
	if c := eval[string](b, `document.cookie`); c != "" {
		t.Fatalf("cookies visible to scripts: %q", c)
	}
	if n := e.audit.Count(audit.LoginSuccess); n != 1 {
		t.Fatalf("%d login.success events", n)
	}
	b.click("form[action='/login/logout'] button")
	b.waitFor("#message")
	if got := b.text("#message"); !strings.Contains(got, "You have signed out.") {
		t.Fatalf("after sign-out: %q", got)
	}
	b.checkConsole()
}

func TestBrowserWrongPassword(t *testing.T) {
	e := newEnv(t, envOptions{})
	b := newBrowser(t, e)
	b.open("/login")
	b.signIn("not the password")
	b.waitFor("#step-alert")
	if got := b.text("#step-alert"); got != "Sign-in failed. Check your details and try again." {
		t.Fatalf("alert %q", got)
	}
	if got := eval[string](b, `document.getElementById('IDToken1').value`); got != alice {
		t.Fatalf("user name not kept: %q", got)
	}
	b.wantFocus("IDToken2")
	b.typeIn("#IDToken2", password+"\r")
	b.waitFor("#signed-in-user")
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

	b.waitFor("button[name='IDToken2'][value='0']")
	if got := b.text("button[name='IDToken2'][value='0']"); got != "Register device" {
		t.Fatalf("first option %q", got)
	}
	b.click("button[name='IDToken2'][value='0']")

	b.waitFor("#registration-qr")
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
	b.waitFor("#recovery-codes")
	codes := eval[[]string](b, `Array.from(document.querySelectorAll('#recovery-codes code'), c => c.textContent)`)
	if len(codes) != 10 {
		t.Fatalf("%d recovery codes shown: %v", len(codes), codes)
	}
	for _, c := range codes {
		if !regexp.MustCompile(`^[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}$`).MatchString(c) {
			t.Fatalf("odd recovery code %q", c)
		}
	}
	if !strings.Contains(b.text(".codes .alert"), phoneName) {
		t.Errorf("the codes do not name the device")
	}
	// The node's type-4 script never reached the page.
	if n := eval[int](b, `document.scripts.length`); n != 1 {
		t.Fatalf("%d scripts on the codes page", n)
	}
	b.click("button[name='IDToken3'][value='0']")

	n := b.number()
	if _, err := e.phone.ApproveLatest(context.Background(), n); err != nil {
		t.Fatalf("approve with %d: %v", n, err)
	}
	b.waitFor("#signed-in-user")
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
	b.waitFor("#signed-in-user")
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
	b.waitFor("#challenge-number")
	exit := "button[name='IDToken3'][value='0']"
	if got := b.text(exit); got != "Lost phone? Use a recovery code" {
		t.Fatalf("exit button %q", got)
	}
	b.click(exit)
	b.waitFor("#IDToken1")
	if got := b.text("label[for='IDToken1']"); got != "Recovery Code" {
		t.Fatalf("label %q", got)
	}
	b.typeIn("#IDToken1", codes[4]+"\r")
	b.waitFor("#signed-in-user")
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
	b.waitFor("#step-alert")
	if got := b.text("#step-alert"); got != "The push notification was denied." {
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
	b.do("disable scripts", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
		return err
	}))
	b.open("/login?journey=" + fastJourney)
	b.waitFor("#IDToken2")
	b.typeIn("#IDToken1", alice)
	b.typeIn("#IDToken2", password+"\r")
	n := b.number()
	if !strings.Contains(b.text(".poll"), "Without JavaScript, press “Check now”") {
		t.Errorf("the <noscript> hint is not shown")
	}
	if _, err := e.phone.ApproveLatest(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	// The journey waits one second before it looks at the answer: move its clock.
	e.clock.Advance(1100 * time.Millisecond)
	b.clickAndLoad("#check-now")
	if h := b.text("h1"); !strings.Contains(h, "You are signed in") {
		t.Fatalf("still at %q after pressing Check now", h)
	}
}

// TestBrowserPhoneLayout checks the pages on a phone screen: nothing wider than the
// screen, buttons big enough to tap.
func TestBrowserPhoneLayout(t *testing.T) {
	e := newEnv(t, envOptions{})
	b := newBrowser(t, e)
	b.do("emulate a phone", chromedp.EmulateViewport(375, 740, chromedp.EmulateMobile, chromedp.EmulateTouch))
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
	b.waitFor("#IDToken1")
	fits("login")
	b.typeIn("#IDToken1", alice)
	b.typeIn("#IDToken2", password+"\r")
	b.waitFor("button[name='IDToken2'][value='0']")
	fits("registration options")
	b.click("button[name='IDToken2'][value='0']")
	b.waitFor("#registration-qr")
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
	b.waitFor("[role=alert]")
	if got := b.text("[role=alert]"); !strings.Contains(got, "second factor") {
		t.Fatalf("password-only login of a push-enrolled user: alert %q", got)
	}
	b.open("/login?journey=" + fastJourney + "&goto=%2Faccount%2Fdevices")
	b.signIn(password)
	approve()
	b.waitFor("#device-list")
	if got := b.text("#device-list h3"); got != phoneName {
		t.Fatalf("device %q", got)
	}
	if got := b.text("#codes-left"); got != "10" {
		t.Fatalf("codes left %q", got)
	}

	// Minutes later, removing the device asks for the password and the phone again,
	// then asks to confirm.
	e.clock.Advance(6 * time.Minute)
	b.click("#device-list a.remove")
	b.signIn(password)
	approve()
	b.waitFor("#confirm")
	if got := b.text("h1"); got != "Remove this device?" {
		t.Fatalf("confirmation %q", got)
	}
	b.click("#confirm")
	b.waitFor("#notice")
	if !strings.Contains(b.text("#notice"), "The device was removed.") {
		t.Fatalf("notice %q", b.text("#notice"))
	}
	b.waitFor("#no-devices")
	if n := e.audit.Count(audit.DeviceRevoked); n != 1 {
		t.Fatalf("%d device.revoked events", n)
	}

	// Just signed in: new codes come at once, shown once.
	before := e.audit.Count(audit.RecoveryCodesNew)
	b.click("#new-codes")
	b.waitFor("#recovery-codes")
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
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`(parseInt((document.querySelector('form[data-step]') || {getAttribute(){}}).getAttribute('data-held'), 10) || 0) >= 1`,
		chromedp.WithPollingTimeout(stepTimeout))); err != nil {
		b.t.Fatalf("the page never held a poll back: %v", err)
	}
}
