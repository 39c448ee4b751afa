package oath_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/arbor-auth/arbor/oath"
)

// RFC 6238 appendix B's keys: the ASCII digits repeated to the hash's size.
var (
	seed20 = []byte("12345678901234567890")
	seed32 = []byte("12345678901234567890123456789012")
	seed64 = []byte("1234567890123456789012345678901234567890123456789012345678901234")
)

func TestRFC6238Vectors(t *testing.T) {
	tests := []struct {
		unix   int64
		alg    string
		secret []byte
		want   string
	}{
		{59, oath.SHA1, seed20, "94287082"},
		{59, oath.SHA256, seed32, "46119246"},
		{59, oath.SHA512, seed64, "90693936"},
		{1111111109, oath.SHA1, seed20, "07081804"},
		{1111111111, oath.SHA256, seed32, "67062674"},
		{1234567890, oath.SHA512, seed64, "93441116"},
		{2000000000, oath.SHA1, seed20, "69279037"},
		{20000000000, oath.SHA256, seed32, "77737706"},
	}
	for _, tc := range tests {
		p := oath.Params{Kind: oath.TOTP, Algorithm: tc.alg, Digits: 8, Period: 30}
		got, err := oath.Code(p, tc.secret, time.Unix(tc.unix, 0), 0)
		if err != nil || got != tc.want {
			t.Errorf("%s at %d: %q, %v; want %q", tc.alg, tc.unix, got, err, tc.want)
		}
	}
}

func TestRFC4226Vectors(t *testing.T) {
	want := []string{"755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"}
	p := oath.Params{Kind: oath.HOTP, Algorithm: oath.SHA1, Digits: 6}
	for c, w := range want {
		got, err := oath.Code(p, seed20, time.Time{}, uint64(c))
		if err != nil || got != w {
			t.Errorf("counter %d: %q, %v; want %q", c, got, err, w)
		}
	}
}

var totp30 = oath.Params{Kind: oath.TOTP, Algorithm: oath.SHA1, Digits: 6, Period: 30}

// at returns the time sec seconds into step s of a 30 s period.
func at(s int64, sec int) time.Time { return time.Unix(s*30+int64(sec), 0) }

func codeAt(t *testing.T, p oath.Params, when time.Time) string {
	t.Helper()
	c, err := oath.Code(p, seed20, when, 0)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestTOTPWindowEdges checks which steps a window of one accepts, at the first and the
// last second of the server's step.
func TestTOTPWindowEdges(t *testing.T) {
	const s = 56000000
	tests := []struct {
		name   string
		now    time.Time
		device int64 // the step the device's code is from
		want   oath.Outcome
	}{
		{"same step, first second", at(s, 0), s, oath.Accepted},
		{"same step, last second", at(s, 29), s, oath.Accepted},
		{"previous step, first second", at(s, 0), s - 1, oath.Accepted},
		{"previous step, last second", at(s, 29), s - 1, oath.Accepted},
		{"next step, last second", at(s, 29), s + 1, oath.Accepted},
		{"two behind", at(s, 0), s - 2, oath.Wrong},
		{"two ahead", at(s, 29), s + 2, oath.Wrong},
		{"two behind, one second later is one behind", at(s+1, 0), s, oath.Accepted},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code := codeAt(t, totp30, at(tc.device, 15))
			res, err := oath.Verify(totp30, seed20, oath.State{}, code, tc.now, oath.Policy{Window: 1, MaxDrift: 5})
			if err != nil {
				t.Fatal(err)
			}
			if res.Outcome != tc.want {
				t.Fatalf("outcome %v, want %v", res.Outcome, tc.want)
			}
			if tc.want == oath.Accepted {
				if res.State.LastStep != tc.device || res.State.Drift != int(tc.device-tc.now.Unix()/30) || !res.Changed {
					t.Errorf("state %+v (changed %v): want last step %d", res.State, res.Changed, tc.device)
				}
			} else if res.Changed {
				t.Errorf("a refused code changed the state: %+v", res.State)
			}
		})
	}
}

