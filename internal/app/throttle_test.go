package app_test

import (
	"testing"

	"github.com/arbor-auth/arbor/internal/app"
	"github.com/arbor-auth/arbor/internal/config"
	"github.com/arbor-auth/arbor/throttle"
)

// TestThrottleDefaults: the configuration's defaults are the throttle package's, so the
// README's measured figures, made with throttle.Defaults, hold for `arbor serve`.
func TestThrottleDefaults(t *testing.T) {
	cfg, err := config.Load(nil, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	got := app.ThrottleConfig(cfg)
	want := throttle.Defaults
	want.KnownAddress = 0 // not configurable: the throttle's default applies
	if got != want {
		t.Errorf("configured defaults %+v, want throttle.Defaults %+v", got, want)
	}
	cfg.ThrottleMaxDelay = -1
	if err := app.ThrottleConfig(cfg).Validate(); err == nil {
		t.Error("a negative delay passed validation")
	}
}
