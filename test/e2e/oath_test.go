package e2e

import (
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/arbor-auth/arbor/internal/testredis"
)

// TestSDKOATH: the official ForgeRock SDK drives oath-mfa against `arbor serve` on
// Redis. FRQRCode reads the otpauth:// URI (use "otp"), `arbor device register` adds it
// and `arbor device code` makes the confirming code; the login ends with a session and
// recovery codes (FRRecoveryCodes). A second login typing the same code is refused
// with "Please wait N seconds to log in again."
func TestSDKOATH(t *testing.T) {
	rs := testredis.Start(t)
	users := writeFile(t, "users.yaml", "users:\n  - {username: olivia, password: \"pw-olivia-12345\", realm: /}\n")
	srv, _ := startServer(t, "--redis", rs.URL(), "--users", users, "--data", t.TempDir())
	phone := filepath.Join(t.TempDir(), "phone.json")
	out := node(t, 60*time.Second, "oath.mjs", srv.URL, arbor(t), phone, "olivia", "pw-olivia-12345")
	if out["result"] != "success" || out["token"] == nil {
		t.Fatalf("registration login: %v", out)
	}
	if out["registered"] != true || out["qrUse"] != "otp" || out["codes"] != float64(10) || out["deviceName"] != "Authenticator app" {
		t.Fatalf("registration through the SDK: %v", out)
	}
	if out["qrMessage"] != "Scan the QR code with your authenticator app, then enter the code it shows." {
		t.Errorf("QR message %v", out["qrMessage"])
	}
	reuse, _ := out["reuse"].([]any)
	if len(reuse) != 1 || !regexp.MustCompile(`^Please wait ([1-9]|[12][0-9]|30) seconds to log in again\.$`).MatchString(reuse[0].(string)) {
		t.Fatalf("the reused code was not refused with the wait: %v", out)
	}
}
