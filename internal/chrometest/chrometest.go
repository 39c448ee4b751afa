// Package chrometest starts a real headless Chromium for tests, driven by chromedp, and
// gives them the few actions every browser test needs: run steps under a timeout, wait,
// click, type, read text and evaluate script. Each browser has its own profile, so no
// cookie crosses tests, and collects what the pages write to the console. A failing
// test gets the console, the page's address and text in its log, and a screenshot and
// the page's HTML in $ARBOR_TEST_ARTIFACTS (test-artifacts beside the package when
// unset).
//
// Chromium is looked for at /usr/bin/chromium, or at $ARBOR_CHROMIUM. Under CI=true a
// missing Chromium fails the test (test.sh installs it); elsewhere the test skips.
package chrometest

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// DefaultPath is where Debian installs Chromium; ARBOR_CHROMIUM overrides it.
const DefaultPath = "/usr/bin/chromium"

// DefaultTimeout bounds one browser action, page loads and waits included. It is
// generous because the tests run under the race detector on small, busy machines.
const DefaultTimeout = 45 * time.Second

// Options shape a browser. The zero value is an 800x600 window with DefaultTimeout.
type Options struct {
	// Width and Height are the window's size in pixels.
	Width, Height int
	// Timeout bounds each action.
	Timeout time.Duration
}

// Browser is one headless Chromium with one tab.
type Browser struct {
	// T is the test the browser belongs to; its failures fail that test.
	T testing.TB
	// Ctx is the tab's context. It has no deadline: the browser lives as long as it.
	// Bound a call with context.WithTimeout(Ctx, Timeout) when chromedp is used
	// directly.
	Ctx context.Context
	// Timeout bounds each action of the helpers.
	Timeout time.Duration

	mu      sync.Mutex
	console []chromedp.ConsoleMessage
}

// Path returns where Chromium should be: $ARBOR_CHROMIUM, or DefaultPath.
func Path() string {
	if p := os.Getenv("ARBOR_CHROMIUM"); p != "" {
		return p
	}
	return DefaultPath
}

// Need fails t under CI=true and skips it otherwise when a real part the test needs is
// missing (ok is false); install says how to get it.
func Need(t testing.TB, ok bool, what, install string) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is missing: %s", what, install)
		return
	}
	t.Skipf("%s is missing (%s)", what, install)
}

// Start starts a fresh Chromium for t and stops it when t ends.
func Start(t testing.TB, o Options) *Browser {
	t.Helper()
	path := Path()
	_, err := os.Stat(path)
	Need(t, err == nil, "Chromium at "+path, "apt-get install chromium (test.sh does)")
	if o.Width == 0 || o.Height == 0 {
		o.Width, o.Height = 800, 600
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		// Without these Chromium reaches for the network at start and stalls on a
		// closed one.
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(o.Width, o.Height),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	b := &Browser{T: t, Ctx: ctx, Timeout: o.Timeout}
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
	})
	// Registered after the cancels, so it runs before them, with the browser still up.
	t.Cleanup(func() {
		if t.Failed() {
			b.report()
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
			b.console = append(b.console, m)
			b.mu.Unlock()
		}
	}()
	return b
}

// Console returns what the pages wrote to the console so far: console API calls,
// uncaught exceptions and the browser's log (where CSP violations appear). A round
// trip to the page first makes sure the messages it sent before have arrived.
func (b *Browser) Console() []chromedp.ConsoleMessage {
	b.T.Helper()
	Eval[bool](b, `true`)
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.console)
}

// report logs the console and the page, and saves a screenshot and the HTML.
func (b *Browser) report() {
	b.mu.Lock()
	lines := make([]string, len(b.console))
	for i, m := range b.console {
		lines[i] = string(m.Type) + ": " + m.Text
	}
	b.mu.Unlock()
	b.T.Logf("browser console:\n%s", strings.Join(lines, "\n"))

	ctx, cancel := context.WithTimeout(b.Ctx, 10*time.Second)
	defer cancel()
	if text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + "\n" + document.body.innerText`)); err == nil {
		b.T.Logf("page at the end:\n%s", text)
	}
	dir := os.Getenv("ARBOR_TEST_ARTIFACTS")
	if dir == "" {
		dir = "test-artifacts"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.T.Logf("cannot save a screenshot: %v", err)
		return
	}
	name := regexp.MustCompile(`[^A-Za-z0-9_.-]+`).ReplaceAllString(b.T.Name(), "_")
	abs, _ := filepath.Abs(filepath.Join(dir, name))
	if png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot()); err == nil {
		if err := os.WriteFile(abs+".png", png, 0o644); err == nil {
			b.T.Logf("screenshot of the failure: %s.png", abs)
		}
	} else {
		b.T.Logf("no screenshot: %v", err)
	}
	if doc, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.outerHTML`)); err == nil {
		_ = os.WriteFile(abs+".html", []byte(doc), 0o644)
	}
}

