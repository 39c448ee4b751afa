package radius

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/door"
	"github.com/arbor-auth/arbor/engine"
	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/nodes/mfa"
	"github.com/arbor-auth/arbor/store"
)

// doorName names the door in the core's audit events and logs.
const doorName = "radius"

// maxTurns bounds the steps one Access-Request drives (a held push polls once a second
// at most, so this is far above a 2-minute hold).
const maxTurns = 1000

// Messages of the door's own refusals (the journey's failure message wins otherwise).
const (
	msgFailure  = "Login failure"
	msgExpired  = "The login has expired or is not valid: start again."
	msgNoAnswer = "The device did not answer in time."
	msgNotHere  = "This login step cannot be answered over RADIUS."
	// msgSecondFactor is the door core's own words for the same refusal.
	msgSecondFactor = "This account has a second factor: sign in with a journey that asks for it."
)

// turn is one Access-Request being answered.
type turn struct {
	cl        *client
	from      netip.AddrPort
	user      string
	answer    string // User-Password: the password, or the answer to a challenge
	answered  bool   // the answer was given to a step
	held      bool   // this request waits for a push
	typedCode bool   // the answer went to a push wait's code field
	deadline  time.Time
	calling   string
	client    door.Client
	accept    radius.Attributes
}

// verdict is how an Access-Request is answered.
type verdict struct {
	code    radius.Code
	message string
	state   *challenge
	flowID  string
	journey string
	reason  string
	drop    bool // no answer: the client retries (store outage, shutdown)
}

// answer runs the request through the client's journey and returns the reply, or nil
// for no answer.
func (s *Server) answer(ctx context.Context, cl *client, from netip.AddrPort, p *radius.Packet) *radius.Packet {
	t := &turn{cl: cl, from: from}
	v, stateAttr := s.read(t, p)
	if v == nil {
		v = s.drive(ctx, t, stateAttr)
	}
	if v.drop {
		s.metrics.request(cl.name, outcomeError)
		return nil
	}
	q := p.Response(v.code)
	ev := audit.Event{Realm: cl.realm, User: t.user, Journey: v.journey, FlowID: v.flowID, Client: from.Addr().String(), Reason: v.reason,
		Details: map[string]any{"radius_client": cl.name, "calling_station_id": t.calling}}
	switch v.code {
	case radius.CodeAccessAccept:
		q.Attributes = append(q.Attributes, t.accept...)
		ev.Type = EventAccept
		s.metrics.request(cl.name, outcomeAccept)
		s.audit.Emit(ctx, ev)
	case radius.CodeAccessChallenge:
		st, err := s.states.issue(cl.name, t.user, v.state)
		if err != nil {
			s.log.Error("RADIUS challenge could not be issued", "client", cl.name, "flow_id", v.flowID, "err", err)
			q = p.Response(radius.CodeAccessReject)
			replyMessage(q, msgNotHere)
			ev.Type, ev.Reason = EventReject, err.Error()
			s.metrics.request(cl.name, outcomeReject)
			s.audit.Emit(ctx, ev)
			break
		}
		q.Add(rfc2865.State_Type, st)
		replyMessage(q, v.message)
		s.metrics.request(cl.name, outcomeChallenge)
	default:
		replyMessage(q, v.message)
		ev.Type = EventReject
		s.metrics.request(cl.name, outcomeReject)
		s.audit.Emit(ctx, ev)
	}
	return q
}

