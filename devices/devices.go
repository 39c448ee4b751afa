// Package devices is Arbor's registry of second factors: the push devices and the
// one-time code (OATH) devices a user has registered, the user's recovery codes and the
// user's MFA skip choice per method.
//
// Everything about one user lives in one JSON record in the store, under
// "mfa:{<realm>:<user>}" (both parts query-escaped, username lower-cased), written only
// with compare-and-swap retry loops so that concurrent journeys on any instance never
// lose an update. A second key per device, "mfadev:<id>", maps the device id (AM's
// mechanism uid) back to its owner, because a device reply names only the device.
//
// Secrets never reach the store in clear:
//   - a device's shared secret (push or OATH) is sealed (AES-GCM, keys.PurposeDevice)
//     and the seal is bound to the device id and kind, so a sealed value copied onto
//     another device does not open;
//   - recovery codes are kept only as HMAC-SHA256 under the keys.PurposeRecovery key,
//     bound to realm and user, so a copied hash is useless for another account and a
//     store dump cannot be turned back into codes without the master secret.
//
// Recovery codes and skip state are per user, not per device as in AM: a user who lost
// the phone and revoked it still has the codes that let them in to register a new one.
package devices

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/arbor-auth/arbor/keys"
	"github.com/arbor-auth/arbor/store"
)

// SecretLen is the length in bytes of a push device's shared secret, as in AM.
const SecretLen = 32

// Recovery code shape: 10 codes of 12 characters from RecoveryAlphabet (about 59 bits
// each, as much as AM's 10 characters from [0-9A-Za-z]), shown in groups of
// RecoveryGroup separated by dashes: "7KQM-4TZR-H9WC".
const (
	RecoveryCodeCount  = 10
	RecoveryCodeLength = 12
	RecoveryGroup      = 4
)

// RecoveryAlphabet is what recovery codes are made of: digits and upper-case letters
// without those read or typed as one another (0/O, 1/I/L). Codes are compared without
// regard to case or separators.
const RecoveryAlphabet = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"

// legacyCodeLength is the length of the codes Arbor issued before RecoveryAlphabet: 10
// case-sensitive characters from [0-9A-Za-z]. Stored sets of them keep working.
const legacyCodeLength = 10

// MethodPush is the method name for push MFA in skip state (AM's mfaMethod "push").
const MethodPush = "push"

// Communication types a device may receive pushes by. AM devices report "gcm", which
// Normalize maps to CommFCM.
const (
	CommFCM     = "fcm"
	CommAPNs    = "apns"
	CommWebhook = "webhook"
	CommPoll    = "poll"
	CommLog     = "log"
)

// Errors callers branch on. Store failures are wrapped, never replaced, so
// errors.Is(err, store.ErrUnavailable) keeps working through this package.
var (
	// ErrNotFound reports that the device does not exist (or is not the user's).
	ErrNotFound = errors.New("devices: device not found")
	// ErrExists reports that a device with the same id is already registered.
	ErrExists = errors.New("devices: device already registered")
	// ErrInvalid reports an argument that cannot be stored: empty user, bad realm,
	// missing device id, a secret of the wrong length, an unknown communication type.
	ErrInvalid = errors.New("devices: invalid argument")
	// ErrBusy reports that a record stayed contended beyond the retry budget. It is
	// transient; the caller may retry the whole operation.
	ErrBusy = errors.New("devices: record too contended, try again")
)

// Skip is a user's MFA skip choice for one method, with AM's numeric values.
type Skip int

// Skip values (AM's 0, 1, 2).
const (
	// SkipNotSet means the user has made no choice: offer registration.
	SkipNotSet Skip = 0
	// SkipSkippable means the user opted out: the sender node takes its Skipped outcome.
	SkipSkippable Skip = 1
	// SkipNotSkippable means MFA is mandatory for the user (set after a registration).
	SkipNotSkippable Skip = 2
)

// String returns AM's name for s.
func (s Skip) String() string {
	switch s {
	case SkipNotSet:
		return "NOT_SET"
	case SkipSkippable:
		return "SKIPPABLE"
	case SkipNotSkippable:
		return "NOT_SKIPPABLE"
	}
	return fmt.Sprintf("Skip(%d)", int(s))
}

