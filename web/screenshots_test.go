package web_test

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"
)

var screenshots = flag.Bool("screenshots", false, "write the README screenshots to docs/screenshots")

// TestScreenshots draws the README's screenshots (800x600 PNG) in Chromium:
//
//	go test ./web -run TestScreenshots -screenshots
func TestScreenshots(t *testing.T) {
	if !*screenshots {
		t.Skip("run with -screenshots to write docs/screenshots")
	}
	dir := filepath.Join("..", "docs", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, envOptions{})
	e.enroll()
	b := newBrowser(t, e)
	b.do("size the page", chromedp.EmulateViewport(800, 600))
	shot := func(name string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
		defer cancel()
		png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s (%d bytes)", filepath.Join(dir, name), len(png))
	}

	b.open("/login")
	b.waitFor("#IDToken1")
	shot("login.png")

	// The shipped journey: the push waits five seconds, long enough for the picture.
	b.open("/login?journey=push-mfa")
	b.signIn(password)
	n := b.number()
	shot("push-wait.png")
	if _, err := e.phone.ApproveLatest(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	b.waitFor("#signed-in-user")

	b.open("/account/devices")
	b.waitFor("#device-list")
	b.do("blur", chromedp.Evaluate[chromedp.Void](`document.activeElement && document.activeElement.blur()`))
	shot("devices.png")
}
