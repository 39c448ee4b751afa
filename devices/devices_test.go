package devices_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/arbor-auth/arbor/devices"
	"github.com/arbor-auth/arbor/keys"
	"github.com/arbor-auth/arbor/store"
)

func newRegistry(t *testing.T) (*devices.Registry, *recordingStore) {
	t.Helper()
	st := newStore(t)
	return devices.New(st, keys.Generate()), st
}

func secret(b byte) []byte { return bytes.Repeat([]byte{b}, devices.SecretLen) }

func TestAddListGetSecret(t *testing.T) {
	ctx := context.Background()
	reg, st := newRegistry(t)
	sec := []byte("0123456789abcdef0123456789ABCDEF")
	d := devices.Device{ID: "mech-1", Name: "Pixel", Issuer: "Arbor", Platform: "android", Communication: "gcm", Token: "tok"}
	if err := reg.Add(ctx, "/", "Alice", d, sec); err != nil {
		t.Fatalf("Add: %v", err)
	}
	if err := reg.Add(ctx, "/", "alice", devices.Device{ID: "mech-2", Communication: "poll"}, secret(2)); err != nil {
		t.Fatalf("Add second: %v", err)
	}

	list, err := reg.Devices(ctx, "/", "ALICE")
	if err != nil {
		t.Fatalf("Devices: %v", err)
	}
	if len(list) != 2 || list[0].ID != "mech-1" || list[1].ID != "mech-2" {
		t.Fatalf("Devices = %+v, want mech-1 then mech-2", list)
	}
	if list[0].Communication != devices.CommFCM {
		t.Errorf("Communication = %q, want gcm mapped to fcm", list[0].Communication)
	}
	if list[0].Created.IsZero() || list[0].Realm != "/" || list[0].User != "alice" {
		t.Errorf("device fields not filled: %+v", list[0])
	}

	got, err := reg.Device(ctx, "mech-1")
	if err != nil {
		t.Fatalf("Device: %v", err)
	}
	if got.Realm != "/" || got.User != "alice" || got.Name != "Pixel" {
		t.Errorf("Device = %+v", got)
	}
	s, err := reg.Secret(ctx, got)
	if err != nil || !bytes.Equal(s, sec) {
		t.Fatalf("Secret = %q, %v; want the registered secret", s, err)
	}

	// A sealed secret moved onto another device id does not open.
	moved := *got
	moved.ID = "mech-2"
	if _, err := reg.Secret(ctx, &moved); !errors.Is(err, keys.ErrOpen) {
		t.Errorf("Secret of moved seal: err = %v, want keys.ErrOpen", err)
	}

	if _, err := reg.Device(ctx, "nope"); !errors.Is(err, devices.ErrNotFound) {
		t.Errorf("Device(unknown): err = %v, want ErrNotFound", err)
	}
	raw := st.raw()
	for _, form := range []string{string(sec), base64.StdEncoding.EncodeToString(sec), base64.RawURLEncoding.EncodeToString(sec)} {
		if bytes.Contains(raw, []byte(form)) {
			t.Errorf("the shared secret is stored in clear (%q)", form)
		}
	}
}

func TestAddRejects(t *testing.T) {
	ctx := context.Background()
	reg, _ := newRegistry(t)
	if err := reg.Add(ctx, "/", "bob", devices.Device{ID: "dup", Communication: "poll"}, secret(1)); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		realm, user string
		d           devices.Device
		secret      []byte
		want        error
	}{
		{"duplicate id, same user", "/", "bob", devices.Device{ID: "dup", Communication: "poll"}, secret(1), devices.ErrExists},
		{"duplicate id, other user", "/", "carol", devices.Device{ID: "dup", Communication: "poll"}, secret(1), devices.ErrExists},
		{"empty id", "/", "bob", devices.Device{Communication: "poll"}, secret(1), devices.ErrInvalid},
		{"short secret", "/", "bob", devices.Device{ID: "x", Communication: "poll"}, []byte("short"), devices.ErrInvalid},
		{"unknown communication", "/", "bob", devices.Device{ID: "x", Communication: "pigeon"}, secret(1), devices.ErrInvalid},
		{"bad realm", "alpha", "bob", devices.Device{ID: "x", Communication: "poll"}, secret(1), devices.ErrInvalid},
		{"empty user", "/", " ", devices.Device{ID: "x", Communication: "poll"}, secret(1), devices.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := reg.Add(ctx, tt.realm, tt.user, tt.d, tt.secret); !errors.Is(err, tt.want) {
				t.Fatalf("Add: err = %v, want %v", err, tt.want)
			}
		})
	}
	// A rejected registration leaves the id free.
	if err := reg.Add(ctx, "/", "bob", devices.Device{ID: "x", Communication: "poll"}, secret(1)); err != nil {
		t.Fatalf("Add after rejections: %v", err)
	}
}