// TestTOTPOnce checks that a code is accepted once and that a reuse says how long to
// wait: the time left in the step (seed 001), or until a drifting device's next step.
func TestTOTPOnce(t *testing.T) {
	const s = 56000000
	pol := oath.Policy{Window: 1, MaxDrift: 5}
	tests := []struct {
		name       string
		first      time.Time // when the code is first used
		device     int64     // its step
		again      time.Time // when it is used again
		wait       time.Duration
		afterwards oath.Outcome // the device's next code, at again
	}{
		{"same step, 10 s in", at(s, 10), s, at(s, 12), 18 * time.Second, oath.Wrong},
		{"same step, last second", at(s, 3), s, at(s, 29), time.Second, oath.Wrong},
		{"rounded up", at(s, 3), s, at(s, 4).Add(500 * time.Millisecond), 26 * time.Second, oath.Wrong},
		{"next step replays the old code", at(s, 20), s, at(s+1, 5), 25 * time.Second, oath.Accepted},
		{"device one ahead", at(s, 10), s + 1, at(s, 11), 19 * time.Second, oath.Wrong},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code := codeAt(t, totp30, at(tc.device, 0))
			first, err := oath.Verify(totp30, seed20, oath.State{}, code, tc.first, pol)
			if err != nil || first.Outcome != oath.Accepted {
				t.Fatalf("first use: %+v, %v", first, err)
			}
			again, err := oath.Verify(totp30, seed20, first.State, code, tc.again, pol)
			if err != nil {
				t.Fatal(err)
			}
			if again.Outcome != oath.Reused || again.Wait != tc.wait || again.Changed {
				t.Errorf("second use: %v, wait %v, changed %v; want reused, wait %v", again.Outcome, again.Wait, again.Changed, tc.wait)
			}
			// The device's code at the time of the second attempt: the same step's code
			// is still refused; a new step's is accepted.
			devNow := tc.again.Add(time.Duration(first.State.Drift) * 30 * time.Second)
			next, err := oath.Verify(totp30, seed20, first.State, codeAt(t, totp30, devNow), tc.again, pol)
			if err != nil {
				t.Fatal(err)
			}
			if want := tc.afterwards; want == oath.Wrong {
				if next.Outcome != oath.Reused {
					t.Errorf("the device's current code (same step): %v, want reused", next.Outcome)
				}
			} else if next.Outcome != oath.Accepted {
				t.Errorf("the device's current code (new step): %v, want accepted", next.Outcome)
			}
		})
	}
}

// TestTOTPDrift walks a device whose clock runs ahead one step at a time: with a window
// of one, each code is accepted because the verifier learnt the drift from the one
// before; a jump of more than the window, or past the drift bound, is refused.
func TestTOTPDrift(t *testing.T) {
	const s = 56000000
	pol := oath.Policy{Window: 1, MaxDrift: 3}
	st := oath.State{}
	for drift := 1; drift <= 3; drift++ {
		now := at(s+int64(10*drift), 5)
		code := codeAt(t, totp30, now.Add(time.Duration(drift)*30*time.Second))
		res, err := oath.Verify(totp30, seed20, st, code, now, pol)
		if err != nil || res.Outcome != oath.Accepted {
			t.Fatalf("drift %d: %+v, %v", drift, res, err)
		}
		if res.State.Drift != drift {
			t.Fatalf("drift %d learnt as %d", drift, res.State.Drift)
		}
		st = res.State
	}
	// Four ahead is inside the window around the learnt drift, but past MaxDrift.
	now := at(s+100, 5)
	if res, _ := oath.Verify(totp30, seed20, st, codeAt(t, totp30, now.Add(4*30*time.Second)), now, pol); res.Outcome != oath.Wrong {
		t.Errorf("drift beyond the bound: %v", res.Outcome)
	}
	// A fresh device three ahead at once is outside the window.
	if res, _ := oath.Verify(totp30, seed20, oath.State{}, codeAt(t, totp30, now.Add(3*30*time.Second)), now, pol); res.Outcome != oath.Wrong {
		t.Errorf("a jump of three steps: %v", res.Outcome)
	}
	// The clock comes back: behind the learnt drift by one is still in the window.
	if res, _ := oath.Verify(totp30, seed20, st, codeAt(t, totp30, now.Add(2*30*time.Second)), now, pol); res.Outcome != oath.Accepted || res.State.Drift != 2 {
		t.Errorf("drift back to 2: %v, %+v", res.Outcome, res.State)
	}
}