// Device is one registered push device (an AM push mechanism).
type Device struct {
	// ID is the mechanism uid the device generated at registration; it is unique across
	// all users and is how replies and polls name the device.
	ID string `json:"id"`
	// Name is the human name the device reported ("Pixel 8").
	Name string `json:"name,omitempty"`
	// Issuer is the issuer shown in the authenticator app, used for {{issuer}}.
	Issuer string `json:"issuer,omitempty"`
	// Platform is "android", "ios" or another platform name the device reported.
	Platform string `json:"platform,omitempty"`
	// Communication is how pushes reach the device: one of the Comm* constants.
	Communication string `json:"communication"`
	// Token is the FCM registration token or APNs device token, or empty for poll.
	Token string `json:"token,omitempty"`
	// SecretSealed is the shared secret sealed with keys.PurposeDevice and bound to ID.
	// Use Registry.Secret to open it.
	SecretSealed string `json:"secret_sealed"`
	// Created is when the device was registered.
	Created time.Time `json:"created"`
	// LastUsed is when the device last approved a push (zero if never).
	LastUsed time.Time `json:"last_used,omitzero"`
	// PINHash is the argon2id hash of the device's token PIN (see SetPIN), empty when
	// it has none.
	PINHash string `json:"pin_hash,omitempty"`

	// Realm and User are the owner, filled in on every read; they are not stored in the
	// record because the record's key already says whose it is.
	Realm string `json:"-"`
	User  string `json:"-"`
}

// record is everything stored for one user.
type record struct {
	Realm    string          `json:"realm"`
	User     string          `json:"user"`
	Devices  []Device        `json:"devices,omitempty"`
	OATH     []OATHDevice    `json:"oath,omitempty"`
	Recovery []string        `json:"recovery,omitempty"` // base64url HMAC-SHA256 of each code
	Skip     map[string]Skip `json:"skip,omitempty"`
}

// owner is the value of a device index key.
type owner struct {
	Realm string `json:"realm"`
	User  string `json:"user"`
}

// Registry keeps devices, recovery codes and skip state in a store.Store. It is safe
// for concurrent use and keeps no state of its own, so any number of instances can share
// one store.
type Registry struct {
	st     store.Store
	ring   *keys.Ring
	sealer *keys.Sealer
	now    func() time.Time
	// pins hashes and verifies token PINs; nil refuses SetPIN (see UsePINHasher).
	pins PINHasher
}

// New returns a Registry over st using ring for sealing and hashing.
func New(st store.Store, ring *keys.Ring) *Registry {
	return &Registry{st: st, ring: ring, sealer: ring.Sealer(keys.PurposeDevice), now: time.Now}
}

// NormalizeUser returns the form of a username used in keys: usernames are compared
// case-insensitively, as directory servers do.
func NormalizeUser(user string) string { return strings.ToLower(strings.TrimSpace(user)) }

// NormalizeCommunication maps a communication type a device reports to one of the Comm*
// constants; AM's "gcm" becomes "fcm". An unknown type gives ErrInvalid.
func NormalizeCommunication(c string) (string, error) {
	switch c = strings.ToLower(strings.TrimSpace(c)); c {
	case "gcm", CommFCM:
		return CommFCM, nil
	case CommAPNs, CommWebhook, CommPoll, CommLog:
		return c, nil
	}
	return "", fmt.Errorf("%w: unknown communication type %q", ErrInvalid, c)
}

func checkOwner(realm, user string) error {
	if !strings.HasPrefix(realm, "/") {
		return fmt.Errorf("%w: realm %q must start with /", ErrInvalid, realm)
	}
	if NormalizeUser(user) == "" {
		return fmt.Errorf("%w: empty username", ErrInvalid)
	}
	return nil
}

// userKey is the record key. Both parts are escaped so that no realm/user pair can
// collide with another; the whole pair is the hash tag so that users spread over a
// Redis Cluster instead of piling a realm onto one slot.
func userKey(realm, user string) string {
	return "mfa:{" + url.QueryEscape(realm) + ":" + url.QueryEscape(NormalizeUser(user)) + "}"
}

func deviceKey(id string) string { return "mfadev:" + id }

func secretContext(id string) []byte { return []byte("arbor push device secret\x00" + id) }

