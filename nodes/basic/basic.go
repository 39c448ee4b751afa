// Package basic is Arbor's basic node family: the collectors (username, password,
// message, choice), the page that shows several of them at once, the decisions that do
// not need a second factor (data store, retry limit, scripted), and the utilities
// (account lockout, set state, inner journey).
//
// Each node type lives in its own file with its single config declaration, and Register
// calls each file's register function by name: registration is explicit, so what a
// registry holds is read in one place, and a file whose function is not called is
// reported as unused by staticcheck. Behaviour follows ForgeRock AM's standard nodes;
// each type's Description (shown in the palette) says where it differs.
package basic

import (
	"errors"
	"fmt"
	"strings"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/identity"
	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/store"
)

// Register adds every basic node type to r.
func Register(r *nodes.Registry) {
	registerAccountLockout(r)
	registerChoice(r)
	registerDataStoreDecision(r)
	registerIncrementLoginCount(r)
	registerInnerJourney(r)
	registerMessage(r)
	registerPage(r)
	registerPassword(r)
	registerRetryLimit(r)
	registerScriptedDecision(r)
	registerSetState(r)
	registerUsername(r)
}

// Palette categories of the basic family.
const (
	categoryBasic    = "basic"
	categoryDecision = "decision"
	categoryUtility  = "utility"
)

// Outcomes shared by several node types.
var (
	singleOutcome   = []nodes.Outcome{{ID: "outcome", Label: "Outcome"}}
	decisionOutcome = []nodes.Outcome{{ID: "true", Label: "True"}, {ID: "false", Label: "False"}}
)

// The Build's Deps may be nil when a journey is only being validated (an admin checking
// a draft), so nodes pick their services up nil-safely and complain when they run.

func usersOf(b *nodes.Build) *identity.Store {
	if b.Deps == nil {
		return nil
	}
	return b.Users
}

// sessionsOf returns what ends a user's sessions, nil in single-node tests and offline
// validation (no session exists there).
func sessionsOf(b *nodes.Build) nodes.SessionEnder {
	if b.Deps == nil {
		return nil
	}
	return b.Sessions
}

func storeOf(b *nodes.Build) store.Store {
	if b.Deps == nil {
		return nil
	}
	return b.Store
}

func auditOf(b *nodes.Build) *audit.Logger {
	if b.Deps == nil {
		return nil
	}
	return b.Audit
}

func innerOf(b *nodes.Build) nodes.InnerRunner {
	if b.Deps == nil {
		return nil
	}
	return b.Journeys
}

// errNoUsers is returned at run time by nodes built without an identity store: failing
// the flow closed is the only safe answer.
func errNoUsers(typ string) error {
	return fmt.Errorf("%s: no identity store configured", typ)
}

// checkStateKey rejects shared-state keys a journey author may not write: the password
// must never reach shared state (it is persisted), keys starting with "_" are reserved
// for the engine, and the "arbor." namespace (verified factors, node-local state) is
// written only by nodes, so a journey cannot claim a factor nobody verified. The problem
// has no pointer: the caller knows where the key sits.
func checkStateKey(key string) *nodes.Problem {
	bad := func(format string, a ...any) *nodes.Problem {
		return &nodes.Problem{Code: nodes.CodeReservedKey, Message: fmt.Sprintf(format, a...)}
	}
	switch {
	case key == "":
		return &nodes.Problem{Code: nodes.CodeBadConfig, Message: "the state key must not be empty"}
	case key == nodes.KeyPassword:
		return bad("the state key %q is not allowed: passwords never go to shared state", key)
	case strings.HasPrefix(key, "_"):
		return bad("the state key %q is not allowed: keys starting with \"_\" are reserved", key)
	case nodes.Reserved(key):
		return bad("the state key %q is not allowed: keys starting with %q are written only by nodes (%q is the exception)", key, nodes.ReservedPrefix, nodes.KeyRemember)
	}
	return nil
}

// errReservedKey is the run-time twin of checkStateKey, for a journey stored before a
// key became reserved: the flow fails closed rather than write it.
func errReservedKey(typ, key string) error {
	if p := checkStateKey(key); p != nil {
		return fmt.Errorf("%s: %s", typ, p.Message)
	}
	return nil
}

// checkOutcomeIDs checks a list of author-chosen outcome ids (choices, script outcomes):
// each snake_case and none twice. Pointers are relative to the config (the registry
// prefixes the node's pointer).
func checkOutcomeIDs(field string, ids []string) nodes.Problems {
	var ps nodes.Problems
	seen := map[string]bool{}
	for i, id := range ids {
		ptr := fmt.Sprintf("/%s/%d", field, i)
		switch {
		case !nodes.IsSnake(id):
			ps = append(ps, nodes.Problem{Pointer: ptr, Code: nodes.CodeBadName, Message: fmt.Sprintf("%q is not a snake_case id", id)})
		case seen[id]:
			ps = append(ps, nodes.Problem{Pointer: ptr, Code: nodes.CodeBadConfig, Message: fmt.Sprintf("%q appears more than once", id)})
		}
		seen[id] = true
	}
	return ps
}

// pointerToken escapes s for use as one JSON pointer token (RFC 6901).
func pointerToken(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// deepCopy copies the JSON-shaped value v so that whoever receives the copy cannot
// change the original through shared maps or slices.
func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[k] = deepCopy(e)
		}
		return m
	case nodes.State:
		return deepCopy(map[string]any(t))
	case []any:
		s := make([]any, len(t))
		for i, e := range t {
			s[i] = deepCopy(e)
		}
		return s
	case []string:
		return append([]string(nil), t...)
	case []int:
		return append([]int(nil), t...)
	case map[string]string:
		m := make(map[string]string, len(t))
		for k, e := range t {
			m[k] = e
		}
		return m
	}
	return v
}

// number reads a JSON-shaped number, as values come back from the store as float64.
func number(v any) (int, bool) {
	switch n := v.(type) {
	case float64:
		return int(n), n == float64(int(n))
	case int:
		return n, true
	case int64:
		return int(n), true
	}
	return 0, false
}

// asProblems reports whether err holds Problems, and stores them in ps.
func asProblems(err error, ps *nodes.Problems) bool { return errors.As(err, ps) }
