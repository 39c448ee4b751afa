package nodetest

import (
	"context"
	"sync"

	"github.com/arbor-auth/arbor/sessions"
)

// SessionEnder is the door core's nodes.SessionEnder over a real session manager, for
// node tests: it ends sessions exactly as the core does (the manager's EndAll) and
// records the reasons it was called with, so a test can check both effect and cause.
type SessionEnder struct {
	// M is the session manager whose sessions are ended.
	M *sessions.Manager

	mu      sync.Mutex
	reasons []string
}

// EndSessions ends every session of user in realm except keep and records reason.
func (e *SessionEnder) EndSessions(ctx context.Context, realm, user, keep, reason string) (int, error) {
	e.mu.Lock()
	e.reasons = append(e.reasons, reason)
	e.mu.Unlock()
	return e.M.EndAll(ctx, realm, user, keep)
}

// Reasons returns the reasons EndSessions was called with, in order.
func (e *SessionEnder) Reasons() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.reasons...)
}
