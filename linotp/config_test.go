package linotp

import (
	"strings"
	"testing"
)

// TestConfigPolicies: each otppin policy runs its own journey unless journey: names
// one, and an unknown policy is refused with a message that says why.
func TestConfigPolicies(t *testing.T) {
	for _, tc := range []struct {
		name        string
		cfg         Config
		wantJourney string
		wantErr     string
	}{
		{"default policy", Config{}, "linotp", ""},
		{"password", Config{OTPPin: PinPassword}, "linotp", ""},
		{"none", Config{OTPPin: PinNone}, "linotp-otp", ""},
		{"none with its own journey", Config{OTPPin: PinNone, Journey: "gateway-otp"}, "gateway-otp", ""},
		{"token_pin", Config{OTPPin: PinToken}, "linotp-pin", ""},
		{"unknown", Config{OTPPin: "1"}, "", `otppin "1" is not password, token_pin or none`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Clients = []string{"10.0.0.0/8"}
			_, err := tc.cfg.check()
			switch {
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("error %v, want %q", err, tc.wantErr)
			case tc.wantErr == "" && err != nil:
				t.Fatal(err)
			case tc.wantErr == "" && tc.cfg.Journey != tc.wantJourney:
				t.Errorf("journey %q, want %q", tc.cfg.Journey, tc.wantJourney)
			}
		})
	}
}
