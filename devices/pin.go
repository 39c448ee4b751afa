package devices

import (
	"context"
	"errors"
	"fmt"
	"unicode/utf8"
)

// Token PINs (LinOTP's otppin=token_pin): a PIN belongs to one device, push or OATH,
// and proves knowledge of something besides the device itself. Only its argon2id hash
// is stored, in the device's entry of the user's record; a device without one never
// matches a PIN.

// PIN lengths, in characters.
const (
	MinPINLength = 4
	MaxPINLength = 64
)

// ErrPINPolicy reports a PIN that is too short or too long; it wraps ErrInvalid.
var ErrPINPolicy = fmt.Errorf("%w: PIN policy", ErrInvalid)

// ErrNoPINs reports a registry without a PINHasher (UsePINHasher was not called).
var ErrNoPINs = errors.New("devices: this registry keeps no token PINs")

// PINHasher hashes and verifies token PINs. *identity.Store implements it: argon2id
// with the server's password costs, within its bound on concurrent hashes.
type PINHasher interface {
	// HashSecret returns the hash of a non-empty secret.
	HashSecret(ctx context.Context, secret string) (string, error)
	// VerifySecret reports, in constant time, whether secret matches encoded; an empty
	// encoded costs a verification and never matches.
	VerifySecret(ctx context.Context, encoded, secret string) (bool, error)
	// WaitVerifyTime waits as long as one verification takes, without verifying: an
	// attempt the guessing defence refuses must not answer faster than a checked one.
	WaitVerifyTime(ctx context.Context) error
}

// UsePINHasher makes the registry keep token PINs hashed with h. Call it once, while
// wiring, before the registry is used.
func (r *Registry) UsePINHasher(h PINHasher) { r.pins = h }

// WaitPINTime waits as long as checking one token PIN takes, without checking: a PIN
// attempt refused by the guessing defence takes the time of a wrong one, so timing does
// not tell a caller that it is being throttled.
func (r *Registry) WaitPINTime(ctx context.Context) error {
	if r.pins == nil {
		return ErrNoPINs
	}
	return r.pins.WaitVerifyTime(ctx)
}

// CheckPIN returns an error wrapping ErrPINPolicy unless pin is 4 to 64 characters of
// valid UTF-8.
func CheckPIN(pin string) error {
	n := utf8.RuneCountInString(pin)
	switch {
	case !utf8.ValidString(pin):
		return fmt.Errorf("%w: the PIN is not valid UTF-8", ErrPINPolicy)
	case n < MinPINLength:
		return fmt.Errorf("%w: the PIN has %d characters; it needs at least %d", ErrPINPolicy, n, MinPINLength)
	case n > MaxPINLength:
		return fmt.Errorf("%w: the PIN has %d characters; at most %d are allowed", ErrPINPolicy, n, MaxPINLength)
	}
	return nil
}

// SetPIN sets the token PIN of the user's device id (push or OATH), replacing any
// earlier one. It returns an error wrapping ErrPINPolicy for a PIN outside the policy
// and ErrNotFound when the user has no such device.
func (r *Registry) SetPIN(ctx context.Context, realm, user, id, pin string) error {
	if err := checkOwner(realm, user); err != nil {
		return err
	}
	if err := CheckPIN(pin); err != nil {
		return err
	}
	if r.pins == nil {
		return ErrNoPINs
	}
	// Hashed once, outside the compare-and-swap, which may run its function again.
	h, err := r.pins.HashSecret(ctx, pin)
	if err != nil {
		return fmt.Errorf("devices: hash the PIN of %s: %w", id, err)
	}
	return r.setPINHash(ctx, realm, user, id, h)
}

// ClearPIN removes the token PIN of the user's device id; a device without one is left
// as it is. It returns ErrNotFound when the user has no such device.
func (r *Registry) ClearPIN(ctx context.Context, realm, user, id string) error {
	if err := checkOwner(realm, user); err != nil {
		return err
	}
	return r.setPINHash(ctx, realm, user, id, "")
}

func (r *Registry) setPINHash(ctx context.Context, realm, user, id, h string) error {
	return r.update(ctx, realm, user, func(rec *record) error {
		for i := range rec.Devices {
			if rec.Devices[i].ID == id {
				rec.Devices[i].PINHash = h
				return nil
			}
		}
		for i := range rec.OATH {
			if rec.OATH[i].ID == id {
				rec.OATH[i].PINHash = h
				return nil
			}
		}
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	})
}

// HasPIN reports whether the user's device id has a token PIN.
func (r *Registry) HasPIN(ctx context.Context, realm, user, id string) (bool, error) {
	if err := checkOwner(realm, user); err != nil {
		return false, err
	}
	rec, err := r.load(ctx, realm, user)
	if err != nil {
		return false, err
	}
	for _, d := range rec.Devices {
		if d.ID == id {
			return d.PINHash != "", nil
		}
	}
	for _, d := range rec.OATH {
		if d.ID == id {
			return d.PINHash != "", nil
		}
	}
	return false, fmt.Errorf("%w: %s", ErrNotFound, id)
}

// MatchPIN returns the ids of the user's devices whose token PIN is pin, push devices
// first, in registration order; none is an empty slice. Every PIN the user has is
// verified (in constant time each), and a user with none costs one verification, so
// the time taken tells nothing about which PIN matched or whether the user has any.
func (r *Registry) MatchPIN(ctx context.Context, realm, user, pin string) ([]string, error) {
	if err := checkOwner(realm, user); err != nil {
		return nil, err
	}
	if r.pins == nil {
		return nil, ErrNoPINs
	}
	rec, err := r.load(ctx, realm, user)
	if err != nil {
		return nil, err
	}
	type candidate struct{ id, hash string }
	var have []candidate
	for _, d := range rec.Devices {
		if d.PINHash != "" {
			have = append(have, candidate{d.ID, d.PINHash})
		}
	}
	for _, d := range rec.OATH {
		if d.PINHash != "" {
			have = append(have, candidate{d.ID, d.PINHash})
		}
	}
	if len(have) == 0 {
		have = append(have, candidate{}) // the dummy verification; never matches
	}
	matched := []string{}
	for _, c := range have {
		ok, err := r.pins.VerifySecret(ctx, c.hash, pin)
		if err != nil {
			return nil, fmt.Errorf("devices: verify the PIN of %s: %w", c.id, err)
		}
		if ok {
			matched = append(matched, c.id)
		}
	}
	return matched, nil
}