func TestRealmsAreSeparate(t *testing.T) {
	ctx := context.Background()
	reg, _ := newRegistry(t)
	if err := reg.Add(ctx, "/alpha", "dave", devices.Device{ID: "a1", Communication: "poll"}, secret(1)); err != nil {
		t.Fatal(err)
	}
	for _, realm := range []string{"/", "/beta"} {
		list, err := reg.Devices(ctx, realm, "dave")
		if err != nil || len(list) != 0 {
			t.Errorf("Devices(%s) = %v, %v; want none", realm, list, err)
		}
	}
	if err := reg.Revoke(ctx, "/beta", "dave", "a1"); !errors.Is(err, devices.ErrNotFound) {
		t.Errorf("Revoke from another realm: err = %v, want ErrNotFound", err)
	}
}

func TestRevokeAndTouch(t *testing.T) {
	ctx := context.Background()
	reg, _ := newRegistry(t)
	if err := reg.Add(ctx, "/", "erin", devices.Device{ID: "e1", Communication: "poll"}, secret(1)); err != nil {
		t.Fatal(err)
	}
	when := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := reg.Touch(ctx, "e1", when); err != nil {
		t.Fatalf("Touch: %v", err)
	}
	d, err := reg.Device(ctx, "e1")
	if err != nil || !d.LastUsed.Equal(when) {
		t.Fatalf("LastUsed = %v, %v; want %v", d.LastUsed, err, when)
	}
	if err := reg.Revoke(ctx, "/", "ERIN", "e1"); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	if _, err := reg.Device(ctx, "e1"); !errors.Is(err, devices.ErrNotFound) {
		t.Errorf("Device after revoke: err = %v, want ErrNotFound", err)
	}
	if err := reg.Revoke(ctx, "/", "erin", "e1"); !errors.Is(err, devices.ErrNotFound) {
		t.Errorf("second Revoke: err = %v, want ErrNotFound", err)
	}
	if err := reg.Touch(ctx, "e1", when); !errors.Is(err, devices.ErrNotFound) {
		t.Errorf("Touch after revoke: err = %v, want ErrNotFound", err)
	}
	// The id can be registered again after a revoke.
	if err := reg.Add(ctx, "/", "erin", devices.Device{ID: "e1", Communication: "poll"}, secret(1)); err != nil {
		t.Errorf("re-Add after revoke: %v", err)
	}
}

func TestRecoveryCodes(t *testing.T) {
	ctx := context.Background()
	reg, st := newRegistry(t)
	codes, err := reg.NewRecoveryCodes(ctx, "/", "Frank")
	if err != nil {
		t.Fatalf("NewRecoveryCodes: %v", err)
	}
	if len(codes) != devices.RecoveryCodeCount {
		t.Fatalf("got %d codes, want %d", len(codes), devices.RecoveryCodeCount)
	}
	seen := map[string]bool{}
	for _, c := range codes {
		// Three groups of four, without look-alikes: no 0/O, no 1/I/L.
		if !regexp.MustCompile(`^[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}$`).MatchString(c) {
			t.Errorf("code %q is not three groups of four unambiguous characters", c)
		}
		if seen[c] {
			t.Errorf("code %q repeated", c)
		}
		seen[c] = true
	}
	raw := st.raw()
	for _, c := range codes {
		if bytes.Contains(raw, []byte(c)) {
			t.Errorf("code %q is stored in clear", c)
		}
	}

	tests := []struct {
		name  string
		realm string
		user  string
		code  string
		want  bool
	}{
		{"wrong code", "/", "frank", "AAAA-AAAA-AAAA", false},
		{"too short", "/", "frank", codes[0][:13], false},
		{"garbage", "/", "frank", "<script>!!!!", false},
		{"look-alike characters", "/", "frank", "0O1I-L0O1-IL00", false},
		{"other realm", "/alpha", "frank", codes[0], false},
		{"other user", "/", "grace", codes[0], false},
		{"exact, user in other case", "/", "FRANK", codes[0], true},
		{"already used", "/", "frank", codes[0], false},
		{"without the dashes, with spaces around", "/", "frank", "  " + strings.ReplaceAll(codes[1], "-", "") + " ", true},
		{"in lower case", "/", "frank", strings.ToLower(codes[2]), true},
		{"grouped by spaces", "/", "frank", strings.ReplaceAll(codes[3], "-", " "), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := reg.UseRecoveryCode(ctx, tt.realm, tt.user, tt.code)
			if err != nil || got != tt.want {
				t.Fatalf("UseRecoveryCode(%q) = %v, %v; want %v", tt.code, got, err, tt.want)
			}
		})
	}
	left, err := reg.RecoveryCodesLeft(ctx, "/", "frank")
	if err != nil || left != devices.RecoveryCodeCount-4 {
		t.Fatalf("RecoveryCodesLeft = %d, %v; want %d", left, err, devices.RecoveryCodeCount-4)
	}

	// A new set replaces the old one entirely.
	fresh, err := reg.NewRecoveryCodes(ctx, "/", "frank")
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := reg.UseRecoveryCode(ctx, "/", "frank", codes[3]); ok {
		t.Errorf("a code of the replaced set still works")
	}
	if ok, _ := reg.UseRecoveryCode(ctx, "/", "frank", fresh[3]); !ok {
		t.Errorf("a code of the new set does not work")
	}
}

