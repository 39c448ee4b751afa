package mfa_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/nodes/mfa"
	"github.com/arbor-auth/arbor/push"
)

func TestDeviceProfileCollectorOutcomes(t *testing.T) {
	f := newFixture(t, push.Config{})
	_, outs, err := f.build("device_profile_collector", "")
	if err != nil {
		t.Fatal(err)
	}
	if got := outcomeIDs(outs); !reflect.DeepEqual(got, []string{"outcome"}) {
		t.Errorf("outcomes %v", got)
	}
}

func TestDeviceProfileCollectorAsks(t *testing.T) {
	tests := []struct {
		cfg     string
		locales []string
		want    nodes.Callback
	}{
		{cfg: ``, want: nodes.DeviceProfileCallback(true, true, "Collecting profile ...")},
		{cfg: `{"location": false}`, want: nodes.DeviceProfileCallback(true, false, "Collecting profile ...")},
		{cfg: `{"metadata": false, "message": {"en": "One moment", "fr": "Un instant"}}`, locales: []string{"fr"},
			want: nodes.DeviceProfileCallback(false, true, "Un instant")},
	}
	for _, tc := range tests {
		t.Run(tc.cfg, func(t *testing.T) {
			f := newFixture(t, push.Config{})
			ctx := f.newCtx()
			if tc.locales != nil {
				ctx.Request.Locales = tc.locales
			}
			act := run(t, f.mustBuild(t, "device_profile_collector", tc.cfg), ctx)
			if act.Outcome != "" || !reflect.DeepEqual(act.Callbacks, []nodes.Callback{tc.want}) {
				t.Errorf("action %q %+v, want %+v", act.Outcome, act.Callbacks, tc.want)
			}
			if len(ctx.Shared) != 1 {
				t.Errorf("shared state written: %v", ctx.Shared)
			}
		})
	}
}