// load reads the record for realm/user; a missing record is an empty one.
func (r *Registry) load(ctx context.Context, realm, user string) (*record, error) {
	it, err := r.st.Get(ctx, userKey(realm, user))
	return loaded(realm, user, it, err)
}

// loaded decodes the outcome of a read of realm/user's record: its item, or err (a
// missing record is an empty one).
func loaded(realm, user string, it store.Item, err error) (*record, error) {
	if errors.Is(err, store.ErrNotFound) {
		return decodeRecord(realm, user, nil, false)
	}
	if err != nil {
		return nil, fmt.Errorf("devices: read record of %q in %s: %w", user, realm, err)
	}
	return decodeRecord(realm, user, it.Value, true)
}

// decodeRecord decodes a stored record; a missing one (exists false) is empty.
func decodeRecord(realm, user string, b []byte, exists bool) (*record, error) {
	if !exists {
		return &record{Realm: realm, User: NormalizeUser(user)}, nil
	}
	var rec record
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, fmt.Errorf("devices: decode record of %q in %s: %w", user, realm, err)
	}
	for i := range rec.Devices {
		rec.Devices[i].Realm, rec.Devices[i].User = rec.Realm, rec.User
	}
	for i := range rec.OATH {
		rec.OATH[i].Realm, rec.OATH[i].User = rec.Realm, rec.User
	}
	return &rec, nil
}

// update applies fn to the user's record through store.Update, so fn may run several
// times, each on a freshly read record, and must be a pure function of it. fn returns
// store.ErrNoChange to end the update without a write. A record contended beyond the
// store's retry budget gives ErrBusy.
func (r *Registry) update(ctx context.Context, realm, user string, fn func(*record) error) error {
	_, err := store.Update(ctx, r.st, userKey(realm, user), func(cur []byte, exists bool) ([]byte, time.Duration, error) {
		rec, err := decodeRecord(realm, user, cur, exists)
		if err != nil {
			return nil, 0, err
		}
		if err := fn(rec); err != nil {
			return nil, 0, err
		}
		b, err := json.Marshal(rec)
		if err != nil {
			return nil, 0, fmt.Errorf("devices: encode record: %w", err)
		}
		return b, 0, nil
	})
	switch {
	case errors.Is(err, store.ErrConflict):
		return fmt.Errorf("%w: record of %q in %s: %w", ErrBusy, user, realm, err)
	case err != nil && store.IsUnavailable(err):
		return fmt.Errorf("devices: write record of %q in %s: %w", user, realm, err)
	}
	return err
}

// Devices returns the user's devices in registration order; the first is the one pushes
// go to (as in AM). A user with none gets an empty slice and no error.
func (r *Registry) Devices(ctx context.Context, realm, user string) ([]Device, error) {
	if err := checkOwner(realm, user); err != nil {
		return nil, err
	}
	rec, err := r.load(ctx, realm, user)
	if err != nil {
		return nil, err
	}
	return rec.Devices, nil
}

// SecondFactors returns the kinds of second factor the user has enrolled, "push" for
// a push device and "otp" for an authenticator app (the factor names nodes record), in
// that order, or nothing: the door core (door.Enrollments) asks it which factors a
// login of the user must verify. One read of the user's record.
func (r *Registry) SecondFactors(ctx context.Context, realm, user string) ([]string, error) {
	return r.SecondFactorsRead(ctx, realm, user, nil)
}

// FactorsRead returns the store read SecondFactors starts with, for a caller that runs
// it in a batch of its own (the guessing defence's, through the door core's
// nodes.ReadAhead) and hands it to SecondFactorsRead. ok is false for a realm or name
// that cannot own devices.
func (r *Registry) FactorsRead(realm, user string) (read store.Op, ok bool) {
	if checkOwner(realm, user) != nil {
		return store.Op{}, false
	}
	return store.GetOp(userKey(realm, user)), true
}

