package authenticator

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/arbor-auth/arbor/oath"
)

// ErrNoCodeAccount reports that no one-time code account matches (or none exists).
var ErrNoCodeAccount = errors.New("authenticator: no one-time code account")

// CodeAccount is one one-time code generator, added from an otpauth:// URI as an
// authenticator app adds one from a QR code. Nothing is sent to the server: the server
// learns of the account when the user types its first code.
type CodeAccount struct {
	// ID is a local id.
	ID string `json:"id"`
	// Issuer and AccountName are the labels from the URI.
	Issuer      string `json:"issuer"`
	AccountName string `json:"account_name"`
	// Params are the kind, algorithm, digits and period.
	oath.Params
	// Secret is the shared secret.
	Secret []byte `json:"secret"`
	// Counter is the next HOTP counter (unused for TOTP).
	Counter uint64 `json:"counter,omitempty"`
	// Created is when the account was added.
	Created time.Time `json:"created"`
}

// AddCodeAccount adds the one-time code account an otpauth:// URI describes and saves it.
func (a *Authenticator) AddCodeAccount(uri string) (*CodeAccount, error) {
	k, err := oath.ParseKey(uri)
	if err != nil {
		return nil, err
	}
	acc := CodeAccount{ID: uuid.NewString(), Issuer: k.Issuer, AccountName: k.Account, Params: k.Params,
		Secret: k.Secret, Counter: k.Counter, Created: a.Now()}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.codes = append(a.codes, acc)
	if err := a.save(); err != nil {
		a.codes = a.codes[:len(a.codes)-1]
		return nil, err
	}
	return &acc, nil
}

// CodeAccounts returns the one-time code accounts, oldest first.
func (a *Authenticator) CodeAccounts() []CodeAccount {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]CodeAccount, len(a.codes))
	copy(out, a.codes)
	return out
}

// Code returns the current code of the newest one-time code account whose id, issuer
// or account name equals which (any account if which is empty), and for a time-based
// code how long it stays valid. A counter-based account moves its counter on and is
// saved, as a hardware token does when its button is pressed.
func (a *Authenticator) Code(which string) (code string, acc CodeAccount, valid time.Duration, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	i := len(a.codes) - 1
	for ; i >= 0; i-- {
		c := a.codes[i]
		if which == "" || which == c.ID || strings.EqualFold(which, c.Issuer) || strings.EqualFold(which, c.AccountName) {
			break
		}
	}
	if i < 0 {
		if which == "" {
			return "", CodeAccount{}, 0, ErrNoCodeAccount
		}
		return "", CodeAccount{}, 0, fmt.Errorf("%w named %q", ErrNoCodeAccount, which)
	}
	c := &a.codes[i]
	now := a.Now()
	code, err = oath.Code(c.Params, c.Secret, now, c.Counter)
	if err != nil {
		return "", CodeAccount{}, 0, err
	}
	if c.Kind == oath.HOTP {
		c.Counter++
		if err := a.save(); err != nil {
			c.Counter--
			return "", CodeAccount{}, 0, err
		}
		return code, *c, 0, nil
	}
	per := time.Duration(c.Period) * time.Second
	valid = per - time.Duration(now.UnixNano()%int64(per))
	return code, *c, valid, nil
}
