// Package oath is Arbor's one-time code logic (RFC 4226 HOTP, RFC 6238 TOTP) on top of
// github.com/pquerna/otp, which computes the codes: this package adds what a verifier
// needs beyond one comparison and what an authenticator needs to read a key URI.
//
//   - Key URIs: NewKey draws a secret and writes the otpauth:// URI authenticator apps
//     scan; ParseKey reads one back (the reference authenticator).
//   - TOTP: a window of steps around the device's clock, the device's drift remembered
//     and bounded, and each step accepted once (NIST SP 800-63B): a code from a step
//     already used is refused with the time left until the device shows a new one
//     ("Please wait N seconds", seed 001).
//   - HOTP: a look-ahead window beyond the expected counter, and resynchronisation
//     further ahead on two consecutive codes (RFC 4226 §7.4).
//
// The package keeps no state: Verify is a pure function from a device's State to its
// next State, so that the devices registry can run it inside a compare-and-swap and a
// code is accepted once even when submitted concurrently on several instances.
package oath

import (
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"
)

// Kind is the code scheme: time-based or counter-based.
type Kind string

// Kinds, as they appear in otpauth:// URIs.
const (
	TOTP Kind = "totp"
	HOTP Kind = "hotp"
)

// Algorithms, as they appear in otpauth:// URIs.
const (
	SHA1   = "SHA1"
	SHA256 = "SHA256"
	SHA512 = "SHA512"
)

// ErrInvalid reports parameters or a key URI that cannot be used.
var ErrInvalid = errors.New("oath: invalid")

// Params are what a device's codes depend on besides its secret.
type Params struct {
	// Kind is TOTP or HOTP.
	Kind Kind `json:"kind"`
	// Algorithm is SHA1, SHA256 or SHA512.
	Algorithm string `json:"algorithm"`
	// Digits is 6 or 8.
	Digits int `json:"digits"`
	// Period is the TOTP time step in seconds (unused for HOTP).
	Period int `json:"period,omitempty"`
}

// DefaultParams are what every authenticator app supports: TOTP, SHA-1, 6 digits, 30 s.
var DefaultParams = Params{Kind: TOTP, Algorithm: SHA1, Digits: 6, Period: 30}

// Validate reports whether p can be used, wrapping ErrInvalid.
func (p Params) Validate() error {
	if p.Kind != TOTP && p.Kind != HOTP {
		return fmt.Errorf("%w: kind %q (want totp or hotp)", ErrInvalid, p.Kind)
	}
	if _, err := p.algorithm(); err != nil {
		return err
	}
	if p.Digits != 6 && p.Digits != 8 {
		return fmt.Errorf("%w: %d digits (want 6 or 8)", ErrInvalid, p.Digits)
	}
	if p.Kind == TOTP && (p.Period < 10 || p.Period > 300) {
		return fmt.Errorf("%w: period %d s (want 10 to 300)", ErrInvalid, p.Period)
	}
	return nil
}

func (p Params) algorithm() (otp.Algorithm, error) {
	switch strings.ToUpper(p.Algorithm) {
	case SHA1:
		return otp.AlgorithmSHA1, nil
	case SHA256:
		return otp.AlgorithmSHA256, nil
	case SHA512:
		return otp.AlgorithmSHA512, nil
	}
	return 0, fmt.Errorf("%w: algorithm %q (want SHA1, SHA256 or SHA512)", ErrInvalid, p.Algorithm)
}

// SecretLen returns the secret length in bytes for the algorithm: the hash's output
// size, as RFC 4226 §4 recommends (at least 160 bits) and RFC 6238's test keys use.
func (p Params) SecretLen() int {
	switch strings.ToUpper(p.Algorithm) {
	case SHA256:
		return 32
	case SHA512:
		return 64
	}
	return 20
}

// KeyRequest asks NewKey for a new device key.
type KeyRequest struct {
	// Issuer and Account label the entry in the authenticator app.
	Issuer, Account string
	Params
}