// SecondFactorsRead is SecondFactors starting from read, a FactorsRead of the same realm
// and user already run (nil: SecondFactors reads the record itself).
func (r *Registry) SecondFactorsRead(ctx context.Context, realm, user string, read *store.Op) ([]string, error) {
	if err := checkOwner(realm, user); err != nil {
		return nil, err
	}
	var (
		rec *record
		err error
	)
	switch {
	case read == nil:
		rec, err = r.load(ctx, realm, user)
	case read.Kind != store.OpGet || read.Key != userKey(realm, user):
		return nil, fmt.Errorf("devices: second factors of %q in %s: the read given is not of this user", user, realm)
	default:
		rec, err = loaded(realm, user, read.Item, read.Err)
	}
	if err != nil {
		return nil, err
	}
	var out []string
	if len(rec.Devices) > 0 {
		out = append(out, "push")
	}
	if len(rec.OATH) > 0 {
		out = append(out, "otp")
	}
	return out, nil
}

// Device returns the device with id, whoever owns it (Realm and User say who), or
// ErrNotFound.
func (r *Registry) Device(ctx context.Context, id string) (*Device, error) {
	if id == "" {
		return nil, fmt.Errorf("%w: empty id", ErrNotFound)
	}
	it, err := r.st.Get(ctx, deviceKey(id))
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("devices: read index of %s: %w", id, err)
	}
	var o owner
	if err := json.Unmarshal(it.Value, &o); err != nil {
		return nil, fmt.Errorf("devices: decode index of %s: %w", id, err)
	}
	rec, err := r.load(ctx, o.Realm, o.User)
	if err != nil {
		return nil, err
	}
	for i := range rec.Devices {
		if rec.Devices[i].ID == id {
			d := rec.Devices[i]
			return &d, nil
		}
	}
	// The index outlived the device (a revoke or add interrupted half-way).
	return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
}

// Add registers d for realm/user with its shared secret, which it seals bound to d.ID.
// Whatever d.SecretSealed holds is replaced; Created defaults to now and Communication
// is normalised. A device id already in use (by anyone) gives ErrExists.
//
// The index key is claimed first (CAS on absent), so two registrations racing for one
// id cannot both win; if writing the user's record then fails the claim is released.
func (r *Registry) Add(ctx context.Context, realm, user string, d Device, secret []byte) error {
	if err := checkOwner(realm, user); err != nil {
		return err
	}
	if d.ID == "" || len(d.ID) > 256 {
		return fmt.Errorf("%w: device id must be 1 to 256 bytes", ErrInvalid)
	}
	if len(secret) != SecretLen {
		return fmt.Errorf("%w: secret is %d bytes, want %d", ErrInvalid, len(secret), SecretLen)
	}
	comm, err := NormalizeCommunication(d.Communication)
	if err != nil {
		return err
	}
	d.Communication = comm
	if d.Created.IsZero() {
		d.Created = r.now()
	}
	d.SecretSealed = r.sealer.Seal(secret, secretContext(d.ID))
	d.Realm, d.User = "", ""

	idx, err := json.Marshal(owner{Realm: realm, User: NormalizeUser(user)})
	if err != nil {
		return fmt.Errorf("devices: encode index: %w", err)
	}
	if _, err := r.st.CAS(ctx, deviceKey(d.ID), idx, 0, 0); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("%w: %s", ErrExists, d.ID)
		}
		return fmt.Errorf("devices: claim device id %s: %w", d.ID, err)
	}
	err = r.update(ctx, realm, user, func(rec *record) error {
		for _, x := range rec.Devices {
			if x.ID == d.ID {
				return fmt.Errorf("%w: %s", ErrExists, d.ID)
			}
		}
		rec.Devices = append(rec.Devices, d)
		return nil
	})
	if err != nil {
		// Best effort: release the id so that a retry can register it.
		_ = r.st.Delete(context.WithoutCancel(ctx), deviceKey(d.ID))
		return err
	}
	return nil
}

// Secret opens the shared secret of d. A secret that does not open (another master
// secret, or a sealed value moved from another device) gives an error wrapping
// keys.ErrOpen.
func (r *Registry) Secret(ctx context.Context, d *Device) ([]byte, error) {
	if d == nil {
		return nil, fmt.Errorf("%w: nil device", ErrInvalid)
	}
	s, err := r.sealer.Open(d.SecretSealed, secretContext(d.ID))
	if err != nil {
		return nil, fmt.Errorf("devices: open secret of %s: %w", d.ID, err)
	}
	return s, nil
}

