package admin

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/arbor-auth/arbor/nodes"
)

// Stable error codes of the admin API; clients branch on them, never on messages.
const (
	CodeAuthRequired     = "auth.required"
	CodeForbidden        = "auth.forbidden"
	CodeStepUp           = "admin.step_up_required"
	CodeJourneyNotFound  = "journey.not_found"
	CodeUserNotFound     = "user.not_found"
	CodeJourneyExists    = "journey.exists"
	CodeUserExists       = "user.exists"
	CodeJourneyInUse     = "journey.in_use"
	CodeJourneyRequired  = "journey.required"
	CodeBuiltinEnabled   = "journey.builtin_enabled"
	CodeStale            = "journey.stale_version"
	CodeIfMatchRequired  = "journey.if_match_required"
	CodeJourneyInvalid   = "journey.invalid"
	CodeTooLarge         = "request.too_large"
	CodeContentType      = "request.content_type"
	CodeInvalid          = "request.invalid"
	CodeNotFound         = "request.not_found"
	CodeStoreUnavailable = "store.unavailable"
	CodePINInvalid       = "device.pin_invalid"
	CodeInternal         = "internal"
)

// Problem is one problem of an invalid journey, located by a JSON pointer into it.
type Problem struct {
	Pointer string `json:"pointer"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Error is an admin API error: an HTTP status and the JSON body
// {"code","message"[,"problems"][,"journey"]}.
type Error struct {
	Status   int       `json:"-"`
	Code     string    `json:"code"`
	Message  string    `json:"message"`
	Problems []Problem `json:"problems,omitempty"`
	// Journey is the step-up journey to go through (admin.step_up_required).
	Journey string `json:"journey,omitempty"`
}

// Error returns the message.
func (e *Error) Error() string { return e.Message }

func errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// invalidJourney is the 422 for a journey's problems.
func invalidJourney(ps nodes.Problems) *Error {
	e := errorf(http.StatusUnprocessableEntity, CodeJourneyInvalid, "The journey is invalid: %d problem(s); nothing was saved.", len(ps))
	e.Problems = make([]Problem, 0, len(ps))
	for _, p := range ps {
		e.Problems = append(e.Problems, Problem{Pointer: p.Pointer, Code: p.Code, Message: p.Message})
	}
	return e
}

// asError returns err as an *Error if it is one.
func asError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
