// Package nodes is the node SPI: the contract between a node type and the engine, the
// callbacks nodes exchange with clients, the registry of node types, and the reflection
// that turns one config declaration into a JSON Schema, palette docs and a decoder.
//
// # Lifecycle
//
// A node type is declared once with Register and a Spec. When a journey loads, the
// registry validates each node's config against the type's schema, decodes it (defaults
// first, then the author's JSON, strictly), calls the config's Validate method if it has
// one, and calls Spec.New once. The built Node then serves every flow of that journey
// version concurrently: it keeps no per-flow state in memory. Everything a flow needs
// between steps lives in Context.Shared; what must not be persisted (a password) lives
// in Context.Transient, which lasts for one HTTP request.
//
// # Steps
//
// On each visit the engine calls Process. A node either routes to one of its outcomes
// (Goto) or asks for input (Send). A node that asked for input is called again with the
// client's answers in Context.Callbacks. Nodes that wait (push wait, registration polling)
// send a PollingWaitCallback and are re-entered on each poll: the SPI needs nothing more.
// An error from Process never skips the node: the engine routes to the node's "failure"
// outcome where it has one, and otherwise fails the flow closed.
package nodes

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/devices"
	"github.com/arbor-auth/arbor/identity"
	"github.com/arbor-auth/arbor/keys"
	"github.com/arbor-auth/arbor/push"
	"github.com/arbor-auth/arbor/store"
)

// Node is a built node: one per node in a journey version, shared by every flow.
type Node interface {
	// Process runs the node for one flow and returns where to go or what to ask.
	Process(ctx *Context) (Action, error)
}

// Completer is implemented by nodes that act when a flow ends, whichever way (AM's
// LifecycleNode.onTreeComplete): retry_limit clears a count it saved on the user once
// the journey succeeds. The engine calls Complete on every node of the finished journey
// that implements it, after the flow is recorded as finished; ctx.NodeID is the node's
// id and ctx.Shared the flow's final state. An error is logged and changes nothing.
type Completer interface {
	Complete(ctx *Context, success bool) error
}

// NodeFunc adapts a function to Node.
type NodeFunc func(ctx *Context) (Action, error)

// Process calls f.
func (f NodeFunc) Process(ctx *Context) (Action, error) { return f(ctx) }

// Outcome is one named exit of a node.
type Outcome struct {
	// ID is the snake_case id journeys connect, for example "true" or "not_registered".
	ID string `json:"id"`
	// Label is the display name.
	Label string `json:"label"`
}

// Action is what a node decided: an outcome to follow, or callbacks to send.
type Action struct {
	// Outcome is set when the node is done.
	Outcome string
	// Callbacks are set when the node needs input; Outcome is then empty.
	Callbacks []Callback
	// Header, Description and Stage go with the callbacks (AM's page properties).
	Header, Description, Stage string
	// FailureMessage, when set, replaces "Login failure" if the flow ends in failure
	// after this node (for example "User Locked Out.").
	FailureMessage string
	// StepError, when set, says why the flow comes back to ask again (for example "That
	// recovery code is not valid."). The engine shows it on the next step it asks in the
	// same request, as a TextOutputCallback with messageType error before that step's own
	// callbacks (AM clients and the browser pages show it as an error); the messages of
	// several nodes of one walk are joined. A flow that ends instead ignores it.
	StepError string
}

// Goto returns an Action that follows outcome.
func Goto(outcome string) Action { return Action{Outcome: outcome} }

// Send returns an Action that asks for input.
func Send(cbs ...Callback) Action { return Action{Callbacks: cbs} }

// Request describes the HTTP request a step arrived on, door-neutral.
type Request struct {
	ClientIP  string
	UserAgent string
	// Locales are the client's preferred languages, best first (Accept-Language).
	Locales []string
	Header  http.Header
	// BaseURL is the public base URL of the server, without a trailing slash.
	BaseURL string
}

