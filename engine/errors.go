package engine

import (
	"errors"
	"fmt"
)

// Errors callers branch on. The REST door maps them to AM's error bodies.
var (
	// ErrFlowNotFound: the flow is unknown, expired or already finished (AM 110).
	ErrFlowNotFound = errors.New("flow not found or expired")
	// ErrJourneyNotFound: no journey by that name.
	ErrJourneyNotFound = errors.New("journey not found")
	// ErrStepConflict: another submission of the same step won the race.
	ErrStepConflict = errors.New("this step was already submitted")
	// ErrRealmMismatch: the step arrived on another realm than the flow runs in.
	ErrRealmMismatch = errors.New("the flow belongs to another realm")
	// ErrSealedInvalid: a sealed step (FromSealed) that does not open: altered, sealed
	// under another key, or bound to another flow id or realm. Nothing is changed.
	ErrSealedInvalid = errors.New("the sealed flow state is not valid")
)

// InputError reports callbacks that do not answer what was sent: wrong count, wrong type
// at a position, or a malformed input. Nothing is changed.
type InputError struct {
	Msg string
}

// Error returns the message.
func (e *InputError) Error() string { return e.Msg }

func inputErrorf(format string, args ...any) error {
	return &InputError{Msg: fmt.Sprintf(format, args...)}
}
