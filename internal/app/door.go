package app

import (
	"fmt"

	"github.com/arbor-auth/arbor/door"
)

// RealmSettings is one realm's entry in the config file's realm_settings section; an
// empty field takes the server-wide setting (default_journey, step_up_journey,
// otp_step_up_journey, mfa_bypass).
//
//	realm_settings:
//	  /alpha: {default_journey: push-mfa, mfa_bypass: restricted}
type RealmSettings struct {
	DefaultJourney string `yaml:"default_journey"`
	StepUpJourney  string `yaml:"step_up_journey"`
	// OTPStepUpJourney is otp_step_up_journey for this realm.
	OTPStepUpJourney string `yaml:"otp_step_up_journey"`
	MFABypass        string `yaml:"mfa_bypass"`
}

// newDoor builds the door core every door goes through.
func newDoor(a *App) (*door.Core, error) {
	cfg := a.Config
	var realms map[string]RealmSettings
	if n, ok := cfg.Extra["realm_settings"]; ok {
		if err := decodeStrict(&n, &realms); err != nil {
			return nil, fmt.Errorf("config realm_settings: %w", err)
		}
	}
	policies := make(map[string]door.RealmPolicy, len(realms))
	for r, s := range realms {
		policies[r] = door.RealmPolicy{DefaultJourney: s.DefaultJourney, StepUpJourney: s.StepUpJourney,
			OTPStepUpJourney: s.OTPStepUpJourney, MFABypass: door.Bypass(s.MFABypass)}
	}
	d := door.Deps{Engine: a.Engine, Sessions: a.Sessions, Users: a.Users, Audit: a.Audit, Log: a.Log, Now: a.now}
	if a.Devices != nil {
		d.Enrollments = a.Devices
	}
	c, err := door.New(door.Config{
		Realms:   cfg.Realms,
		Policies: policies,
		Default: door.RealmPolicy{DefaultJourney: cfg.DefaultJourney, StepUpJourney: cfg.StepUpJourney,
			OTPStepUpJourney: cfg.OTPStepUpJourney, MFABypass: door.Bypass(cfg.MFABypass)},
		DisabledJourneys: cfg.DisabledJourneys,
		TrustedProxies:   cfg.TrustedProxies,
		PublicURL:        cfg.PublicURL,
		SecureCookies:    cfg.SecureCookies,
		SuccessURL:       cfg.SuccessURL,
		AllowedRedirects: cfg.AllowedRedirects,
		FreshFor:         cfg.ReauthMaxAge,
	}, d)
	if err != nil {
		return nil, err
	}
	return c, nil
}