// read checks the request's attributes into t. It returns a Reject verdict for a
// request that cannot be answered, and otherwise the State attribute (nil if none).
func (s *Server) read(t *turn, p *radius.Packet) (*verdict, []byte) {
	reject := func(reason string) (*verdict, []byte) {
		return &verdict{code: radius.CodeAccessReject, message: msgFailure, reason: reason}, nil
	}
	names := values(p, rfc2865.UserName_Type)
	if len(names) != 1 || !printable(string(names[0])) {
		return reject("User-Name missing, repeated or not printable text")
	}
	t.user = string(names[0])
	if len(values(p, rfc2865.CHAPPassword_Type)) > 0 {
		return reject("CHAP is not supported: configure PAP")
	}
	states := values(p, rfc2865.State_Type)
	if len(states) > 1 {
		return reject("State repeated")
	}
	pws := values(p, rfc2865.UserPassword_Type)
	switch {
	case len(pws) > 1:
		return reject("User-Password repeated")
	case len(pws) == 0 && len(states) == 0:
		return reject("User-Password missing: only PAP is supported")
	case len(pws) == 1:
		// An answer to a challenge may come without User-Password: a blank answer
		// (radclient, for one, leaves an empty one out).
		pw, err := radius.UserPassword(pws[0], t.cl.secret, p.Authenticator[:])
		if err != nil || !utf8.Valid(pw) {
			return reject("User-Password does not decode")
		}
		t.answer = string(pw)
	}
	if cs := values(p, rfc2865.CallingStationID_Type); len(cs) == 1 && printable(string(cs[0])) {
		t.calling = string(cs[0])
	}
	// The user's own address is the Calling-Station-Id when it is an IP address (a VPN
	// user's), so throttling per address counts the user, not the gateway in front of
	// every user; otherwise the client's.
	ip := t.from.Addr().Unmap().String()
	if a, err := netip.ParseAddr(t.calling); err == nil {
		ip = a.Unmap().String()
	}
	t.client = door.Client{IP: ip, UserAgent: "RADIUS " + t.cl.name, Header: http.Header{
		"X-Radius-Client":      {t.cl.name},
		"X-Calling-Station-Id": {t.calling},
	}}
	if len(states) == 1 {
		return nil, states[0]
	}
	return nil, nil
}

func values(p *radius.Packet, typ radius.Type) []radius.Attribute {
	var out []radius.Attribute
	for _, avp := range p.Attributes {
		if avp.Type == typ {
			out = append(out, avp.Attribute)
		}
	}
	return out
}

