package devices_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/arbor-auth/arbor/devices"
	"github.com/arbor-auth/arbor/identity"
	"github.com/arbor-auth/arbor/oath"
)

// pinRegistry is a registry with a push device (mech-1) and an OATH device for alice,
// keeping PINs hashed by an identity store.
func pinRegistry(t *testing.T) (*devices.Registry, *recordingStore, string) {
	t.Helper()
	reg, st := newRegistry(t)
	reg.UsePINHasher(identity.New(st, identity.Options{Params: identity.CheapParams}))
	if err := reg.Add(context.Background(), "/", "alice", devices.Device{ID: "mech-1", Communication: "poll"}, secret(1)); err != nil {
		t.Fatal(err)
	}
	return reg, st, addOATH(t, reg, "/", "alice").ID
}

func TestPINs(t *testing.T) {
	ctx := context.Background()
	reg, st, app := pinRegistry(t)
	if err := reg.SetPIN(ctx, "/", "alice", "mech-1", "4711"); err != nil {
		t.Fatal(err)
	}
	if err := reg.SetPIN(ctx, "/", "alice", app, "0815"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, user, pin string
		want            []string
	}{
		{"the push device's PIN", "alice", "4711", []string{"mech-1"}},
		{"the app's PIN", "alice", "0815", []string{app}},
		{"a wrong PIN", "alice", "4712", []string{}},
		{"a user with no PIN", "bob", "4711", []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := reg.MatchPIN(ctx, "/", tc.user, tc.pin)
			if err != nil || !slices.Equal(got, tc.want) {
				t.Errorf("MatchPIN = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
	// Only hashes are stored.
	if raw := st.raw(); bytes.Contains(raw, []byte("4711")) || bytes.Contains(raw, []byte("0815")) || !bytes.Contains(raw, []byte("$argon2id$")) {
		t.Errorf("the PINs are not stored as argon2id hashes only: %s", raw)
	}
	if ok, err := reg.HasPIN(ctx, "/", "alice", app); !ok || err != nil {
		t.Errorf("HasPIN after SetPIN: %v %v", ok, err)
	}
	if err := reg.ClearPIN(ctx, "/", "alice", app); err != nil {
		t.Fatal(err)
	}
	if got, _ := reg.MatchPIN(ctx, "/", "alice", "0815"); len(got) != 0 {
		t.Errorf("a cleared PIN still matches: %v", got)
	}
}

func TestSetPINRefuses(t *testing.T) {
	ctx := context.Background()
	reg, _, _ := pinRegistry(t)
	for _, tc := range []struct {
		name, user, id, pin string
		want                error
		msg                 string
	}{
		{"too short", "alice", "mech-1", "123", devices.ErrPINPolicy, "at least 4"},
		{"too long", "alice", "mech-1", strings.Repeat("x", 65), devices.ErrPINPolicy, "at most 64"},
		{"unknown device", "alice", "nope", "4711", devices.ErrNotFound, ""},
		{"another user's device", "bob", "mech-1", "4711", devices.ErrNotFound, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := reg.SetPIN(ctx, "/", tc.user, tc.id, tc.pin)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("SetPIN: %v, want %v with %q", err, tc.want, tc.msg)
			}
		})
	}
	plain, _ := newRegistry(t)
	if err := plain.SetPIN(ctx, "/", "alice", "mech-1", "4711"); !errors.Is(err, devices.ErrNoPINs) {
		t.Errorf("SetPIN without a hasher: %v", err)
	}
}

// TestVerifyCodeOf: a code is checked only against the devices named, so the code of
// one token does not pass for another's PIN.
func TestVerifyCodeOf(t *testing.T) {
	ctx := context.Background()
	reg, _ := newRegistry(t)
	app := addOATH(t, reg, "/", "alice")
	now := time.Now()
	code := totpCode(t, now)
	if res, err := reg.VerifyCodeOf(ctx, "/", "alice", []string{"other"}, code, now, oath.DefaultPolicy); err != nil || res.Registered || res.Outcome == oath.Accepted {
		t.Errorf("the code of an unnamed device: %+v %v", res, err)
	}
	if res, err := reg.VerifyCodeOf(ctx, "/", "alice", []string{app.ID}, code, now, oath.DefaultPolicy); err != nil || res.Outcome != oath.Accepted {
		t.Errorf("the code of the named device: %+v %v", res, err)
	}
}
