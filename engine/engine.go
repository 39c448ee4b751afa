// Package engine walks journeys. A flow advances one HTTP step at a time: the engine
// loads the flow (one store read), runs nodes from the one waiting for input, following
// outcomes within the request until a node asks for input or a terminal is reached, and
// saves the flow with a compare-and-swap on its revision (one conditional write). Two
// concurrent submissions of one step therefore cannot both advance it, and any instance
// sharing the store can serve any step. Writes the nodes of a step leave behind
// (nodes.WriteBehind: the guessing defence's record of a right secret) ride in the batch
// of that conditional write, whether it wins or loses (saveBehind, finish).
//
// Limits: transitions per request (MaxTransitions) and node visits per flow (MaxSteps)
// are bounded, inner journeys' visits included, so nesting cannot multiply them; a walk
// stops when its request's context ends; and a flow expires with its journey's timeout. A node error never skips
// the node: the flow goes to the node's "failure" outcome if it has one, and otherwise
// fails closed. A store outage is returned as an error wrapping store.ErrUnavailable and
// leaves the flow as it was, so the client can retry the step.
//
// Sealed first steps: a door whose client carries an opaque token from step to step (the
// REST door's authId) may ask Start for the flow sealed instead of stored
// (SealFirstStep): the flow, as it would be stored, is encrypted and authenticated with
// Config.Sealer (AES-256-GCM, bound to the flow id and realm as associated data, so
// shared state written before the first question, secrets included, never travels in
// clear) and returned in Result.Sealed, and the start writes nothing. Its first Continue
// opens it (FromSealed) instead of reading the store. A sealed step that does not open
// is ErrSealedInvalid; one past the flow's expiry is ErrFlowNotFound. Exactly-once holds
// through the flow's first write, which for such a flow is a create-if-absent (CAS at
// revision 0): if the step asks again, the flow is stored that way, and if it ends, its
// tombstone is, in the success commit's batch; of concurrent submissions of one sealed
// step only one creates the key, and the others get ErrStepConflict (their commits are
// undone as for any lost race). The price: a sealed step stays valid until the flow
// expires, so the tombstone of a flow that began sealed (Flow.Sealed) lives until then
// rather than TombstoneTTL, and a replay of a finished sealed step runs its nodes again
// before its write is refused (409, not AM's 401: telling a replay from a lost race would
// cost the read this saves). A flow whose sealed form is over MaxSealedLen is stored as
// before. Doors that name a flow without carrying its step (the web pages, RADIUS, the
// FortiGate- and LinOTP-style doors, OIDC, Pending) never ask for it.
package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/journeys"
	"github.com/arbor-auth/arbor/keys"
	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/store"
)

// Config tunes the engine.
type Config struct {
	// MaxTransitions bounds node visits within one request (default 64), counting the
	// visits of inner journeys at every depth.
	MaxTransitions int
	// MaxSteps bounds node visits over a flow's life (default 1000), inner journeys'
	// included.
	MaxSteps int
	// MaxInnerDepth bounds nesting of inner journeys (default 8).
	MaxInnerDepth int
	// TombstoneTTL is how long a finished flow is remembered so a replay of its last
	// step is refused (default 1 minute).
	TombstoneTTL time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Sealer seals the first step of flows whose door carries it (SealFirstStep); nil
	// stores every flow.
	Sealer *keys.Sealer
	// Trace, when set, is told of every node a flow visits and every outcome it
	// follows, synchronously: the journey test runner measures coverage with it. It
	// must be quick and safe for concurrent use.
	Trace func(TraceEvent)
}

// TraceEvent is one node visit (Outcome empty) or one outcome followed.
type TraceEvent struct {
	// Journey and Version name the journey the node belongs to (an inner journey's
	// own name inside it).
	Journey string
	Version int
	// Node is the node id, Outcome the outcome followed.
	Node, Outcome string
}

// trace reports ev to Config.Trace, if set.
func (e *Engine) trace(c *journeys.Compiled, node, outcome string) {
	if e.cfg.Trace != nil {
		e.cfg.Trace(TraceEvent{Journey: c.Journey.Name, Version: c.Version, Node: node, Outcome: outcome})
	}
}