// TestDeviceProfileCollector answers with each profile and checks what is kept in
// shared state (as the flow store reads it back). A bad profile is never fatal: it is
// dropped, and an earlier profile stays.
func TestDeviceProfileCollector(t *testing.T) {
	const earlier = "earlier"
	paris := map[string]any{"latitude": 48.85, "longitude": 2.35}
	iphone := map[string]any{"platform": "iPhone", "browser": map[string]any{"name": "Safari"}}
	tests := []struct {
		name    string
		cfg     string
		answer  any
		want    any // deviceProfile afterwards; earlier for the one set before
		earlier bool
	}{
		{name: "metadata and location", answer: `{"metadata": {"platform": "iPhone", "browser": {"name": "Safari"}}, "location": {"latitude": 48.85, "longitude": 2.35}}`,
			want: map[string]any{"metadata": iphone, "location": paris}},
		{name: "surrounding space", answer: " \n{\"location\": {\"latitude\": 48.85, \"longitude\": 2.35}}\t",
			want: map[string]any{"location": paris}},
		{name: "unknown fields ignored", answer: `{"identifier": "abc", "location": {"latitude": -90, "longitude": 180, "accuracy": 5}}`,
			want: map[string]any{"location": map[string]any{"latitude": -90.0, "longitude": 180.0}}},
		{name: "latitude out of range", answer: `{"metadata": {"platform": "iPhone"}, "location": {"latitude": 91, "longitude": 2.35}}`,
			want: map[string]any{"metadata": map[string]any{"platform": "iPhone"}}},
		{name: "longitude out of range", answer: `{"location": {"latitude": 0, "longitude": -180.5}}`,
			want: map[string]any{}},
		// The ForgeRock SDK sends "location": {} when geolocation is denied or
		// unavailable: that is no location, not (0, 0).
		{name: "SDK without location", answer: `{"identifier": "abc", "metadata": {"platform": "iPhone"}, "location": {}}`,
			want: map[string]any{"metadata": map[string]any{"platform": "iPhone"}}},
		{name: "half a location", answer: `{"location": {"latitude": 48.85}}`, want: map[string]any{}},
		{name: "null coordinates", answer: `{"location": {"latitude": null, "longitude": null}}`, want: map[string]any{}},
		{name: "null location", answer: `{"location": null}`, want: map[string]any{}},
		{name: "the equator and the meridian", answer: `{"location": {"latitude": 0, "longitude": 0}}`,
			want: map[string]any{"location": map[string]any{"latitude": 0.0, "longitude": 0.0}}},
		{name: "location not asked for", cfg: `{"location": false}`, answer: `{"metadata": {"platform": "iPhone"}, "location": {"latitude": 1, "longitude": 2}}`,
			want: map[string]any{"metadata": map[string]any{"platform": "iPhone"}}},
		{name: "metadata not asked for", cfg: `{"metadata": false}`, answer: `{"metadata": {"platform": "iPhone"}, "location": {"latitude": 1, "longitude": 2}}`,
			want: map[string]any{"location": map[string]any{"latitude": 1.0, "longitude": 2.0}}},
		{name: "empty object", answer: `{}`, want: map[string]any{}},
		{name: "replaces an earlier profile", earlier: true, answer: `{"metadata": {"platform": "Android"}}`,
			want: map[string]any{"metadata": map[string]any{"platform": "Android"}}},
		{name: "malformed", earlier: true, answer: `{"metadata": `, want: earlier},
		{name: "not an object", earlier: true, answer: `[1, 2]`, want: earlier},
		{name: "location of the wrong type", earlier: true, answer: `{"location": {"latitude": "48.85", "longitude": 2.35}}`, want: earlier},
		{name: "metadata of the wrong type", earlier: true, answer: `{"metadata": "iPhone"}`, want: earlier},
		{name: "oversized", earlier: true, answer: `{"metadata": {"junk": "` + strings.Repeat("x", 4096) + `"}}`, want: earlier},
		{name: "oversized for a smaller limit", cfg: `{"max_bytes": 256}`, earlier: true,
			answer: `{"metadata": {"junk": "` + strings.Repeat("x", 256) + `"}}`, want: earlier},
		{name: "larger limit", cfg: `{"max_bytes": 16384}`,
			answer: `{"metadata": {"junk": "` + strings.Repeat("x", 8000) + `"}}`, want: map[string]any{"metadata": map[string]any{"junk": strings.Repeat("x", 8000)}}},
		{name: "empty answer", earlier: true, answer: ``, want: earlier},
		{name: "no answer at all", answer: nil, want: nil},
		{name: "a number", answer: 42.0, earlier: true, want: earlier},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, push.Config{})
			n := f.mustBuild(t, "device_profile_collector", tc.cfg)
			ctx := f.newCtx()
			if tc.earlier {
				ctx.Shared[mfa.KeyDeviceProfile] = earlier
			}
			sent := wantSend(t, n, ctx, nodes.TypeDeviceProf)
			if tc.answer == nil {
				ctx.Callbacks = []nodes.Callback{{Type: nodes.TypeDeviceProf}}
			} else {
				f.next(t, ctx, sent, tc.answer)
			}
			wantOutcome(t, n, ctx, "outcome")
			got := roundTrip(t, ctx.Shared)[mfa.KeyDeviceProfile]
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("%s = %#v\nwant %#v", mfa.KeyDeviceProfile, got, tc.want)
			}
		})
	}
}

func TestDeviceProfileCollectorConfigProblems(t *testing.T) {
	f := newFixture(t, push.Config{})
	wantProblems(t, f, "device_profile_collector", `{"max_bytes": 255}`, "/nodes/n/config/max_bytes bad_config")
	wantProblems(t, f, "device_profile_collector", `{"max_bytes": 16385}`, "/nodes/n/config/max_bytes bad_config")
	wantProblems(t, f, "device_profile_collector", `{"location": "yes"}`, "/nodes/n/config/location bad_config")
	wantProblems(t, f, "device_profile_collector", `{"message": "Collecting"}`, "/nodes/n/config/message bad_config")
}
