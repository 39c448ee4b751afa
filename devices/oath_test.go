package devices_test

import (
	"bytes"
	"context"
	"encoding/base32"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/arbor-auth/arbor/devices"
	"github.com/arbor-auth/arbor/internal/testredis"
	"github.com/arbor-auth/arbor/keys"
	"github.com/arbor-auth/arbor/oath"
	"github.com/arbor-auth/arbor/store"
	"github.com/arbor-auth/arbor/store/embedded"
	"github.com/arbor-auth/arbor/store/redisstore"
)

var oathSecret = []byte("an OATH secret, 20 b")

func addOATH(t *testing.T, reg *devices.Registry, realm, user string) *devices.OATHDevice {
	t.Helper()
	d, err := reg.AddOATH(context.Background(), realm, user, devices.OATHDevice{Name: "Authenticator app", Issuer: "Arbor", Params: oath.DefaultParams}, oathSecret)
	if err != nil {
		t.Fatalf("AddOATH: %v", err)
	}
	return d
}

func totpCode(t *testing.T, when time.Time) string {
	t.Helper()
	c, err := oath.Code(oath.DefaultParams, oathSecret, when, 0)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestOATHAddListRevoke(t *testing.T) {
	ctx := context.Background()
	reg, st := newRegistry(t)
	if err := reg.Add(ctx, "/", "alice", devices.Device{ID: "mech-1", Communication: "poll"}, secret(1)); err != nil {
		t.Fatal(err)
	}
	d := addOATH(t, reg, "/", "Alice")
	if d.ID == "" || d.Realm != "/" || d.User != "alice" || d.Created.IsZero() {
		t.Errorf("added %+v", d)
	}
	list, err := reg.OATHDevices(ctx, "/", "ALICE")
	if err != nil || len(list) != 1 || list[0].ID != d.ID || list[0].Params != oath.DefaultParams || list[0].User != "alice" {
		t.Fatalf("OATHDevices = %+v, %v", list, err)
	}
	got, err := reg.OATHSecret(&list[0])
	if err != nil || !bytes.Equal(got, oathSecret) {
		t.Fatalf("OATHSecret = %q, %v", got, err)
	}
	// The secret never reaches the store in clear, raw or as the base32 an app shows.
	raw := st.raw()
	if bytes.Contains(raw, oathSecret) || bytes.Contains(raw, []byte(base32.StdEncoding.EncodeToString(oathSecret)[:16])) {
		t.Errorf("the OATH secret is in the store in clear: %s", raw)
	}
	// A push device's seal does not open as an OATH secret, and the reverse.
	push, _ := reg.Devices(ctx, "/", "alice")
	swapped := list[0]
	swapped.SecretSealed, swapped.ID = push[0].SecretSealed, push[0].ID
	if _, err := reg.OATHSecret(&swapped); !errors.Is(err, keys.ErrOpen) {
		t.Errorf("a push seal opened as an OATH secret: %v", err)
	}

	if err := reg.Revoke(ctx, "/", "alice", d.ID); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	if list, _ := reg.OATHDevices(ctx, "/", "alice"); len(list) != 0 {
		t.Errorf("after revoke: %+v", list)
	}
	if push, _ := reg.Devices(ctx, "/", "alice"); len(push) != 1 {
		t.Errorf("revoking the OATH device touched the push devices: %+v", push)
	}
	if err := reg.Revoke(ctx, "/", "alice", d.ID); !errors.Is(err, devices.ErrNotFound) {
		t.Errorf("second revoke: %v", err)
	}
}

func TestAddOATHInvalid(t *testing.T) {
	reg, _ := newRegistry(t)
	ctx := context.Background()
	tests := map[string]struct {
		d      devices.OATHDevice
		secret []byte
	}{
		"bad params":   {devices.OATHDevice{Params: oath.Params{Kind: oath.TOTP, Algorithm: "MD5", Digits: 6, Period: 30}}, oathSecret},
		"short secret": {devices.OATHDevice{Params: oath.DefaultParams}, []byte("short")},
		"long secret":  {devices.OATHDevice{Params: oath.DefaultParams}, bytes.Repeat([]byte{1}, 65)},
	}
	for name, tc := range tests {
		if _, err := reg.AddOATH(ctx, "/", "bob", tc.d, tc.secret); !errors.Is(err, devices.ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if list, _ := reg.OATHDevices(ctx, "/", "bob"); len(list) != 0 {
		t.Errorf("an invalid device was stored: %+v", list)
	}
}

func TestVerifyCode(t *testing.T) {
	ctx := context.Background()
	reg, _ := newRegistry(t)
	now := time.Unix(1_700_000_010, 0)
	pol := oath.DefaultPolicy

	res, err := reg.VerifyCode(ctx, "/", "carol", "123456", now, pol)
	if err != nil || res.Registered || res.Outcome != oath.Wrong {
		t.Fatalf("no device: %+v, %v", res, err)
	}
	d := addOATH(t, reg, "/", "carol")
	if res, err := reg.VerifyCode(ctx, "/", "carol", "000000", now, pol); err != nil || !res.Registered || res.Outcome != oath.Wrong {
		t.Fatalf("wrong code: %+v, %v", res, err)
	}
	code := totpCode(t, now)
	res, err = reg.VerifyCode(ctx, "/", "carol", code, now, pol)
	if err != nil || res.Outcome != oath.Accepted || res.Device == nil || res.Device.ID != d.ID {
		t.Fatalf("right code: %+v, %v", res, err)
	}
	list, _ := reg.OATHDevices(ctx, "/", "carol")
	if !list[0].LastUsed.Equal(now) || list[0].State.LastStep != now.Unix()/30 {
		t.Errorf("device after use: %+v", list[0])
	}
	res, err = reg.VerifyCode(ctx, "/", "carol", code, now.Add(5*time.Second), pol)
	if err != nil || res.Outcome != oath.Reused || res.Wait != 25*time.Second {
		t.Errorf("reuse: %+v, %v", res, err)
	}
}

// TestVerifyCodeOnceUnderRace submits one code from many goroutines at once: exactly
// one is accepted, every other sees it used, on the embedded store and on Redis.
func TestVerifyCodeOnceUnderRace(t *testing.T) {
	srv := testredis.Start(t)
	rs, err := redisstore.Open(srv.URL())
	if err != nil {
		t.Fatalf("redisstore.Open: %v", err)
	}
	t.Cleanup(func() { rs.Close() })
	for name, st := range map[string]store.Store{"embedded": newStore(t), "redis": rs} {
		t.Run(name, func(t *testing.T) {
			reg := devices.New(st, keys.Generate())
			addOATH(t, reg, "/", "dave")
			now := time.Unix(1_700_000_040, 0)
			code := totpCode(t, now)
			const n = 16
			var wg sync.WaitGroup
			results := make([]devices.CodeResult, n)
			errs := make([]error, n)
			for i := range n {
				wg.Go(func() {
					results[i], errs[i] = reg.VerifyCode(context.Background(), "/", "dave", code, now, oath.DefaultPolicy)
				})
			}
			wg.Wait()
			accepted := 0
			for i := range n {
				if errs[i] != nil {
					t.Fatalf("VerifyCode: %v", errs[i])
				}
				switch results[i].Outcome {
				case oath.Accepted:
					accepted++
				case oath.Reused:
				default:
					t.Errorf("outcome %v", results[i].Outcome)
				}
			}
			if accepted != 1 {
				t.Errorf("%d of %d concurrent submissions of one code were accepted, want 1", accepted, n)
			}
		})
	}
}

func TestVerifyCodeStoreDown(t *testing.T) {
	reg := devices.New(failing{newStore(t)}, keys.Generate())
	if _, err := reg.VerifyCode(context.Background(), "/", "erin", "123456", time.Now(), oath.DefaultPolicy); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("VerifyCode: %v, want store.ErrUnavailable", err)
	}
	if _, err := reg.OATHDevices(context.Background(), "/", "erin"); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("OATHDevices: %v, want store.ErrUnavailable", err)
	}
}

// BenchmarkVerifyCode is one code check as a login does it: read the user's record,
// open the sealed secret, check, and record the step with a compare-and-swap, on the
// embedded store. Each iteration uses a fresh time step so every code is accepted.
func BenchmarkVerifyCode(b *testing.B) {
	st, err := embedded.Open(embedded.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	reg := devices.New(st, keys.Generate())
	ctx := context.Background()
	if _, err := reg.AddOATH(ctx, "/", "bench", devices.OATHDevice{Params: oath.DefaultParams}, oathSecret); err != nil {
		b.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	for b.Loop() {
		now = now.Add(30 * time.Second)
		code, _ := oath.Code(oath.DefaultParams, oathSecret, now, 0)
		if res, err := reg.VerifyCode(ctx, "/", "bench", code, now, oath.DefaultPolicy); err != nil || res.Outcome != oath.Accepted {
			b.Fatal(res.Outcome, err)
		}
	}
}

// TestSecondFactors: the door core learns from SecondFactors that a user with only an
// authenticator app has a second factor too, so a password alone gets no full session.
func TestSecondFactors(t *testing.T) {
	ctx := context.Background()
	reg, _ := newRegistry(t)
	check := func(want ...string) {
		t.Helper()
		got, err := reg.SecondFactors(ctx, "/", "frank")
		if err != nil || strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("SecondFactors = %v, %v; want %v", got, err, want)
		}
	}
	check()
	d := addOATH(t, reg, "/", "frank")
	check("otp")
	if err := reg.Add(ctx, "/", "frank", devices.Device{ID: "mech-f", Communication: "poll"}, secret(6)); err != nil {
		t.Fatal(err)
	}
	check("push", "otp")
	if err := reg.Revoke(ctx, "/", "frank", d.ID); err != nil {
		t.Fatal(err)
	}
	check("push")
}