// Engine runs journeys from a repository over a store.
type Engine struct {
	cfg     Config
	st      store.Store
	repo    *journeys.Repo
	audit   *audit.Logger
	log     *slog.Logger
	metrics *Metrics
}

// New returns an Engine. It also sets deps.Journeys so inner_journey nodes can run
// nested journeys through it; call it before compiling journeys that use them.
func New(cfg Config, st store.Store, repo *journeys.Repo, deps *nodes.Deps, m *Metrics) *Engine {
	if cfg.MaxTransitions <= 0 {
		cfg.MaxTransitions = 64
	}
	if cfg.MaxSteps <= 0 {
		cfg.MaxSteps = 1000
	}
	if cfg.MaxInnerDepth <= 0 {
		cfg.MaxInnerDepth = 8
	}
	if cfg.TombstoneTTL <= 0 {
		cfg.TombstoneTTL = time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := slog.Default()
	var au *audit.Logger
	if deps != nil {
		if deps.Log != nil {
			log = deps.Log
		}
		au = deps.Audit
	}
	e := &Engine{cfg: cfg, st: st, repo: repo, audit: au, log: lazyLogger(log), metrics: m}
	if deps != nil {
		deps.Journeys = e
	}
	return e
}

// Status is where a step left the flow.
type Status int

// Step results.
const (
	NeedInput Status = iota
	Succeeded
	Failed
)

// Result is the outcome of one step.
type Result struct {
	Status Status
	// FlowID identifies the flow (while it needs input).
	FlowID string
	// Journey and Realm the flow runs in.
	Journey, Realm string
	// Callbacks, Header, Description and Stage are what to ask (NeedInput).
	Callbacks                  []nodes.Callback
	Header, Description, Stage string
	// Expires is when the flow times out.
	Expires time.Time
	// Username is who the flow identified (on success, the user to create a session for).
	Username string
	// FailureMessage replaces the default failure message when set.
	FailureMessage string
	// Shared is the flow's final shared state (on success and failure), for success
	// details and session properties.
	Shared nodes.State
	// Sealed is the flow sealed (NeedInput, with SealFirstStep): it is not in the store,
	// and the door hands it back with FromSealed to continue it.
	Sealed string
}

// SuccessHook runs when a flow succeeds, before the engine records the flow as
// finished. A door prepares its session here and returns its writes as a Commit, which
// the engine sends in one store batch with the flow's final write, last, so that a
// login's session, its index entry and the flow's end cost one round trip (on a store
// that does not apply a batch in order, a Redis Cluster, the commit goes first on its
// own: see store.BatchesInOrder). If the hook fails
// (the store is down), the flow is left exactly as it was and the same step can be
// retried, so a success is never lost. If the engine then cannot record the finish (a
// store error, or a concurrent submission of the same step won), it calls the Commit's
// Undo so no second session survives. A nil Commit adds nothing.
type SuccessHook func(ctx context.Context, res *Result) (*Commit, error)

// Commit is what a success hook adds to the write that finishes its flow.
type Commit struct {
	// Ops are sent in one store batch (store.Do) before the flow's final conditional
	// write; they must not touch the flow's key. Each runs whatever the flow's write
	// does: a lost race is undone through Undo, not prevented.
	Ops []store.Op
	// Finish, if set, runs after the batch when the flow's write won, with Ops and their
	// results (same order). An error from it fails the step after all: Undo runs and
	// the error is returned, with the flow already finished (the client starts again).
	Finish func(ctx context.Context, ops []store.Op) error
	// Undo, if set, takes back what Ops wrote: it runs when the flow's write lost, when
	// the batch failed (which ops took effect is then unknown), or when Finish failed.
	Undo func()
}

// undo runs c's Undo, if any.
func (c *Commit) undo() {
	if c != nil && c.Undo != nil {
		c.Undo()
	}
}

// StepOption changes one Start or Continue call.
type StepOption func(*stepOptions)

type stepOptions struct {
	onSuccess SuccessHook
	readAhead *nodes.ReadAhead
	// seal and sealed: see SealFirstStep and FromSealed.
	seal   bool
	sealed string
}

// OnSuccess runs h when the step ends the flow in success (see SuccessHook).
func OnSuccess(h SuccessHook) StepOption { return func(o *stepOptions) { o.onSuccess = h } }

// ReadAhead gives the step's nodes ra (nodes.Context.ReadAhead): what the door wants
// read of a user whose secret a node checks, in that check's store batch.
func ReadAhead(ra *nodes.ReadAhead) StepOption { return func(o *stepOptions) { o.readAhead = ra } }

// Options is one StepOption made of several, applied in order.
func Options(opts ...StepOption) StepOption {
	return func(o *stepOptions) {
		for _, f := range opts {
			f(o)
		}
	}
}

func collect(opts []StepOption) stepOptions {
	var o stepOptions
	for _, f := range opts {
		f(&o)
	}
	return o
}

// StartRequest starts a flow.
type StartRequest struct {
	Journey string
	Realm   string
	Request nodes.Request
}

// Start begins a flow of the current version of a journey and runs it to its first
// question or to its end. It reads the journey's head (one store read, at most once per
// head TTL; see journeys.Repo) and creates the flow (one conditional write) only if the
// flow needs input, and then not with SealFirstStep, which returns it sealed instead. A
// journey disabled in the store gives an error wrapping journeys.ErrDisabled.
func (e *Engine) Start(ctx context.Context, sr StartRequest, opts ...StepOption) (*Result, error) {
	c, err := e.repo.StartHead(ctx, sr.Journey)
	if errors.Is(err, journeys.ErrNotFound) {
		return nil, fmt.Errorf("start %q: %w", sr.Journey, ErrJourneyNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("start %q: %w", sr.Journey, err)
	}
	now := e.cfg.Now()
	f := &Flow{
		ID: newFlowID(), Journey: c.Journey.Name, Version: c.Version, Realm: sr.Realm,
		Node: c.Journey.Start, Shared: nodes.State{nodes.KeyRealm: sr.Realm},
		Started: now.UnixMilli(), Expires: now.Add(c.Timeout).UnixMilli(),
	}
	return e.advance(ctx, c, f, nil, sr.Request, now, collect(opts))
}

// Continue submits answers to the step flowID is waiting on. submitted must match what
// was sent: the same count and, position by position, the same types.
func (e *Engine) Continue(ctx context.Context, flowID, realm string, submitted []nodes.Callback, req nodes.Request, opts ...StepOption) (*Result, error) {
	o := collect(opts)
	f, now, err := e.open(ctx, flowID, realm, o)
	if err != nil {
		return nil, err
	}
	answers, err := match(f.Pending, submitted)
	if err != nil {
		return nil, err
	}
	if f.Lead > 0 && f.Lead <= len(answers) {
		answers = answers[f.Lead:] // the step error the engine added, not the node's
	}
	c, err := e.repo.Get(ctx, f.Journey, f.Version)
	if err != nil {
		return nil, fmt.Errorf("flow %s: %w", flowID, err)
	}
	return e.advance(ctx, c, f, answers, req, now, o)
}

// Pending returns what the flow waits on: each callback's type and input names, in
// order (no outputs). It is for a door that names a flow across requests without
// carrying its step, and answers it with the inputs' defaults where the client gives
// nothing (the FortiGate-style door, whose one key serves the whole login). One store
// read; ErrFlowNotFound for a flow that is over or expired, ErrRealmMismatch for
// another realm's.
func (e *Engine) Pending(ctx context.Context, flowID, realm string) ([]Pending, error) {
	f, _, err := e.load(ctx, flowID, realm)
	if err != nil {
		return nil, err
	}
	return f.Pending, nil
}

// load reads a flow that is waiting for input in realm (any realm if empty).
func (e *Engine) load(ctx context.Context, flowID, realm string) (*Flow, time.Time, error) {
	it, err := e.st.Get(ctx, flowKey(flowID))
	if errors.Is(err, store.ErrNotFound) {
		return nil, time.Time{}, ErrFlowNotFound
	}
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("load flow: %w", err)
	}
	var f Flow
	if err := unmarshalFlow(it.Value, &f); err != nil {
		return nil, time.Time{}, fmt.Errorf("load flow: corrupt state: %w", err)
	}
	f.ID, f.rev = flowID, it.Rev
	now := e.cfg.Now()
	if f.Done || now.UnixMilli() >= f.Expires {
		return nil, time.Time{}, ErrFlowNotFound
	}
	if realm != "" && realm != f.Realm {
		return nil, time.Time{}, ErrRealmMismatch
	}
	return &f, now, nil
}

// match checks the client's callbacks against what was sent and returns them rebuilt
// from the sent types with only the client's inputs, so nodes never see client-supplied
// outputs.
func match(pending []Pending, submitted []nodes.Callback) ([]nodes.Callback, error) {
	if len(submitted) != len(pending) {
		return nil, inputErrorf("Incorrect number of callbacks found in JSON response: sent %d, received %d", len(pending), len(submitted))
	}
	out := make([]nodes.Callback, len(pending))
	for i, p := range pending {
		s := submitted[i]
		if s.Type != p.Type {
			return nil, inputErrorf("Required callback not found in JSON response: callback %d must be %s, not %q", i+1, p.Type, s.Type)
		}
		cb := nodes.Callback{Type: p.Type}
		for _, name := range p.Inputs {
			var v any
			found := false
			for _, in := range s.Input {
				if in.Name == name {
					v, found = in.Value, true
					break
				}
			}
			if !found {
				label := "its input"
				if name != "" {
					label = "input " + name
				}
				return nil, inputErrorf("callback %d (%s) is missing %s", i+1, p.Type, label)
			}
			switch v.(type) {
			case string, float64, bool, nil, json.Number:
			default:
				return nil, inputErrorf("callback %d (%s) input must be a string, number or boolean", i+1, p.Type)
			}
			cb.Input = append(cb.Input, nodes.Field{Name: name, Value: v})
		}
		out[i] = cb
	}
	return out, nil
}

// advance runs f from its current node and persists the result.
func (e *Engine) advance(ctx context.Context, c *journeys.Compiled, f *Flow, answers []nodes.Callback, req nodes.Request, now time.Time, o stepOptions) (*Result, error) {
	started := time.Now()
	log := withAttrs(e.log, slog.String("flow_id", f.ID), slog.String("journey", f.Journey), slog.Int("version", f.Version))
	transient := nodes.State{}
	w := walker{e: e, c: c, flowID: f.ID, realm: f.Realm, req: req, now: now, log: log, ctx: ctx,
		behind: nodes.NewWriteBehind(e.st), ahead: o.readAhead}
	out, err := w.run(&f.Node, f.Shared, answers, transient, &budget{flowSteps: &f.Steps}, 0)
	if err != nil {
		e.metrics.step(f.Journey, "error", time.Since(started))
		return nil, err
	}
	res := &Result{FlowID: f.ID, Journey: f.Journey, Realm: f.Realm, Expires: f.ExpiresAt(), Shared: f.Shared}
	switch {
	case out.terminal == "":
		if out.stepError != "" {
			out.action.Callbacks = append([]nodes.Callback{nodes.TextOutputCallback(out.stepError, nodes.MessageError)}, out.action.Callbacks...)
			f.Lead = 1
		} else {
			f.Lead = 0
		}
		f.Pending = pendingOf(out.action.Callbacks)
		ttl := f.ExpiresAt().Sub(now)
		if ttl <= 0 {
			return nil, ErrFlowNotFound
		}
		if err := e.persist(ctx, f, ttl, o, res, w.behind); err != nil {
			return nil, err
		}
		res.Status = NeedInput
		res.Callbacks = out.action.Callbacks
		res.Header, res.Description, res.Stage = out.action.Header, out.action.Description, out.action.Stage
		e.metrics.step(f.Journey, "input", time.Since(started))
		return res, nil
	default:
		res.Username = f.Shared.String(nodes.KeyUsername)
		res.FailureMessage = out.failureMessage
		var commit *Commit
		if out.terminal == journeys.Success && o.onSuccess != nil {
			cm, err := o.onSuccess(ctx, res)
			if err != nil {
				e.metrics.step(f.Journey, "error", time.Since(started))
				return nil, err
			}
			commit = cm
		}
		if err := e.finish(ctx, f, commit, w.behind); err != nil {
			e.metrics.step(f.Journey, "error", time.Since(started))
			return nil, err
		}
		e.complete(ctx, c, f, req, now, out.terminal == journeys.Success, log)
		ev := audit.Event{Realm: f.Realm, User: res.Username, Journey: f.Journey, FlowID: f.ID, Client: req.ClientIP, Node: out.lastNode}
		if out.terminal == journeys.Success {
			res.Status = Succeeded
			ev.Type = audit.LoginSuccess
			e.metrics.step(f.Journey, "success", time.Since(started))
		} else {
			res.Status = Failed
			ev.Type = audit.LoginFailure
			ev.Reason = out.reason
			e.metrics.step(f.Journey, "failure", time.Since(started))
		}
		e.audit.Emit(ctx, ev)
		if log.Enabled(ctx, slog.LevelInfo) {
			log.Info("flow finished", "result", ev.Type, "reason", ev.Reason, "user", audit.TruncateUser(res.Username))
		}
		return res, nil
	}
}

// complete tells the journey's nodes that act on a flow's end (nodes.Completer) how it
// ended. Their errors are logged: the flow is already finished either way.
func (e *Engine) complete(ctx context.Context, c *journeys.Compiled, f *Flow, req nodes.Request, now time.Time, success bool, log *slog.Logger) {
	for id, st := range c.Steps {
		cm, ok := st.Node.(nodes.Completer)
		if !ok {
			continue
		}
		nctx := &nodes.Context{Ctx: ctx, FlowID: f.ID, Journey: f.Journey, NodeID: id, Realm: f.Realm,
			Shared: f.Shared, Transient: nodes.State{}, Request: req, Now: now, Log: log}
		if err := cm.Complete(nctx, success); err != nil {
			log.Warn("node could not act on the end of the flow", "node", id, "err", err)
		}
	}
}

// finish records f as finished and writes the success hook's commit (nil: none) and
// the writes the walk left behind (wb, see saveBehind) in the same batch where the
// store applies batches in order (before it otherwise): the flow is replaced by a
// tombstone with a conditional write, so of two concurrent final submissions only one
// finishes it, and the loser's commit is undone. The left-behind writes are written
// whether the flow's write wins or not (nodes.WriteBehind), and are not undone. A flow
// that was never stored (a Start that ended at once) writes only the commit and the
// left-behind writes; one that began sealed and was not stored yet gets its tombstone
// with a create-if-absent write, so the same exactly-once holds for its sealed step.
func (e *Engine) finish(ctx context.Context, f *Flow, commit *Commit, wb *nodes.WriteBehind) error {
	if err := e.finishWrite(ctx, f, commit, wb); err != nil {
		commit.undo()
		return err
	}
	if commit != nil && commit.Finish != nil {
		if err := commit.Finish(ctx, commit.Ops); err != nil {
			commit.undo()
			return err
		}
	}
	return nil
}

// finishWrite is finish's write: the tombstone alone with CAS, or after the commit's
// ops and the left-behind writes, in their batch or after it, with the commit's results
// recorded in commit.Ops (an Undo and Finish read them).
//
// The batch is built once, in one buffer: the left-behind writes' own slice, which a
// caller may append to (nodes.WriteBehind.Ops) and which the guessing defence sizes for
// this, then the commit's ops, then the flow's write. Merging the two into a new
// commit and then clipping it for the flow's write copied the batch twice, about
// 250 bytes an op and 9 ops on a password login: 4.4 KB a login.
func (e *Engine) finishWrite(ctx context.Context, f *Flow, commit *Commit, wb *nodes.WriteBehind) error {
	var own []store.Op
	if commit != nil {
		own = commit.Ops
	}
	ops := wb.Ops()
	behind := len(ops)
	recorded := f.rev > 0 || f.Sealed // a client can submit its step again
	if !recorded && len(own)+behind == 0 {
		return nil
	}
	tomb := &Flow{ID: f.ID, rev: f.rev, Done: true, Expires: f.Expires}
	ttl := e.tombstoneTTL(f)
	if len(own)+behind == 0 {
		return e.save(ctx, tomb, ttl)
	}
	ops = append(slices.Grow(ops, len(own)+1), own...)
	n := len(ops)
	if recorded && !store.BatchesInOrder(e.st) {
		// On a store that may apply the flow's write while an op before it fails (a
		// Redis Cluster: each node its share), the commit goes first, as a batch of its
		// own, so that a failure leaves the flow unfinished and the step retryable.
		err := store.Do(ctx, e.st, ops)
		copy(own, ops[behind:n])
		if err != nil {
			e.metrics.storeError()
			return fmt.Errorf("save flow: %w", err)
		}
		return e.save(ctx, tomb, ttl)
	}
	// The flow's write goes last: where a batch is applied in order, if it took effect
	// so did the commit.
	if recorded {
		ops = append(ops, store.CASOp(flowKey(f.ID), tomb.marshal(), f.rev, ttl))
	}
	err := store.Do(ctx, e.st, ops)
	copy(own, ops[behind:n]) // their results, for Finish and Undo
	if err != nil {
		e.metrics.storeError()
		return fmt.Errorf("save flow: %w", err)
	}
	if !recorded {
		return nil
	}
	switch err := ops[n].Err; {
	case errors.Is(err, store.ErrConflict):
		return ErrStepConflict
	case err != nil:
		return fmt.Errorf("save flow: %w", err)
	}
	return nil
}

// saveBehind is save with the writes the walk left behind (nodes.WriteBehind) in the
// same batch, before the flow's write, so that they cost no round trip of their own.
// They are written whether the flow's write wins or loses the race (their writer
// deferred only writes that are right either way: nodes.WriteBehind); when the batch
// fails, the step fails as save's would, and which of them took effect is unknown. On
// a store that does not apply a batch in order (a Redis Cluster) they follow the flow's
// write, once it is decided, in a batch of their own whose failure is ignored: the
// step's outcome must not depend on them.
func (e *Engine) saveBehind(ctx context.Context, f *Flow, ttl time.Duration, wb *nodes.WriteBehind) error {
	if !wb.Pending() {
		return e.save(ctx, f, ttl)
	}
	if !store.BatchesInOrder(e.st) {
		err := e.save(ctx, f, ttl)
		if err == nil || errors.Is(err, ErrStepConflict) {
			_ = wb.Flush(ctx)
		}
		return err
	}
	ops := wb.Ops()
	n := len(ops)
	ops = append(ops, store.CASOp(flowKey(f.ID), f.marshal(), f.rev, ttl))
	if err := store.Do(ctx, e.st, ops); err != nil {
		e.metrics.storeError()
		return fmt.Errorf("save flow: %w", err)
	}
	if errors.Is(ops[n].Err, store.ErrConflict) {
		return ErrStepConflict
	}
	f.rev = ops[n].Rev
	return nil
}

func (e *Engine) save(ctx context.Context, f *Flow, ttl time.Duration) error {
	rev, err := e.st.CAS(ctx, flowKey(f.ID), f.marshal(), f.rev, ttl)
	if errors.Is(err, store.ErrConflict) {
		return ErrStepConflict
	}
	if err != nil {
		e.metrics.storeError()
		return fmt.Errorf("save flow: %w", err)
	}
	f.rev = rev
	return nil
}

// outcome of a walk: either an action with callbacks, or a terminal.
type walkOut struct {
	action nodes.Action
	// stepError is why the flow asks again (the nodes' StepError messages, joined).
	stepError      string
	terminal       string
	failureMessage string
	reason         string
	lastNode       string
}

type walker struct {
	e      *Engine
	c      *journeys.Compiled
	ctx    context.Context
	flowID string
	realm  string
	req    nodes.Request
	now    time.Time
	log    *slog.Logger
	// behind collects the writes nodes leave to the flow's next write, ahead is the
	// door's read-ahead: one of each per request, shared with inner journeys.
	behind *nodes.WriteBehind
	ahead  *nodes.ReadAhead
}

// budget counts the node visits of one request against the engine's limits. One
// budget serves the flow's walker and every inner journey it runs, at any depth, so
// nesting cannot multiply the limits (64 visits each of 8 nested levels would be 64^8).
type budget struct {
	// flowSteps is the flow's persisted visit count (Flow.Steps), bounded by MaxSteps.
	flowSteps *int
	// request counts this request's visits, bounded by MaxTransitions.
	request int
}

// run walks from *node until input is needed or a terminal is reached, updating *node
// and shared in place. Every visit, here and in inner journeys, is charged to b. depth
// counts inner-journey nesting.
func (w *walker) run(node *string, shared nodes.State, answers []nodes.Callback, transient nodes.State, b *budget, depth int) (walkOut, error) {
	var failureMsg string
	var stepErrs []string
	dctx := withWalk(w.ctx, walkState{depth: depth, budget: b}) // what nodes see as their context: the same for every visit
	for {
		id := *node
		if id == journeys.Success || id == journeys.Failure {
			return walkOut{terminal: id, failureMessage: failureMsg, reason: "failure node reached", lastNode: id}, nil
		}
		if err := w.ctx.Err(); err != nil {
			// The client went away or the request timed out: stop walking; nothing is saved.
			return walkOut{}, fmt.Errorf("walk stopped at node %q: %w", id, err)
		}
		b.request++
		if b.request > w.e.cfg.MaxTransitions {
			w.log.Error("too many transitions in one request; failing closed", "node", id)
			return walkOut{terminal: journeys.Failure, reason: "transition limit", lastNode: id}, nil
		}
		*b.flowSteps++
		if *b.flowSteps > w.e.cfg.MaxSteps {
			w.log.Error("flow exceeded its step limit; failing closed", "node", id)
			return walkOut{terminal: journeys.Failure, reason: "step limit", lastNode: id}, nil
		}
		step, ok := w.c.Steps[id]
		if !ok {
			return walkOut{}, fmt.Errorf("journey %q version %d has no node %q", w.c.Journey.Name, w.c.Version, id)
		}
		nctx := w.visitContext(id, step.Type)
		*nctx = nodes.Context{
			Ctx: dctx, FlowID: w.flowID, Journey: w.c.Journey.Name, NodeID: id, Realm: w.realm,
			Shared: shared, Transient: transient, Callbacks: answers, Request: w.req, Now: w.now,
			Log: nctx.Log, WriteBehind: w.behind, ReadAhead: w.ahead,
		}
		answers = nil
		w.e.trace(w.c, id, "")
		act, err := step.Node.Process(nctx)
		if err != nil {
			if errors.Is(err, store.ErrUnavailable) {
				// Nothing is saved: the flow stays at its last step and the client may retry.
				w.e.metrics.storeError()
				return walkOut{}, fmt.Errorf("node %q: %w", id, err)
			}
			w.e.audit.Emit(w.ctx, audit.Event{Type: audit.JourneyNodeFailed, Realm: w.realm, Journey: w.c.Journey.Name, FlowID: w.flowID, Node: id, Reason: err.Error()})
			nctx.Log.Error("node failed", "err", err)
			if next, ok := step.Next["failure"]; ok {
				w.e.metrics.outcome(w.c.Journey.Name, step.Type, "failure")
				w.e.trace(w.c, id, "failure")
				*node = next
				continue
			}
			return walkOut{terminal: journeys.Failure, reason: "node error in " + id, lastNode: id}, nil
		}
		if act.FailureMessage != "" {
			failureMsg = act.FailureMessage
		}
		if act.StepError != "" {
			stepErrs = append(stepErrs, act.StepError)
		}
		if len(act.Callbacks) > 0 {
			return walkOut{action: act, stepError: strings.Join(stepErrs, " ")}, nil
		}
		next, ok := step.Next[act.Outcome]
		if !ok {
			nctx.Log.Error("node returned an outcome it does not declare; failing closed", "outcome", act.Outcome)
			return walkOut{terminal: journeys.Failure, reason: fmt.Sprintf("undeclared outcome %q from %s", act.Outcome, id), lastNode: id}, nil
		}
		w.e.metrics.outcome(w.c.Journey.Name, step.Type, act.Outcome)
		w.e.trace(w.c, id, act.Outcome)
		*node = next
		if next == journeys.Failure || next == journeys.Success {
			out := walkOut{terminal: next, failureMessage: failureMsg, lastNode: id}
			if next == journeys.Failure {
				out.reason = fmt.Sprintf("%s -> %s", id, act.Outcome)
			}
			return out, nil
		}
	}
}

// visit is a node visit's context and logger, allocated together: one allocation per
// visit instead of two (go test ./api -run '^$' -bench LoginHandlerParallel -benchmem).
type visit struct {
	nctx nodes.Context
	log  lazyLog
}

// visitContext returns a new context for a visit of node id of type typ whose Log (the
// only field set) is the walk's logger with the node's attributes.
func (w *walker) visitContext(id, typ string) *nodes.Context {
	attrs := [2]slog.Attr{slog.String("node", id), slog.String("node_type", typ)}
	if _, lazy := w.log.Handler().(*lazyHandler); !lazy {
		return &nodes.Context{Log: withAttrs(w.log, attrs[:]...)}
	}
	v := &visit{}
	v.nctx.Log = v.log.with(w.log, attrs[:]...)
	return &v.nctx
}

// walkState is what an inner journey needs of the walk that runs it: its nesting depth
// and the request's visit budget.
type walkState struct {
	depth  int
	budget *budget
}

type walkKey struct{}

func withWalk(ctx context.Context, s walkState) context.Context {
	return &walkCtx{Context: ctx, s: s}
}

// walkCtx is context.WithValue(ctx, walkKey{}, s) in one allocation rather than two
// (the value context and s boxed); s is boxed only when an inner journey asks for it.
type walkCtx struct {
	context.Context
	s walkState
}

// Value returns the walk state for walkKey and asks the parent for anything else.
func (c *walkCtx) Value(key any) any {
	if _, ok := key.(walkKey); ok {
		return c.s
	}
	return c.Context.Value(key)
}

// walkOf returns the walk state in ctx; outside a walk, depth 0 and a fresh budget.
func walkOf(ctx context.Context) walkState {
	s, ok := ctx.Value(walkKey{}).(walkState)
	if !ok {
		s = walkState{budget: &budget{flowSteps: new(int)}}
	}
	return s
}

// innerState is an inner journey's state, kept in the outer flow's shared state.
type innerState struct {
	Version int         `json:"v"`
	Node    string      `json:"n"`
	Shared  nodes.State `json:"s"`
}

// RunInner runs journey name nested in the flow of ctx (nodes.InnerRunner). The inner
// journey starts with a copy of the outer shared state, is pinned to the version current
// when it started, and on finishing hands its shared state back to the outer flow.
func (e *Engine) RunInner(ctx *nodes.Context, name, stateKey string) (nodes.Action, error) {
	outer := walkOf(ctx.Ctx)
	depth := outer.depth + 1
	if depth > e.cfg.MaxInnerDepth {
		return nodes.Action{}, fmt.Errorf("inner journeys nested deeper than %d", e.cfg.MaxInnerDepth)
	}
	var st innerState
	var c *journeys.Compiled
	var err error
	if raw, ok := ctx.Shared[stateKey]; ok {
		b, _ := json.Marshal(raw)
		if err := json.Unmarshal(b, &st); err != nil {
			return nodes.Action{}, fmt.Errorf("inner journey %q: corrupt state: %w", name, err)
		}
		c, err = e.repo.Get(ctx.Ctx, name, st.Version)
	} else {
		c, err = e.repo.Head(ctx.Ctx, name)
		if err == nil {
			st = innerState{Version: c.Version, Node: c.Journey.Start, Shared: nodes.State{}}
			for k, v := range ctx.Shared {
				st.Shared[k] = v
			}
		}
	}
	if err != nil {
		return nodes.Action{}, fmt.Errorf("inner journey %q: %w", name, err)
	}
	w := walker{e: e, c: c, ctx: ctx.Ctx, flowID: ctx.FlowID, realm: ctx.Realm, req: ctx.Request, now: ctx.Now, log: withAttrs(ctx.Log, slog.String("inner_journey", name)),
		behind: ctx.WriteBehind, ahead: ctx.ReadAhead}
	out, err := w.run(&st.Node, st.Shared, ctx.Callbacks, ctx.Transient, outer.budget, depth)
	if err != nil {
		return nodes.Action{}, err
	}
	if out.terminal == "" {
		ctx.Shared[stateKey] = st
		out.action.StepError = out.stepError // the outer walk shows it
		return out.action, nil
	}
	delete(ctx.Shared, stateKey)
	for k := range ctx.Shared {
		if _, ok := st.Shared[k]; !ok && k != stateKey {
			delete(ctx.Shared, k)
		}
	}
	for k, v := range st.Shared {
		ctx.Shared[k] = v
	}
	if out.terminal == journeys.Success {
		return nodes.Goto("true"), nil
	}
	return nodes.Action{Outcome: "false", FailureMessage: out.failureMessage}, nil
}
