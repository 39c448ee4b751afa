package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/arbor-auth/arbor/nodes"
)

// MaxSealedLen bounds a sealed first step, in bytes of its text: a flow whose sealed
// form would be longer (a journey that put much in its shared state before its first
// question) is stored as any other, so what a client carries stays small.
const MaxSealedLen = 1024

// SealFirstStep asks Start to return a flow that stops at its first question sealed in
// Result.Sealed instead of storing it, for a door that hands it to the client and back
// (the REST door's authId). It changes nothing without Config.Sealer, for a flow that
// ends at once, or for one whose sealed form is over MaxSealedLen (it is then stored).
func SealFirstStep() StepOption { return func(o *stepOptions) { o.seal = true } }

// FromSealed tells Continue that the flow's step comes sealed (a Result.Sealed of
// Start): the engine opens it instead of reading the store.
func FromSealed(sealed string) StepOption { return func(o *stepOptions) { o.sealed = sealed } }

// sealedContext is the associated data a sealed flow is bound to: its id and realm, so a
// sealed step copied under another flow id or realm does not open.
func sealedContext(flowID, realm string) []byte {
	b := make([]byte, 0, len("arbor sealed flow\x00")+len(flowID)+1+len(realm))
	b = append(b, "arbor sealed flow\x00"...)
	b = append(b, flowID...)
	b = append(b, 0)
	return append(b, realm...)
}

// seal returns f sealed, or "" when it must be stored instead (no sealer, or too big).
// f is marked as begun sealed (Flow.Sealed) only when the sealed form is used.
func (e *Engine) seal(f *Flow) string {
	if e.cfg.Sealer == nil {
		return ""
	}
	f.Sealed = true
	s := e.cfg.Sealer.Seal(f.marshal(), sealedContext(f.ID, f.Realm))
	if len(s) > MaxSealedLen {
		f.Sealed = false
		return ""
	}
	return s
}

// unseal opens a sealed step of flow flowID in realm: ErrSealedInvalid for one that was
// altered, sealed under another key, or is bound to another flow id or realm;
// ErrFlowNotFound for one past its expiry.
func (e *Engine) unseal(flowID, realm, sealed string) (*Flow, time.Time, error) {
	if e.cfg.Sealer == nil {
		return nil, time.Time{}, fmt.Errorf("open sealed flow: %w (this server seals no flows)", ErrSealedInvalid)
	}
	pt, err := e.cfg.Sealer.Open(sealed, sealedContext(flowID, realm))
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("open sealed flow: %w", ErrSealedInvalid)
	}
	var f Flow
	if err := unmarshalFlow(pt, &f); err != nil || !f.Sealed || f.Done || f.Realm != realm {
		return nil, time.Time{}, fmt.Errorf("open sealed flow: %w", ErrSealedInvalid)
	}
	f.ID = flowID // rev stays 0: the flow is not in the store, its next write creates it
	now := e.cfg.Now()
	if now.UnixMilli() >= f.Expires {
		return nil, time.Time{}, ErrFlowNotFound
	}
	return &f, now, nil
}

// open returns the flow a Continue answers: opened from its sealed step when the door
// carries one, read from the store otherwise.
func (e *Engine) open(ctx context.Context, flowID, realm string, o stepOptions) (*Flow, time.Time, error) {
	if o.sealed != "" {
		return e.unseal(flowID, realm, o.sealed)
	}
	return e.load(ctx, flowID, realm)
}

// persist keeps a flow that waits for input: sealed into res when the door asked for it,
// it fits and its nodes left no writes behind (a sealed flow writes nothing they could
// ride with), in the store otherwise (saveBehind: a create-if-absent for a flow not yet
// stored, so of concurrent submissions of a sealed step only one goes on).
func (e *Engine) persist(ctx context.Context, f *Flow, ttl time.Duration, o stepOptions, res *Result, wb *nodes.WriteBehind) error {
	if o.seal && f.rev == 0 && !f.Sealed && !wb.Pending() {
		if s := e.seal(f); s != "" {
			res.Sealed = s
			return nil
		}
	}
	return e.saveBehind(ctx, f, ttl, wb)
}

// tombstoneTTL is how long f's tombstone lives: TombstoneTTL, or until the flow's own
// expiry for a flow that began sealed, whose sealed first step a client can replay until
// then (the tombstone is what refuses it).
func (e *Engine) tombstoneTTL(f *Flow) time.Duration {
	if f.Sealed {
		if left := f.ExpiresAt().Sub(e.cfg.Now()); left > e.cfg.TombstoneTTL {
			return left
		}
	}
	return e.cfg.TombstoneTTL
}