func TestRecoveryCodeConcurrentUse(t *testing.T) {
	ctx := context.Background()
	reg, _ := newRegistry(t)
	codes, err := reg.NewRecoveryCodes(ctx, "/", "heidi")
	if err != nil {
		t.Fatal(err)
	}
	var wins, errs atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			ok, err := reg.UseRecoveryCode(ctx, "/", "heidi", codes[5])
			if err != nil {
				errs.Add(1)
				t.Errorf("UseRecoveryCode: %v", err)
			}
			if ok {
				wins.Add(1)
			}
		}()
	}
	close(start)
	wg.Wait()
	if wins.Load() != 1 || errs.Load() != 0 {
		t.Fatalf("%d goroutines won the same code (%d errors); want exactly 1", wins.Load(), errs.Load())
	}
	if left, _ := reg.RecoveryCodesLeft(ctx, "/", "heidi"); left != devices.RecoveryCodeCount-1 {
		t.Fatalf("RecoveryCodesLeft = %d, want %d", left, devices.RecoveryCodeCount-1)
	}
}

func TestSkipState(t *testing.T) {
	ctx := context.Background()
	reg, _ := newRegistry(t)
	steps := []struct {
		set  devices.Skip
		want devices.Skip
	}{
		{-1, devices.SkipNotSet},
		{devices.SkipSkippable, devices.SkipSkippable},
		{devices.SkipNotSkippable, devices.SkipNotSkippable},
		{devices.SkipNotSet, devices.SkipNotSet},
	}
	for _, s := range steps {
		if s.set >= 0 {
			if err := reg.SetSkip(ctx, "/", "Ivan", devices.MethodPush, s.set); err != nil {
				t.Fatalf("SetSkip(%v): %v", s.set, err)
			}
		}
		got, err := reg.SkipState(ctx, "/", "ivan", devices.MethodPush)
		if err != nil || got != s.want {
			t.Fatalf("SkipState = %v, %v; want %v", got, err, s.want)
		}
	}
	if err := reg.SetSkip(ctx, "/", "ivan", devices.MethodPush, 7); !errors.Is(err, devices.ErrInvalid) {
		t.Errorf("SetSkip(7): err = %v, want ErrInvalid", err)
	}
	if err := reg.SetSkip(ctx, "/", "ivan", "oath", devices.SkipSkippable); err != nil {
		t.Fatal(err)
	}
	if got, _ := reg.SkipState(ctx, "/", "ivan", devices.MethodPush); got != devices.SkipNotSet {
		t.Errorf("methods are not separate: push = %v", got)
	}
	if devices.SkipNotSkippable.String() != "NOT_SKIPPABLE" {
		t.Errorf("String = %q", devices.SkipNotSkippable.String())
	}
}

func TestStoreUnavailableIsWrapped(t *testing.T) {
	ctx := context.Background()
	reg := devices.New(failing{newStore(t)}, keys.Generate())
	if _, err := reg.Devices(ctx, "/", "judy"); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Devices: err = %v, want store.ErrUnavailable", err)
	}
	if _, err := reg.UseRecoveryCode(ctx, "/", "judy", "AAAAAAAAAA"); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("UseRecoveryCode: err = %v, want store.ErrUnavailable", err)
	}
	if _, err := reg.Device(ctx, "x"); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Device: err = %v, want store.ErrUnavailable", err)
	}
}
