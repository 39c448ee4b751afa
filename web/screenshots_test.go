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
	b.Do("size the page", chromedp.EmulateViewport(800, 600))
	shot := func(name string) {
		t.Helper()
		png := b.Screenshot()
		if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s (%d bytes)", filepath.Join(dir, name), len(png))
	}

	b.open("/login")
	b.WaitVisible("#IDToken1")
	shot("login.png")

	// The shipped journey: the push waits five seconds, long enough for the picture.
	b.open("/login?journey=push-mfa")
	b.signIn(password)
	n := b.number()
	shot("push-wait.png")
	if _, err := e.phone.ApproveLatest(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	b.WaitVisible("#signed-in-user")

	b.open("/account/devices")
	b.WaitVisible("#device-list")
	b.Do("blur", chromedp.Evaluate[chromedp.Void](`document.activeElement && document.activeElement.blur()`))
	shot("devices.png")
}