func printable(s string) bool {
	if s == "" || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// drive starts the client's journey, or continues the flow a State names, and runs it
// until it ends, needs an answer the request does not carry, or (holding a push) the
// device answers.
func (s *Server) drive(ctx context.Context, t *turn, stateAttr []byte) *verdict {
	var res *engine.Result
	var err error
	result := func(out *door.Outcome, err error) (*engine.Result, error) {
		if err != nil {
			return nil, err
		}
		if out.Restricted && out.Status == engine.Succeeded {
			// A gateway cannot be told to restrict what the user does next: a login
			// below the account's level is refused, whatever the realm's bypass.
			r := *out.Result
			r.Status, r.FailureMessage = engine.Failed, msgSecondFactor
			return &r, nil
		}
		return out.Result, nil
	}
	if stateAttr == nil {
		// No session: the gateway keeps its own; the core's rules still decide whether
		// the login succeeds.
		res, err = result(s.flows.Start(ctx, door.Start{Door: doorName, Realm: t.cl.realm, Journey: t.cl.journey, Client: t.client, NoSession: true}))
	} else {
		st, serr := s.states.open(t.cl.name, t.user, stateAttr, s.now())
		if serr != nil {
			return &verdict{code: radius.CodeAccessReject, message: msgExpired, reason: serr.Error()}
		}
		cbs, serr := st.callbacks()
		if serr != nil {
			return &verdict{code: radius.CodeAccessReject, message: msgExpired, reason: serr.Error()}
		}
		res = &engine.Result{Status: engine.NeedInput, FlowID: st.Flow, Callbacks: cbs}
		t.held = st.Hold
	}
	for range maxTurns {
		if err != nil {
			return s.engineError(t, res, err)
		}
		switch res.Status {
		case engine.Succeeded:
			attrs, aerr := s.replyAttributes(ctx, t.cl, res.Realm, res.Username)
			if aerr != nil {
				// The flow is finished: without its attributes the gateway could grant the
				// wrong access, so the login is refused rather than accepted bare.
				s.log.Error("RADIUS reply attributes could not be read; login refused", "client", t.cl.name, "flow_id", res.FlowID, "err", aerr)
				return &verdict{code: radius.CodeAccessReject, message: msgFailure, flowID: res.FlowID, journey: res.Journey, reason: aerr.Error()}
			}
			t.accept = attrs
			return &verdict{code: radius.CodeAccessAccept, flowID: res.FlowID, journey: res.Journey}
		case engine.Failed:
			msg := res.FailureMessage
			if msg == "" {
				msg = msgFailure
			}
			return &verdict{code: radius.CodeAccessReject, message: msg, flowID: res.FlowID, journey: res.Journey, reason: "journey failed"}
		}
		st := inspect(res.Callbacks)
		var submitted []nodes.Callback
		switch {
		case st.polling && (t.answered || strings.TrimSpace(t.answer) == "" || strings.EqualFold(strings.TrimSpace(t.answer), "push") || !hasSlot(res.Callbacks)):
			if (st.number != "" && !t.held) || (st.problem != "" && t.typedCode) {
				// Number matching: the user must see the number before the wait. A code
				// typed instead of the push and refused: the user must see why; the
				// push still waits.
				msg := strings.TrimSpace(st.problem + " " + st.message)
				return &verdict{code: radius.CodeAccessChallenge, message: msg, flowID: res.FlowID, journey: res.Journey,
					state: &challenge{Flow: res.FlowID, Expires: res.Expires.Unix(), Hold: true, Step: stepOf(res.Callbacks)}}
			}
			if !t.held || t.deadline.IsZero() {
				t.held, t.deadline = true, s.now().Add(s.cfg.MaxHold)
			}
			if !s.now().Before(t.deadline) {
				return &verdict{code: radius.CodeAccessReject, message: msgNoAnswer, flowID: res.FlowID, journey: res.Journey, reason: "hold timed out"}
			}
			if err := s.wait(ctx, st.wait); err != nil {
				return &verdict{drop: true}
			}
			t.answered = true // an answer typed with a blank or "push" is used up
			submitted = door.Presets(res.Callbacks)
		default:
			var prompt string
			var need bool
			submitted, prompt, need, err = fill(res.Callbacks, t, res.Shared)
			if err != nil {
				return &verdict{code: radius.CodeAccessReject, message: msgNotHere, flowID: res.FlowID, journey: res.Journey, reason: err.Error()}
			}
			t.typedCode = st.polling // a code typed instead of the push
			if need {
				if st.pushOffered {
					prompt = "+" + prompt
				}
				return &verdict{code: radius.CodeAccessChallenge, message: prompt, flowID: res.FlowID, journey: res.Journey,
					state: &challenge{Flow: res.FlowID, Expires: res.Expires.Unix(), Step: stepOf(res.Callbacks)}}
			}
		}
		flowID := res.FlowID
		res, err = result(s.flows.Continue(ctx, door.Continue{Door: doorName, Realm: t.cl.realm, FlowID: flowID, Answers: submitted, Client: t.client, NoSession: true}))
		if err != nil {
			res = &engine.Result{FlowID: flowID}
		}
	}
	return &verdict{code: radius.CodeAccessReject, message: msgFailure, flowID: res.FlowID, reason: "too many steps in one request"}
}

// engineError turns an engine error into a verdict: bad or stale States are rejected,
// a store outage gets no answer so the client retries (the step is intact).
func (s *Server) engineError(t *turn, res *engine.Result, err error) *verdict {
	v := &verdict{code: radius.CodeAccessReject, message: msgExpired, reason: err.Error()}
	if res != nil {
		v.flowID = res.FlowID
	}
	var ie *engine.InputError
	switch {
	case errors.Is(err, engine.ErrFlowNotFound), errors.Is(err, engine.ErrStepConflict), errors.Is(err, engine.ErrRealmMismatch), errors.As(err, &ie):
		return v
	case errors.Is(err, engine.ErrJourneyNotFound), errors.Is(err, door.ErrJourneyDisabled), errors.Is(err, door.ErrUnknownRealm):
		s.log.Error("RADIUS client's journey cannot run", "client", t.cl.name, "journey", t.cl.journey, "realm", t.cl.realm, "err", err)
		v.message = msgFailure
		return v
	case errors.Is(err, store.ErrUnavailable):
		s.log.Warn("store unavailable; RADIUS request left unanswered for the client to retry", "client", t.cl.name, "err", err)
		return &verdict{drop: true}
	}
	s.log.Error("RADIUS request failed", "client", t.cl.name, "err", err)
	return &verdict{drop: true}
}

// step is what the door reads of a step's callbacks.
type step struct {
	polling     bool
	wait        time.Duration
	message     string // the polling message (with number matching, the number to tap)
	number      string // the number to match, if any
	pushOffered bool
	problem     string // an error message in a polling step (a refused code)
}

func inspect(cbs []nodes.Callback) step {
	var st step
	for _, cb := range cbs {
		switch cb.Type {
		case nodes.TypePollingWait:
			st.polling = true
			st.message = cb.OutString("message")
			ms, _ := strconv.Atoi(cb.OutString("waitTime"))
			st.wait = min(max(time.Duration(ms)*time.Millisecond, 100*time.Millisecond), 5*time.Second)
		case nodes.TypeTextOutput:
			if cb.OutString("messageType") == nodes.MessageError {
				st.problem = strings.TrimSpace(st.problem + " " + cb.OutString("message"))
			}
		case nodes.TypeHiddenValue:
			switch cb.OutString("id") {
			case mfa.HiddenChallenge:
				st.number = cb.OutString("value")
			case mfa.HiddenPushOffered:
				st.pushOffered = true
			}
		}
	}
	return st
}

// isSlot reports whether cb takes the user's typed answer.
func isSlot(cb nodes.Callback, polling bool) bool {
	switch cb.Type {
	case nodes.TypeName, nodes.TypePassword, nodes.TypeTextInput, nodes.TypeChoice:
		return true
	case nodes.TypeConfirmation:
		return !polling // a polling step's confirmation is its exit button
	}
	return false
}

func hasSlot(cbs []nodes.Callback) bool {
	polling := false
	for _, cb := range cbs {
		polling = polling || cb.Type == nodes.TypePollingWait
	}
	for _, cb := range cbs {
		if isSlot(cb, polling) {
			return true
		}
	}
	return false
}

// fill answers a step from the request: a credentials step (a name and a password)
// takes User-Name and User-Password; a lone name before the flow knows its user takes
// User-Name; the one other input takes the request's answer, once. need is true when
// the step needs an answer the request no longer has: it becomes a challenge with
// prompt. A step with two free inputs cannot be asked over RADIUS.
func fill(cbs []nodes.Callback, t *turn, shared nodes.State) (out []nodes.Callback, prompt string, need bool, err error) {
	names, passwords, polling := 0, 0, false
	for _, cb := range cbs {
		switch cb.Type {
		case nodes.TypeName:
			names++
		case nodes.TypePassword:
			passwords++
		case nodes.TypePollingWait:
			polling = true
		}
	}
	credentials := names == 1 && passwords == 1
	loneName := names == 1 && len(cbs) == 1 && shared != nil && shared.String(nodes.KeyUsername) == ""
	var texts []string
	slots := 0
	out = door.Presets(cbs)
	for i, cb := range cbs {
		if cb.Type == nodes.TypeTextOutput {
			if m := cb.OutString("message"); m != "" {
				texts = append(texts, m)
			}
			continue
		}
		if cb.Type == nodes.TypeName && (credentials || loneName) {
			door.SetMain(&out[i], t.user)
			continue
		}
		if !isSlot(cb, polling) {
			continue
		}
		if slots++; slots > 1 {
			return nil, "", false, fmt.Errorf("step asks for more than one answer (%s)", strings.Join(typesOf(cbs), ", "))
		}
		p := promptOf(cb)
		if t.answered {
			need, prompt = true, p
			continue
		}
		v, ok := choose(cb, t.answer)
		if !ok {
			need, prompt = true, p
			t.answered = true
			continue
		}
		door.SetMain(&out[i], v)
		t.answered = true
	}
	if need && len(texts) > 0 {
		prompt = strings.TrimSpace(strings.Join(append(texts, prompt), " "))
	}
	return out, prompt, need, nil
}

// choose turns the typed answer into the callback's input: text as it is, a choice by
// its number (from 1) or its text.
func choose(cb nodes.Callback, answer string) (any, bool) {
	var opts []string
	switch cb.Type {
	case nodes.TypeChoice:
		opts = stringsOf(cb.Out("choices"))
	case nodes.TypeConfirmation:
		opts = stringsOf(cb.Out("options"))
	default:
		return answer, true
	}
	a := strings.TrimSpace(answer)
	if n, err := strconv.Atoi(a); err == nil && n >= 1 && n <= len(opts) {
		return n - 1, true
	}
	for i, o := range opts {
		if strings.EqualFold(a, o) {
			return i, true
		}
	}
	return nil, false
}

func promptOf(cb nodes.Callback) string {
	p := cb.OutString("prompt")
	var opts []string
	switch cb.Type {
	case nodes.TypeChoice:
		opts = stringsOf(cb.Out("choices"))
	case nodes.TypeConfirmation:
		opts = stringsOf(cb.Out("options"))
	}
	for i, o := range opts {
		p += fmt.Sprintf(" %d) %s", i+1, o)
	}
	return strings.TrimSpace(p)
}

func stringsOf(v any) []string {
	switch x := v.(type) {
	case []string:
		return x
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			out = append(out, fmt.Sprint(e))
		}
		return out
	}
	return nil
}

func typesOf(cbs []nodes.Callback) []string {
	out := make([]string, len(cbs))
	for i, cb := range cbs {
		out[i] = cb.Type
	}
	return out
}