func TestHOTPLookAheadAndResync(t *testing.T) {
	p := oath.Params{Kind: oath.HOTP, Algorithm: oath.SHA1, Digits: 6}
	pol := oath.Policy{LookAhead: 10, ResyncWindow: 100}
	code := func(c uint64) string {
		s, err := oath.Code(p, seed20, time.Time{}, c)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	type step struct {
		counter uint64
		want    oath.Outcome
		next    uint64 // expected counter afterwards
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"expected counter", []step{{0, oath.Accepted, 1}, {1, oath.Accepted, 2}}},
		{"used code refused", []step{{0, oath.Accepted, 1}, {0, oath.Wrong, 1}}},
		{"look-ahead edge", []step{{9, oath.Accepted, 10}, {19, oath.Accepted, 20}}},
		{"just past look-ahead needs resync", []step{{10, oath.ResyncPending, 0}, {11, oath.Accepted, 12}}},
		{"resync needs consecutive codes", []step{{50, oath.ResyncPending, 0}, {52, oath.ResyncPending, 0}, {53, oath.Accepted, 54}}},
		{"resync edge", []step{{109, oath.ResyncPending, 0}, {110, oath.Accepted, 111}}},
		{"beyond resync window", []step{{110, oath.Wrong, 0}}},
		{"a normal code clears a pending resync", []step{{40, oath.ResyncPending, 0}, {2, oath.Accepted, 3}, {41, oath.ResyncPending, 0}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := oath.State{}
			for i, s := range tc.steps {
				res, err := oath.Verify(p, seed20, st, code(s.counter), time.Time{}, pol)
				if err != nil {
					t.Fatal(err)
				}
				if res.Outcome != s.want {
					t.Fatalf("step %d (counter %d): %v, want %v", i, s.counter, res.Outcome, s.want)
				}
				st = res.State
				if s.want == oath.Accepted && st.Counter != s.next {
					t.Fatalf("step %d: counter %d, want %d", i, st.Counter, s.next)
				}
			}
		})
	}
}

func TestMalformedCodes(t *testing.T) {
	good := codeAt(t, totp30, at(5, 0))
	for _, code := range []string{"", "12345", "1234567", "12a456", "-12345", good + "0", "１２３４５６"} {
		res, err := oath.Verify(totp30, seed20, oath.State{}, code, at(5, 0), oath.DefaultPolicy)
		if err != nil || res.Outcome != oath.Wrong || res.Changed {
			t.Errorf("%q: %+v, %v", code, res, err)
		}
	}
	if res, _ := oath.Verify(totp30, seed20, oath.State{}, " "+good+" ", at(5, 0), oath.DefaultPolicy); res.Outcome != oath.Accepted {
		t.Errorf("surrounding spaces: %v", res.Outcome)
	}
}

func TestParams(t *testing.T) {
	bad := []oath.Params{
		{Kind: "motp", Algorithm: oath.SHA1, Digits: 6, Period: 30},
		{Kind: oath.TOTP, Algorithm: "MD5", Digits: 6, Period: 30},
		{Kind: oath.TOTP, Algorithm: oath.SHA1, Digits: 7, Period: 30},
		{Kind: oath.TOTP, Algorithm: oath.SHA1, Digits: 6, Period: 0},
	}
	for _, p := range bad {
		if err := p.Validate(); !errors.Is(err, oath.ErrInvalid) {
			t.Errorf("%+v: %v", p, err)
		}
		if _, err := oath.Verify(p, seed20, oath.State{}, "123456", time.Now(), oath.DefaultPolicy); err == nil {
			t.Errorf("Verify accepted %+v", p)
		}
	}
}