// Do runs actions within the timeout; what names them in the failure.
func (b *Browser) Do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.T.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, b.Timeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.T.Fatalf("%s: %v", what, err)
	}
}

// Run runs one action that returns a value within the timeout.
func Run[T any](b *Browser, what string, action chromedp.Action[T]) T {
	b.T.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, b.Timeout)
	defer cancel()
	v, err := chromedp.Run(ctx, action)
	if err != nil {
		b.T.Fatalf("%s: %v", what, err)
	}
	return v
}

// Eval evaluates expr in the page and returns its value.
func Eval[T any](b *Browser, expr string) T {
	b.T.Helper()
	return Run(b, "evaluate "+expr, chromedp.Evaluate[T](expr))
}

// EvalJSON evaluates expr in the page and decodes its value, as JSON, into out.
func (b *Browser) EvalJSON(what, expr string, out any) {
	b.T.Helper()
	raw := Run(b, what, chromedp.Evaluate[[]byte](expr))
	if err := json.Unmarshal(raw, out); err != nil {
		b.T.Fatalf("%s: %v in %s", what, err, raw)
	}
}

// Navigate opens url and waits for it to load.
func (b *Browser) Navigate(url string) {
	b.T.Helper()
	b.Do("open "+url, chromedp.Navigate(url))
}

// WaitVisible waits until the element sel is visible.
func (b *Browser) WaitVisible(sel string) {
	b.T.Helper()
	b.Do("wait for "+sel, chromedp.WaitVisible(chromedp.CSS(sel)))
}

// Click clicks the element sel.
func (b *Browser) Click(sel string) {
	b.T.Helper()
	b.Do("click "+sel, chromedp.Click(chromedp.CSS(sel)))
}

// ClickAndLoad clicks sel and waits for the page it leads to.
func (b *Browser) ClickAndLoad(sel string) {
	b.T.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, b.Timeout)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.WaitEvent(cdppage.LoadEventFired, nil, chromedp.Click(chromedp.CSS(sel)))); err != nil {
		b.T.Fatalf("click %s and wait for the next page: %v", sel, err)
	}
}

// TypeIn types text into sel. A page that reloads itself as it polls takes the node
// away from keys sent as that happens, so typing is tried again on the new page.
func (b *Browser) TypeIn(sel, text string) {
	b.T.Helper()
	for try := 1; ; try++ {
		ctx, cancel := context.WithTimeout(b.Ctx, b.Timeout)
		err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS(sel), text))
		cancel()
		if err == nil {
			return
		}
		if try == 3 || !(strings.Contains(err.Error(), "Could not find node") || strings.Contains(err.Error(), "Cannot find context")) {
			b.T.Fatalf("type into %s: %v", sel, err)
		}
		b.WaitVisible(sel)
	}
}

// Text returns the text of the element sel, trimmed.
func (b *Browser) Text(sel string) string {
	b.T.Helper()
	return strings.TrimSpace(Run(b, "text of "+sel, chromedp.Text(chromedp.CSS(sel))))
}

// WaitFocus waits up to five seconds for the keyboard focus to be on the element with
// id (browsers apply autofocus a frame after the page shows) and fails the test, with
// where the focus is, if it does not come.
func (b *Browser) WaitFocus(id string) {
	b.T.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, b.Timeout)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.activeElement !== null && document.activeElement.id === `+strconv.Quote(id),
		chromedp.WithPollingTimeout(5*time.Second)))
	if err != nil {
		b.T.Errorf("the focus is on %q, want %q", Eval[string](b, `document.activeElement ? document.activeElement.id : ""`), id)
	}
}

// SetCookie sets a cookie for url, as a login would have.
func (b *Browser) SetCookie(name, value, url string) {
	b.T.Helper()
	b.Do("set the cookie "+name, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, network.SetCookie, network.SetCookieParams{Name: name, Value: value, URL: url, Path: "/"})
		return err
	}))
}

// Screenshot returns a PNG of the page as the window shows it.
func (b *Browser) Screenshot() []byte {
	b.T.Helper()
	return Run(b, "screenshot", chromedp.CaptureScreenshot())
}