// NewKey draws a fresh secret for req and returns it with the otpauth:// URI that
// carries it. The URI holds the secret in clear: show it once, never store it unsealed.
func NewKey(req KeyRequest) (secret []byte, uri string, err error) {
	if err := req.Validate(); err != nil {
		return nil, "", err
	}
	if strings.TrimSpace(req.Issuer) == "" || strings.TrimSpace(req.Account) == "" {
		return nil, "", fmt.Errorf("%w: issuer and account name must not be empty", ErrInvalid)
	}
	alg, _ := req.algorithm()
	secret = make([]byte, req.SecretLen())
	if _, err := rand.Read(secret); err != nil {
		return nil, "", fmt.Errorf("oath: draw secret: %w", err)
	}
	var key *otp.Key
	if req.Kind == TOTP {
		key, err = totp.Generate(totp.GenerateOpts{Issuer: req.Issuer, AccountName: req.Account, Period: uint(req.Period),
			Secret: secret, Digits: otp.Digits(req.Digits), Algorithm: alg})
	} else {
		key, err = hotp.Generate(hotp.GenerateOpts{Issuer: req.Issuer, AccountName: req.Account,
			Secret: secret, Digits: otp.Digits(req.Digits), Algorithm: alg})
	}
	if err != nil {
		return nil, "", fmt.Errorf("oath: key URI: %w", err)
	}
	u, err := url.Parse(key.String())
	if err != nil {
		return nil, "", fmt.Errorf("oath: key URI: %w", err)
	}
	q := u.Query()
	if req.Kind == HOTP {
		// Key URI format: counter is required for hotp; a new device starts at 0.
		q.Set("counter", "0")
	}
	u.RawQuery = q.Encode()
	return secret, u.String(), nil
}

// Key is a parsed otpauth:// URI.
type Key struct {
	Params
	// Issuer and Account label the entry.
	Issuer, Account string
	// Secret is the shared secret.
	Secret []byte
	// Counter is the HOTP counter the URI starts at.
	Counter uint64
}