// Context is what a node sees of one flow during one visit.
type Context struct {
	// Ctx carries the request's deadline and cancellation.
	Ctx context.Context
	// FlowID identifies the flow (for logs and for binding push messages to it).
	FlowID string
	// Journey and NodeID name where the flow is; NodeID is the author's id, or
	// "page.child[i]" style ids inside a page.
	Journey, NodeID string
	// Realm is the realm the flow runs in ("/" or "/alpha").
	Realm string
	// Shared is persisted with the flow between steps.
	Shared State
	// Transient lives for this HTTP request only. Passwords live here.
	Transient State
	// Callbacks holds the client's answers to what this node sent, in the order sent; it
	// is nil when the node is entered afresh.
	Callbacks []Callback
	// Request describes the HTTP request.
	Request Request
	// Now is the step's clock reading; nodes use it, not time.Now, so tests control time.
	Now time.Time
	// Log carries the flow id and node id.
	Log *slog.Logger
	// WriteBehind takes writes a node may leave to the flow's next write (the guessing
	// defence's success record); nil outside the engine's walk, where a node writes at
	// once.
	WriteBehind *WriteBehind
	// ReadAhead is what the door wants read of the user whose secret a node checks, in
	// that check's batch (see CheckSecretWith); nil for none.
	ReadAhead *ReadAhead
}

// LocalKey returns a shared-state key private to this node, AM's "<nodeId>.<name>" in the
// reserved namespace: a journey author must not forge a node's private state (an inner
// journey's saved state could otherwise carry made-up factors into the outer flow).
func (c *Context) LocalKey(name string) string {
	return ReservedPrefix + "node." + c.NodeID + "." + name
}

// Username returns the username collected so far in the flow.
func (c *Context) Username() string { return c.Shared.String(KeyUsername) }

// Well-known shared-state keys, AM's names where AM has one.
const (
	KeyUsername = "username"
	KeyPassword = "password" // transient only
	KeyRealm    = "realm"
)

// State is a flow's key-value state. Values must survive a JSON round trip: numbers come
// back as float64, so read them with Int.
type State map[string]any

// String returns key as a string, or "".
func (s State) String(key string) string {
	v, _ := s[key].(string)
	return v
}

// Int returns key as an int, accepting any JSON number or numeric string.
func (s State) Int(key string) (int, bool) {
	switch v := s[key].(type) {
	case float64:
		return int(v), true
	case int:
		return v, true
	case int64:
		return int(v), true
	case string:
		n, err := strconv.Atoi(v)
		return n, err == nil
	}
	return 0, false
}

// Int64 returns key as an int64.
func (s State) Int64(key string) (int64, bool) {
	switch v := s[key].(type) {
	case float64:
		return int64(v), true
	case int:
		return int64(v), true
	case int64:
		return v, true
	case string:
		n, err := strconv.ParseInt(v, 10, 64)
		return n, err == nil
	}
	return 0, false
}

// Bool returns key as a bool.
func (s State) Bool(key string) bool {
	v, _ := s[key].(bool)
	return v
}

// Has reports whether key is set.
func (s State) Has(key string) bool {
	_, ok := s[key]
	return ok
}

// Deps are the services nodes are built with. A node takes what it needs in Spec.New
// and keeps the references; the engine builds Deps once at start.
type Deps struct {
	Store store.Store
	Users *identity.Store
	Keys  *keys.Ring
	Audit *audit.Logger
	Log   *slog.Logger
	// Journeys runs nested journeys for inner_journey; the engine provides it.
	Journeys InnerRunner
	// Guard throttles guessing of the secrets nodes check (see Guard). Nil means no
	// throttling, which only tests of a single node use.
	Guard Guard
	// Devices is the registry of users' MFA devices (the mfa family). Nil when the
	// app runs without push, or in offline validation: nodes that need it fail closed.
	Devices *devices.Registry
	// Push sends and verifies push notifications (the mfa family). Nil as Devices.
	Push *push.Service
	// Sessions ends a user's sessions when what they were earned with changes (an
	// account locked, a device registered, an opt-out); the door core provides it. Nil
	// only in tests of a single node and in offline validation, where no session exists.
	Sessions SessionEnder
}

// SessionEnder ends a user's sessions when how they were earned no longer holds: the
// account was locked or disabled, a password or a factor changed. The door core
// implements it, so that nodes reach it through this typed dependency, not a door import.
type SessionEnder interface {
	// EndSessions ends every session of user in realm except the one whose handle is
	// keep (empty keeps none), audits it with reason, and returns how many it ended.
	EndSessions(ctx context.Context, realm, user, keep, reason string) (int, error)
}

// InnerRunner runs a journey nested inside another flow's step.
type InnerRunner interface {
	// RunInner advances the journey named name for the flow in ctx, keeping its state
	// under stateKey in ctx.Shared. It returns callbacks while the inner journey needs
	// input, and the outcome "true" or "false" when it ends.
	RunInner(ctx *Context, name, stateKey string) (Action, error)
}
