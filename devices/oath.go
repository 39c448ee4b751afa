package devices

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/arbor-auth/arbor/oath"
	"github.com/arbor-auth/arbor/store"
)

// MethodOATH is the method name for one-time codes in skip state (AM's mfaMethod "oath").
const MethodOATH = "oath"

// OATHDevice is one registered one-time code generator (an AM OATH device profile):
// an authenticator app holding a TOTP or HOTP secret. It lives in the user's record
// beside the push devices, so the same compare-and-swap that records a code as used
// also decides whether it was already used.
type OATHDevice struct {
	// ID is a random id Arbor gave the device at registration.
	ID string `json:"id"`
	// Name is the human name ("Authenticator app").
	Name string `json:"name,omitempty"`
	// Issuer is the issuer the app shows.
	Issuer string `json:"issuer,omitempty"`
	// Params are the kind, algorithm, digits and period the codes are made with.
	oath.Params
	// State is what the verifier remembers: counter, last step used, clock drift.
	State oath.State `json:"state"`
	// SecretSealed is the shared secret sealed with keys.PurposeDevice and bound to ID
	// (a different binding from push secrets', so one cannot stand in for the other).
	SecretSealed string `json:"secret_sealed"`
	// Created is when the device was registered.
	Created time.Time `json:"created"`
	// LastUsed is when a code of the device was last accepted (zero if never).
	LastUsed time.Time `json:"last_used,omitzero"`
	// PINHash is the argon2id hash of the device's token PIN (see SetPIN), empty when
	// it has none.
	PINHash string `json:"pin_hash,omitempty"`

	// Realm and User are the owner, filled in on every read.
	Realm string `json:"-"`
	User  string `json:"-"`
}

func oathSecretContext(id string) []byte { return []byte("arbor oath device secret\x00" + id) }

// OATHDevices returns the user's one-time code devices in registration order; a user
// with none gets an empty slice and no error.
func (r *Registry) OATHDevices(ctx context.Context, realm, user string) ([]OATHDevice, error) {
	if err := checkOwner(realm, user); err != nil {
		return nil, err
	}
	rec, err := r.load(ctx, realm, user)
	if err != nil {
		return nil, err
	}
	return rec.OATH, nil
}

// AddOATH registers d for realm/user with its shared secret, which it seals bound to
// d.ID. An empty d.ID gets a random one; Created defaults to now. Params must be valid
// and the secret 16 to 64 bytes.
func (r *Registry) AddOATH(ctx context.Context, realm, user string, d OATHDevice, secret []byte) (*OATHDevice, error) {
	if err := checkOwner(realm, user); err != nil {
		return nil, err
	}
	if err := d.Params.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if len(secret) < 16 || len(secret) > 64 {
		return nil, fmt.Errorf("%w: secret is %d bytes, want 16 to 64", ErrInvalid, len(secret))
	}
	if d.ID == "" {
		d.ID = "oath-" + randomCode(20)
	}
	if d.Created.IsZero() {
		d.Created = r.now()
	}
	d.SecretSealed = r.sealer.Seal(secret, oathSecretContext(d.ID))
	d.Realm, d.User = "", ""
	err := r.update(ctx, realm, user, func(rec *record) error {
		for _, x := range rec.OATH {
			if x.ID == d.ID {
				return fmt.Errorf("%w: %s", ErrExists, d.ID)
			}
		}
		rec.OATH = append(rec.OATH, d)
		return nil
	})
	if err != nil {
		return nil, err
	}
	d.Realm, d.User = realm, NormalizeUser(user)
	return &d, nil
}

// OATHSecret opens the shared secret of d; a secret that does not open gives an error
// wrapping keys.ErrOpen.
func (r *Registry) OATHSecret(d *OATHDevice) ([]byte, error) {
	if d == nil {
		return nil, fmt.Errorf("%w: nil device", ErrInvalid)
	}
	s, err := r.sealer.Open(d.SecretSealed, oathSecretContext(d.ID))
	if err != nil {
		return nil, fmt.Errorf("devices: open secret of %s: %w", d.ID, err)
	}
	return s, nil
}

// CodeResult is the answer to VerifyCode.
type CodeResult struct {
	// Outcome is oath.Accepted, oath.Reused, oath.ResyncPending or oath.Wrong.
	Outcome oath.Outcome
	// Wait is, for oath.Reused, how long until the device shows a usable code.
	Wait time.Duration
	// Device is the device the code matched (nil for oath.Wrong).
	Device *OATHDevice
	// Registered is false when the user has no one-time code device at all.
	Registered bool
}

// VerifyCode checks code against each of the user's one-time code devices at now and,
// when one accepts it, records the step or counter as used in the same compare-and-swap
// that read it: of two logins racing with one code, exactly one is accepted and the
// other sees oath.Reused. A wrong code gives oath.Wrong and no error.
func (r *Registry) VerifyCode(ctx context.Context, realm, user, code string, now time.Time, pol oath.Policy) (CodeResult, error) {
	return r.VerifyCodeOf(ctx, realm, user, nil, code, now, pol)
}

// VerifyCodeOf is VerifyCode against only the devices whose ids are in only (the
// devices whose token PIN the flow verified); a nil only means every device. A user
// with none of those devices is reported as not Registered.
func (r *Registry) VerifyCodeOf(ctx context.Context, realm, user string, only []string, code string, now time.Time, pol oath.Policy) (CodeResult, error) {
	if err := checkOwner(realm, user); err != nil {
		return CodeResult{}, err
	}
	var res CodeResult
	err := r.update(ctx, realm, user, func(rec *record) error {
		res = CodeResult{}
		// A pending resynchronisation on one device and a reuse on another are both
		// reported only if no device accepts the code.
		var fallback *CodeResult
		changed := false
		for i := range rec.OATH {
			d := &rec.OATH[i]
			if only != nil && !slices.Contains(only, d.ID) {
				continue
			}
			res.Registered = true
			secret, err := r.OATHSecret(d)
			if err != nil {
				return err
			}
			v, err := oath.Verify(d.Params, secret, d.State, code, now, pol)
			if err != nil {
				return fmt.Errorf("devices: verify code of %s: %w", d.ID, err)
			}
			if v.Changed {
				d.State, changed = v.State, true
			}
			switch v.Outcome {
			case oath.Accepted:
				d.LastUsed = now
				dev := *d
				dev.Realm, dev.User = rec.Realm, rec.User
				res.Outcome, res.Device = oath.Accepted, &dev
				return nil
			case oath.Reused, oath.ResyncPending:
				if fallback == nil {
					dev := *d
					dev.Realm, dev.User = rec.Realm, rec.User
					fallback = &CodeResult{Outcome: v.Outcome, Wait: v.Wait, Device: &dev, Registered: true}
				}
			}
		}
		if fallback != nil {
			res = *fallback
		}
		if !changed {
			return store.ErrNoChange
		}
		return nil
	})
	if err != nil {
		return CodeResult{}, err
	}
	return res, nil
}