// Revoke removes the user's device id, push or OATH, or returns ErrNotFound if the user
// has no such device. The caller audits it (audit.DeviceRevoked) because it knows who
// asked.
func (r *Registry) Revoke(ctx context.Context, realm, user, id string) error {
	if err := checkOwner(realm, user); err != nil {
		return err
	}
	pushDevice := false
	err := r.update(ctx, realm, user, func(rec *record) error {
		pushDevice = false
		for i, x := range rec.Devices {
			if x.ID == id {
				rec.Devices = append(rec.Devices[:i:i], rec.Devices[i+1:]...)
				pushDevice = true
				return nil
			}
		}
		for i, x := range rec.OATH {
			if x.ID == id {
				rec.OATH = append(rec.OATH[:i:i], rec.OATH[i+1:]...)
				return nil
			}
		}
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	})
	if err != nil {
		return err
	}
	if !pushDevice {
		// Only push devices have an index key (device replies name only the device).
		return nil
	}
	if err := r.st.Delete(ctx, deviceKey(id)); err != nil {
		// The device is gone from the record; a stale index only makes Device report
		// ErrNotFound, so the revoke itself succeeded.
		return fmt.Errorf("devices: revoked %s but could not drop its index: %w", id, err)
	}
	return nil
}

// Touch records that device id was used at t (a push approved). An unknown id gives
// ErrNotFound.
func (r *Registry) Touch(ctx context.Context, id string, t time.Time) error {
	d, err := r.Device(ctx, id)
	if err != nil {
		return err
	}
	return r.update(ctx, d.Realm, d.User, func(rec *record) error {
		for i := range rec.Devices {
			if rec.Devices[i].ID == id {
				if !t.After(rec.Devices[i].LastUsed) {
					return store.ErrNoChange
				}
				rec.Devices[i].LastUsed = t
				return nil
			}
		}
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	})
}

// NewRecoveryCodes generates a fresh set of recovery codes for the user, replacing any
// previous set, and returns them in clear. This is the only time they exist in clear:
// show them once (the recovery code display node) and drop them. The caller audits it
// (audit.RecoveryCodesNew).
func (r *Registry) NewRecoveryCodes(ctx context.Context, realm, user string) ([]string, error) {
	if err := checkOwner(realm, user); err != nil {
		return nil, err
	}
	codes := make([]string, 0, RecoveryCodeCount)
	seen := make(map[string]bool, RecoveryCodeCount)
	for len(codes) < RecoveryCodeCount {
		c := randomCode(RecoveryCodeLength)
		if !seen[c] {
			seen[c] = true
			codes = append(codes, c)
		}
	}
	hashes := make([]string, len(codes))
	for i, c := range codes {
		hashes[i] = r.hashCode(realm, user, c)
		codes[i] = groupCode(c)
	}
	err := r.update(ctx, realm, user, func(rec *record) error {
		rec.Recovery = hashes
		return nil
	})
	if err != nil {
		return nil, err
	}
	return codes, nil
}

// randomCode draws n characters uniformly from RecoveryAlphabet with crypto/rand,
// rejecting bytes that would bias the draw.
func randomCode(n int) string {
	const limit = 256 - 256%len(RecoveryAlphabet) // 248: largest multiple of 31 below 256
	out := make([]byte, 0, n)
	buf := make([]byte, 2*n)
	for len(out) < n {
		rand.Read(buf)
		for _, b := range buf {
			if int(b) < limit && len(out) < n {
				out = append(out, RecoveryAlphabet[int(b)%len(RecoveryAlphabet)])
			}
		}
	}
	return string(out)
}

// groupCode writes code in groups of RecoveryGroup characters joined by dashes, for
// reading aloud and typing.
func groupCode(code string) string {
	var b strings.Builder
	for i := 0; i < len(code); i += RecoveryGroup {
		if i > 0 {
			b.WriteByte('-')
		}
		b.WriteString(code[i:min(i+RecoveryGroup, len(code))])
	}
	return b.String()
}

// hashCode binds a code to its owner so that a hash copied to another account matches
// nothing there.
func (r *Registry) hashCode(realm, user, code string) string {
	msg := "recovery\x00" + realm + "\x00" + NormalizeUser(user) + "\x00" + code
	return base64.RawURLEncoding.EncodeToString(r.ring.MAC(keys.PurposeRecovery, []byte(msg)))
}