// ParseKey reads an otpauth:// URI. Missing algorithm, digits and period take the
// Key URI format's defaults (SHA1, 6, 30).
func ParseKey(uri string) (*Key, error) {
	u, err := url.Parse(strings.TrimSpace(uri))
	if err != nil {
		return nil, fmt.Errorf("%w: key URI: %v", ErrInvalid, err)
	}
	if u.Scheme != "otpauth" {
		return nil, fmt.Errorf("%w: key URI scheme %q (want otpauth)", ErrInvalid, u.Scheme)
	}
	k, err := otp.NewKeyFromURL(u.String())
	if err != nil {
		return nil, fmt.Errorf("%w: key URI: %v", ErrInvalid, err)
	}
	q := u.Query()
	p := Params{Kind: Kind(strings.ToLower(k.Type())), Algorithm: SHA1, Digits: 6, Period: 30}
	if a := q.Get("algorithm"); a != "" {
		p.Algorithm = strings.ToUpper(a)
	}
	if d := q.Get("digits"); d != "" {
		if p.Digits, err = strconv.Atoi(d); err != nil {
			return nil, fmt.Errorf("%w: digits %q", ErrInvalid, d)
		}
	}
	if p.Kind == TOTP {
		p.Period = int(k.Period())
	} else {
		p.Period = 0
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	secret, err := decodeSecret(k.Secret())
	if err != nil {
		return nil, err
	}
	key := &Key{Params: p, Issuer: k.Issuer(), Account: k.AccountName(), Secret: secret}
	if c := q.Get("counter"); c != "" {
		if key.Counter, err = strconv.ParseUint(c, 10, 64); err != nil {
			return nil, fmt.Errorf("%w: counter %q", ErrInvalid, c)
		}
	}
	return key, nil
}

// Code returns the code k shows at t (TOTP) or at counter (HOTP).
func Code(p Params, secret []byte, t time.Time, counter uint64) (string, error) {
	if p.Kind == TOTP {
		counter = uint64(step(t, p.Period))
	}
	return codeAt(p, secret, counter)
}

// Policy bounds what Verify accepts.
type Policy struct {
	// Window is how many TOTP steps either side of the device's clock are accepted.
	Window int
	// MaxDrift is how many steps a device's clock may drift from the server's, in
	// total, before its codes are refused.
	MaxDrift int
	// LookAhead is how many HOTP counters from the expected one are accepted.
	LookAhead int
	// ResyncWindow is how many counters beyond the look-ahead window a device may have
	// run ahead and be resynchronised by two consecutive codes; 0 disables it.
	ResyncWindow int
}

// DefaultPolicy: one step either side (NIST's advice of a small window), drift up to
// five steps, HOTP look-ahead 10 and resynchronisation up to 100 further.
var DefaultPolicy = Policy{Window: 1, MaxDrift: 5, LookAhead: 10, ResyncWindow: 100}

// State is what a verifier remembers of a device between codes.
type State struct {
	// Counter is the next HOTP counter expected.
	Counter uint64 `json:"counter,omitempty"`
	// LastStep is the last TOTP step accepted; a code of that step or an earlier one is
	// refused.
	LastStep int64 `json:"last_step,omitempty"`
	// Drift is how many steps the device's clock is ahead of the server's (negative:
	// behind), as learnt from its last accepted code.
	Drift int `json:"drift,omitempty"`
	// Resync is, after a HOTP code matched beyond the look-ahead window, the counter
	// the next code must match to resynchronise; 0 when none is pending.
	Resync uint64 `json:"resync,omitempty"`
}

// Outcome is what Verify decided.
type Outcome int

// Outcomes of Verify.
const (
	// Wrong: the code matches nothing acceptable.
	Wrong Outcome = iota
	// Accepted: the code is right and was not used before; the State moved on.
	Accepted
	// Reused: the code is right but its step was already used; Result.Wait says when
	// the device shows a usable one.
	Reused
	// ResyncPending: a HOTP code matched beyond the look-ahead window; the next
	// consecutive code resynchronises the device. The State moved on; the login did not.
	ResyncPending
)

// String names o for logs.
func (o Outcome) String() string {
	switch o {
	case Accepted:
		return "accepted"
	case Reused:
		return "reused"
	case ResyncPending:
		return "resync_pending"
	}
	return "wrong"
}

// Result is Verify's answer.
type Result struct {
	Outcome Outcome
	// State is the device's state after the attempt; store it when Changed.
	State State
	// Changed reports whether State differs from the state passed in.
	Changed bool
	// Wait is, for Reused, how long until the device shows a code that can be used
	// (whole seconds, at least one).
	Wait time.Duration
}

// Verify checks code against a device with params p, secret and state st at now. It
// returns an error only for unusable parameters; a malformed code is Wrong.
func Verify(p Params, secret []byte, st State, code string, now time.Time, pol Policy) (Result, error) {
	if err := p.Validate(); err != nil {
		return Result{}, err
	}
	code = strings.TrimSpace(code)
	if len(code) != p.Digits || strings.Trim(code, "0123456789") != "" {
		return Result{Outcome: Wrong, State: st}, nil
	}
	if p.Kind == TOTP {
		return verifyTOTP(p, secret, st, code, now, pol)
	}
	return verifyHOTP(p, secret, st, code, pol)
}

func verifyTOTP(p Params, secret []byte, st State, code string, now time.Time, pol Policy) (Result, error) {
	nowStep := step(now, p.Period)
	center := nowStep + int64(st.Drift)
	matched, found := int64(0), false
	// Nearest steps first, so that of two matching steps (a collision) the likelier wins.
	for d := 0; d <= pol.Window && !found; d++ {
		for _, s := range []int64{center + int64(d), center - int64(d)} {
			ok, err := match(p, secret, uint64(max(s, 0)), code)
			if err != nil {
				return Result{}, err
			}
			if ok {
				matched, found = s, true
				break
			}
		}
	}
	if !found {
		return Result{Outcome: Wrong, State: st}, nil
	}
	drift := matched - nowStep
	if drift > int64(pol.MaxDrift) || drift < -int64(pol.MaxDrift) {
		return Result{Outcome: Wrong, State: st}, nil
	}
	if st.LastStep != 0 && matched <= st.LastStep {
		return Result{Outcome: Reused, State: st, Wait: waitFor(st, p.Period, now)}, nil
	}
	next := st
	next.LastStep, next.Drift = matched, int(drift)
	return Result{Outcome: Accepted, State: next, Changed: true}, nil
}

// waitFor is the time until the device, drifting by st.Drift steps, shows the step
// after st.LastStep; if it already does (an older code was replayed), the time left in
// its current step. Rounded up to whole seconds.
func waitFor(st State, period int, now time.Time) time.Duration {
	per := time.Duration(period) * time.Second
	nextAt := time.Unix(0, 0).Add(time.Duration(st.LastStep+1-int64(st.Drift)) * per)
	w := nextAt.Sub(now)
	if w <= 0 {
		w = per - time.Duration(now.UnixNano()%int64(per))
	}
	return max((w + time.Second - 1).Truncate(time.Second), time.Second)
}

func verifyHOTP(p Params, secret []byte, st State, code string, pol Policy) (Result, error) {
	look := uint64(max(pol.LookAhead, 1))
	for c := st.Counter; c < st.Counter+look; c++ {
		ok, err := match(p, secret, c, code)
		if err != nil {
			return Result{}, err
		}
		if ok {
			next := st
			next.Counter, next.Resync = c+1, 0
			return Result{Outcome: Accepted, State: next, Changed: true}, nil
		}
	}
	if st.Resync != 0 {
		ok, err := match(p, secret, st.Resync, code)
		if err != nil {
			return Result{}, err
		}
		if ok {
			next := st
			next.Counter, next.Resync = st.Resync+1, 0
			return Result{Outcome: Accepted, State: next, Changed: true}, nil
		}
	}
	if pol.ResyncWindow > 0 {
		from := st.Counter + look
		for c := from; c < from+uint64(pol.ResyncWindow); c++ {
			ok, err := match(p, secret, c, code)
			if err != nil {
				return Result{}, err
			}
			if ok {
				next := st
				next.Resync = c + 1
				return Result{Outcome: ResyncPending, State: next, Changed: next != st}, nil
			}
		}
	}
	return Result{Outcome: Wrong, State: st}, nil
}

func step(t time.Time, period int) int64 {
	return t.Unix() / int64(period)
}

// match compares in constant time (hotp.ValidateCustom uses subtle.ConstantTimeCompare).
func match(p Params, secret []byte, counter uint64, code string) (bool, error) {
	alg, err := p.algorithm()
	if err != nil {
		return false, err
	}
	ok, err := hotp.ValidateCustom(code, counter, encodeSecret(secret), hotp.ValidateOpts{Digits: otp.Digits(p.Digits), Algorithm: alg})
	if err != nil {
		return false, fmt.Errorf("oath: check code: %w", err)
	}
	return ok, nil
}

func codeAt(p Params, secret []byte, counter uint64) (string, error) {
	alg, err := p.algorithm()
	if err != nil {
		return "", err
	}
	c, err := hotp.GenerateCodeCustom(encodeSecret(secret), counter, hotp.ValidateOpts{Digits: otp.Digits(p.Digits), Algorithm: alg})
	if err != nil {
		return "", fmt.Errorf("oath: code: %w", err)
	}
	return c, nil
}

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

func encodeSecret(secret []byte) string { return b32.EncodeToString(secret) }

// decodeSecret reads a URI's secret: base32, any case, padding optional, at least
// 80 bits (RFC 4226's minimum is 128; some issuers still hand out 80).
func decodeSecret(s string) ([]byte, error) {
	s = strings.ToUpper(strings.TrimRight(strings.TrimSpace(s), "="))
	b, err := b32.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: secret is not base32", ErrInvalid)
	}
	if len(b) < 10 {
		return nil, fmt.Errorf("%w: secret of %d bytes is too short", ErrInvalid, len(b))
	}
	return b, nil
}