func TestNewKeyParseKey(t *testing.T) {
	tests := []oath.Params{
		oath.DefaultParams,
		{Kind: oath.TOTP, Algorithm: oath.SHA256, Digits: 8, Period: 60},
		{Kind: oath.HOTP, Algorithm: oath.SHA512, Digits: 6},
	}
	for _, p := range tests {
		secret, uri, err := oath.NewKey(oath.KeyRequest{Issuer: "Arbor Inc", Account: "alice@example.com", Params: p})
		if err != nil {
			t.Fatalf("%+v: %v", p, err)
		}
		if len(secret) != p.SecretLen() {
			t.Errorf("secret of %d bytes for %s", len(secret), p.Algorithm)
		}
		u, err := url.Parse(uri)
		if err != nil || u.Scheme != "otpauth" || u.Host != string(p.Kind) {
			t.Fatalf("URI %q", uri)
		}
		if p.Kind == oath.HOTP && u.Query().Get("counter") != "0" {
			t.Errorf("HOTP URI without counter: %q", uri)
		}
		k, err := oath.ParseKey(uri)
		if err != nil {
			t.Fatalf("ParseKey(%q): %v", uri, err)
		}
		if k.Params != p || k.Issuer != "Arbor Inc" || k.Account != "alice@example.com" || string(k.Secret) != string(secret) {
			t.Errorf("round trip of %+v: %+v", p, k)
		}
	}
	if _, _, err := oath.NewKey(oath.KeyRequest{Issuer: "", Account: "a", Params: oath.DefaultParams}); !errors.Is(err, oath.ErrInvalid) {
		t.Errorf("empty issuer: %v", err)
	}
}

func TestParseKeyDefaultsAndErrors(t *testing.T) {
	k, err := oath.ParseKey("otpauth://totp/ACME:bob?secret=jbswy3dpehpk3pxp&issuer=ACME")
	if err != nil {
		t.Fatal(err)
	}
	if k.Params != oath.DefaultParams || string(k.Secret) != "Hello!\xde\xad\xbe\xef" {
		t.Errorf("defaults: %+v", k)
	}
	for _, uri := range []string{
		"pushauth://push/Arbor:alice?s=abc",
		"otpauth://totp/A:b?secret=not*base32",
		"otpauth://totp/A:b?secret=JBSW",
		"otpauth://totp/A:b?secret=JBSWY3DPEHPK3PXP&digits=7",
		"otpauth://totp/A:b?secret=JBSWY3DPEHPK3PXP&algorithm=MD5",
		"otpauth://hotp/A:b?secret=JBSWY3DPEHPK3PXP&counter=-1",
		"otpauth://motp/A:b?secret=JBSWY3DPEHPK3PXP",
		"::",
	} {
		if _, err := oath.ParseKey(uri); !errors.Is(err, oath.ErrInvalid) {
			t.Errorf("%q: %v", uri, err)
		} else if strings.Contains(err.Error(), "JBSWY3DPEHPK3PXP") {
			t.Errorf("the error repeats the secret: %v", err)
		}
	}
}

// BenchmarkVerifyTOTP checks a right code with the default window (the right code is
// the current step's, found first).
func BenchmarkVerifyTOTP(b *testing.B) {
	now := time.Unix(1_800_000_000, 0)
	code, _ := oath.Code(totp30, seed20, now, 0)
	for b.Loop() {
		if res, _ := oath.Verify(totp30, seed20, oath.State{}, code, now, oath.DefaultPolicy); res.Outcome != oath.Accepted {
			b.Fatal(res.Outcome)
		}
	}
}

// BenchmarkVerifyHOTPWrong is the worst case a guess costs: a wrong HOTP code searched
// through the look-ahead and the resynchronisation windows (110 codes by default).
func BenchmarkVerifyHOTPWrong(b *testing.B) {
	p := oath.Params{Kind: oath.HOTP, Algorithm: oath.SHA1, Digits: 6}
	for b.Loop() {
		if res, _ := oath.Verify(p, seed20, oath.State{}, "000000", time.Time{}, oath.DefaultPolicy); res.Outcome == oath.Accepted {
			b.Fatal("accepted")
		}
	}
}