// NormalizeRecoveryCode returns code as it is compared: spaces and dashes removed
// (people copy codes with or without the grouping) and letters in upper case. It
// returns "" for input that cannot be a code.
func NormalizeRecoveryCode(code string) string {
	var b strings.Builder
	for _, c := range strings.ToUpper(stripSeparators(code)) {
		if !strings.ContainsRune(RecoveryAlphabet, c) {
			return ""
		}
		b.WriteRune(c)
	}
	if b.Len() != RecoveryCodeLength {
		return ""
	}
	return b.String()
}

// legacyRecoveryCode returns code as codes of the earlier shape were compared:
// separators removed, case kept, 10 characters from [0-9A-Za-z]; or "".
func legacyRecoveryCode(code string) string {
	c := stripSeparators(code)
	if len(c) != legacyCodeLength {
		return ""
	}
	for _, r := range c {
		if !(r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z') {
			return ""
		}
	}
	return c
}

func stripSeparators(code string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '-', ' ', '\t', '\n', '\r':
			return -1
		}
		return r
	}, code)
}

// UseRecoveryCode reports whether code is one of the user's unused recovery codes and,
// if so, removes it in the same compare-and-swap, so a code works exactly once even when
// submitted concurrently on several instances. A wrong code gives false and no error.
// The caller audits the outcome (audit.RecoveryCodeUsed / audit.RecoveryCodeBad).
func (r *Registry) UseRecoveryCode(ctx context.Context, realm, user, code string) (bool, error) {
	if err := checkOwner(realm, user); err != nil {
		return false, err
	}
	var wants [][]byte
	for _, c := range []string{NormalizeRecoveryCode(code), legacyRecoveryCode(code)} {
		if c == "" {
			continue
		}
		w, err := base64.RawURLEncoding.DecodeString(r.hashCode(realm, user, c))
		if err != nil {
			return false, fmt.Errorf("devices: recovery hash: %w", err)
		}
		wants = append(wants, w)
	}
	if len(wants) == 0 {
		return false, nil
	}
	used := false
	err := r.update(ctx, realm, user, func(rec *record) error {
		used = false
		match := -1
		// Compare against every stored hash, without stopping at a match, so that the
		// time taken does not say which position matched.
		for i, h := range rec.Recovery {
			got, derr := base64.RawURLEncoding.DecodeString(h)
			for _, want := range wants {
				if derr == nil && hmac.Equal(got, want) && match < 0 {
					match = i
				}
			}
		}
		if match < 0 {
			return store.ErrNoChange
		}
		rec.Recovery = append(rec.Recovery[:match:match], rec.Recovery[match+1:]...)
		used = true
		return nil
	})
	if err != nil {
		return false, err
	}
	return used, nil
}

// RecoveryCodesLeft returns how many unused recovery codes the user has.
func (r *Registry) RecoveryCodesLeft(ctx context.Context, realm, user string) (int, error) {
	if err := checkOwner(realm, user); err != nil {
		return 0, err
	}
	rec, err := r.load(ctx, realm, user)
	if err != nil {
		return 0, err
	}
	return len(rec.Recovery), nil
}

// SkipState returns the user's skip choice for method (MethodPush); SkipNotSet when the
// user has never chosen.
func (r *Registry) SkipState(ctx context.Context, realm, user, method string) (Skip, error) {
	if err := checkOwner(realm, user); err != nil {
		return SkipNotSet, err
	}
	rec, err := r.load(ctx, realm, user)
	if err != nil {
		return SkipNotSet, err
	}
	return rec.Skip[method], nil
}

// SetSkip stores the user's skip choice for method. SkipNotSet clears it.
func (r *Registry) SetSkip(ctx context.Context, realm, user, method string, s Skip) error {
	if err := checkOwner(realm, user); err != nil {
		return err
	}
	if method == "" {
		return fmt.Errorf("%w: empty method", ErrInvalid)
	}
	if s < SkipNotSet || s > SkipNotSkippable {
		return fmt.Errorf("%w: skip value %d", ErrInvalid, int(s))
	}
	return r.update(ctx, realm, user, func(rec *record) error {
		if rec.Skip[method] == s {
			return store.ErrNoChange
		}
		if s == SkipNotSet {
			delete(rec.Skip, method)
			return nil
		}
		if rec.Skip == nil {
			rec.Skip = map[string]Skip{}
		}
		rec.Skip[method] = s
		return nil
	})
}
