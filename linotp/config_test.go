package linotp

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/arbor-auth/arbor/journeys"
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

// builtinJourneys serves the built-in journeys, as the repository does at start-up.
type builtinJourneys map[string][]byte

func (b builtinJourneys) Head(_ context.Context, name string) (*journeys.Compiled, error) {
	doc, ok := b[name]
	if !ok {
		return nil, journeys.ErrNotFound
	}
	var j journeys.Journey
	if err := json.Unmarshal(doc, &j); err != nil {
		return nil, err
	}
	return &journeys.Compiled{Journey: &j}, nil
}

// TestJourneyFitsPolicy: at start-up the door refuses a journey that asks for a secret
// pass does not hold under its otppin policy, and names the journey that fits.
func TestJourneyFitsPolicy(t *testing.T) {
	docs, err := journeys.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		policy, journey, wantErr string
	}{
		{PinPassword, "linotp", ""},
		{PinToken, "linotp-pin", ""},
		{PinNone, "linotp-otp", ""},
		{PinNone, "linotp", `journey "linotp" has a data_store_decision node, which otppin none cannot answer (pass holds nothing before the code); use the journey "linotp-otp"`},
		{PinNone, "linotp-pin", `has a token_pin node`},
		{PinPassword, "linotp-pin", `has a token_pin node, which otppin password cannot answer`},
		{PinToken, "linotp", `has a data_store_decision node, which otppin token_pin cannot answer (pass holds a token PIN before the code); use the journey "linotp-pin"`},
		{PinNone, "not-saved-yet", ""},
	} {
		t.Run(tc.policy+" "+tc.journey, func(t *testing.T) {
			d := &Door{cfg: Config{OTPPin: tc.policy, Journey: tc.journey}, log: slog.New(slog.DiscardHandler)}
			err := d.fits(context.Background(), builtinJourneys(docs))
			if (tc.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("fits: %v, want %q", err, tc.wantErr)
			}
		})
	}
}
