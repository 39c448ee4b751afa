// Package linotp is the LinOTP-style door: /validate/check and /validate/check_status,
// as LinOTP serves them to VPN gateways, login scripts and its authentication provider,
// answered by an Arbor journey through the door core.
//
// It is a thin adapter (see package door): it checks that the caller's network may call,
// reads the parameters, starts the journey its otppin policy names (or the configured
// one) and answers its steps from them, and writes the result in LinOTP's JSON-RPC
// shape. The journey checks the password, the one-time code and the push; the door
// creates no session (gateways keep their own), checks no secret and throttles nothing
// itself.
//
// # Calls
//
//	GET|POST /validate/check?user=USER[@REALM]&pass=PASS
//	    otppin password (journey linotp): pass = the password followed by a one-time
//	    code (otp_digits, default 6); token_pin (journey linotp-pin): the PIN of the
//	    user's device followed by that device's code; none (journey linotp-otp): the
//	    code alone. result.value is true when everything pass holds is right.
//	GET|POST /validate/check?user=USER[@REALM]&pass=PASSWORD&data=TEXT&content_type=0
//	    sends a push that shows TEXT verbatim and is bound to it; result.value is false
//	    and detail.transactionid names the transaction. pass is the password, or with
//	    token_pin the device's PIN; with none it is not read.
//	GET|POST /validate/check_status?user=USER[@REALM]&pass=PASSWORD&transactionid=ID
//	    reports the transaction: detail.transactions[ID] with status (open, accepted,
//	    rejected, expired), received_tan (the device answered), valid_tan and
//	    result.value (it approved).
//
// # Decisions written down
//
//   - otppin none: the calling gateway checks the password itself, so the door attests
//     it (door.Start.Attested: pwd) and the journey verifies the code or the push. The
//     core counts the attested factor in the level only because the door runs every flow
//     without a session: a code alone answering value true is a verdict for the gateway,
//     never a session. It is audited as login.attested. The code check still goes
//     through the guessing defence (the OATH verifier's nodes.CheckSecret), so a gateway
//     cannot be used to guess codes faster than any other door.
//   - otppin token_pin: the door splits pass exactly as for password (the code is the
//     last otp_digits digits; with content_type=0 the whole pass is the PIN) and answers
//     the journey's secret beside the username with the PIN part. Checking the PIN, its
//     throttling and binding the code or the push to the PIN's device are the journey's
//     (the token_pin node), as checking the password is under otppin password.
//   - A transaction id is 20 random digits made by the journey's transaction_data
//     node. The door keeps linotp:{ID} in the store (the flow it belongs to, its realm
//     and user, the step to answer, and how it ended), until the flow's expiry plus
//     five minutes; check_status answers from it and, while the push is open, continues
//     the flow with the step's preset answers (keep waiting).
//   - check_status does not check pass again (the door checks no secret; the password
//     was checked when the transaction began). A transaction is only reported to the
//     user and realm it was made for: the 66-bit id bound to the user is the credential.
//     An unknown id and another user's id get the same error.
//   - Unknown, repeated or malformed parameters are refused before any flow starts, so
//     bad input changes nothing; so is a caller outside the configured networks.
//   - Errors use LinOTP's shape, result.status false with result.error {code, message},
//     and an HTTP status: 400 bad input (code 905), 403 caller not allowed (code 403),
//     405 other methods, 503 store outage (code 503), 500 a journey that cannot run
//     over this API (code 500).
package linotp

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/door"
	"github.com/arbor-auth/arbor/engine"
	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/push"
	"github.com/arbor-auth/arbor/store"
)

// doorName names the door in the core's audit events and logs.
const doorName = "linotp"

// Audit events of the door (the core and the journey's nodes write their own).
const (
	EventAccept    = "linotp.accept"
	EventReject    = "linotp.reject"
	EventChallenge = "linotp.challenge"
	EventRefused   = "linotp.refused"
)

// maxBody bounds a form body; real ones are a few hundred bytes.
const maxBody = 16 << 10

// maxSteps bounds the steps one call drives.
const maxSteps = 16

// maxParam bounds any one parameter (data is bounded by push.MaxTransactionText).
const maxParam = 2048

// Deps are the services the door needs.
type Deps struct {
	Core  *door.Core
	Store store.Store
	Audit *audit.Logger
	Log   *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Journeys, when set, lets New check that the configured journey fits the otppin
	// policy (see fits).
	Journeys Journeys
}

// Door serves /validate/check and /validate/check_status. It is safe for concurrent
// use and keeps no state in memory.
type Door struct {
	cfg  Config
	nets networks
	d    Deps
	log  *slog.Logger
}

// New returns the door, or an error naming every bad setting.
func New(cfg Config, d Deps) (*Door, error) {
	if d.Core == nil || d.Store == nil {
		return nil, errors.New("linotp: the door core and the store are required")
	}
	nets, err := cfg.check()
	if err != nil {
		return nil, err
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	door := &Door{cfg: cfg, nets: nets, d: d, log: d.Log}
	if d.Journeys != nil {
		if err := door.fits(context.Background(), d.Journeys); err != nil {
			return nil, err
		}
	}
	return door, nil
}

// Register mounts the door's routes on e.
func (d *Door) Register(e *echo.Echo) {
	e.Any("/validate/check", echo.WrapHandler(http.HandlerFunc(d.serveCheck)))
	e.Any("/validate/check_status", echo.WrapHandler(http.HandlerFunc(d.serveStatus)))
}

// Error codes in result.error.code.
const (
	codeParameter   = 905
	codeForbidden   = 403
	codeUnavailable = 503
	codeInternal    = 500
)

// rpcError is a refused call: its HTTP status, LinOTP code and message.
type rpcError struct {
	status int
	code   int
	msg    string
}

func (e *rpcError) Error() string { return e.msg }

func badParam(format string, args ...any) *rpcError {
	return &rpcError{status: http.StatusBadRequest, code: codeParameter, msg: fmt.Sprintf(format, args...)}
}

// call is one request being answered.
type call struct {
	w      http.ResponseWriter
	r      *http.Request
	client door.Client
	user   string // as the flow knows it, without @realm
	realm  string
}

// begin checks the caller and reads the parameters; on failure it has answered.
func (d *Door) begin(w http.ResponseWriter, r *http.Request, allowed []string) (*call, url.Values, bool) {
	c := &call{w: w, r: r, client: d.d.Core.Client(r, "")}
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		d.fail(c, &rpcError{status: http.StatusMethodNotAllowed, code: codeParameter, msg: "Method " + r.Method + " not allowed: use GET or a form POST"})
		return nil, nil, false
	}
	if !d.nets.allow(c.client.IP) {
		d.fail(c, &rpcError{status: http.StatusForbidden, code: codeForbidden, msg: "Client " + c.client.IP + " is not allowed to call /validate"})
		return nil, nil, false
	}
	v, err := readParams(w, r, allowed)
	if err != nil {
		d.fail(c, err)
		return nil, nil, false
	}
	if c.user, c.realm, err = d.userOf(v); err != nil {
		d.fail(c, err)
		return nil, nil, false
	}
	return c, v, true
}

// readParams reads the query, and for a POST the form body, refusing unknown,
// repeated and oversized parameters.
func readParams(w http.ResponseWriter, r *http.Request, allowed []string) (url.Values, error) {
	v, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, badParam("The query string does not parse: %v", err)
	}
	if r.Method == http.MethodPost && r.ContentLength != 0 {
		mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if mt != "application/x-www-form-urlencoded" {
			return nil, badParam("A POST must be a form (application/x-www-form-urlencoded), not %q", mt)
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		if err := r.ParseForm(); err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				return nil, &rpcError{status: http.StatusRequestEntityTooLarge, code: codeParameter, msg: fmt.Sprintf("The form is larger than %d bytes", maxBody)}
			}
			return nil, badParam("The form does not parse: %v", err)
		}
		for k, vs := range r.PostForm {
			v[k] = append(v[k], vs...)
		}
	}
	var unknown []string
	for k, vs := range v {
		switch {
		case !slices.Contains(allowed, k):
			unknown = append(unknown, k)
		case len(vs) > 1:
			return nil, badParam("Parameter %s is given %d times", k, len(vs))
		case len(vs[0]) > maxParam:
			return nil, badParam("Parameter %s is longer than %d bytes", k, maxParam)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return nil, badParam("Unknown parameter %s (known: %s)", strings.Join(unknown, ", "), strings.Join(allowed, ", "))
	}
	return v, nil
}

// userOf reads user (USER or USER@REALM) and realm: a suffix after the last @ is a
// realm when this server serves one of that name, else part of the user name.
func (d *Door) userOf(v url.Values) (user, realm string, err error) {
	user = v.Get("user")
	if strings.TrimSpace(user) == "" {
		return "", "", badParam("Missing parameter: user")
	}
	if !push.DisplayableText(user) || strings.ContainsAny(user, "\n\t") {
		return "", "", badParam("Parameter user is not printable text")
	}
	realm = "/"
	if r := v.Get("realm"); r != "" {
		n, err := door.NormalizeRealm(r)
		if err != nil || !d.d.Core.HasRealm(n) {
			return "", "", badParam("Unknown realm %q", r)
		}
		realm = n
	}
	if i := strings.LastIndexByte(user, '@'); i > 0 && i < len(user)-1 {
		if n, err := door.NormalizeRealm(user[i+1:]); err == nil && d.d.Core.HasRealm(n) {
			if v.Get("realm") != "" && n != realm {
				return "", "", badParam("user names realm %s but realm is %s", n, realm)
			}
			user, realm = user[:i], n
		}
	}
	return user, realm, nil
}

// Parameters each call takes.
var (
	checkParams  = []string{"user", "realm", "pass", "data", "content_type"}
	statusParams = []string{"user", "realm", "pass", "transactionid"}
)

// serveCheck answers /validate/check.
func (d *Door) serveCheck(w http.ResponseWriter, r *http.Request) {
	c, v, ok := d.begin(w, r, checkParams)
	if !ok {
		return
	}
	t := &turn{user: c.user, noPassword: d.cfg.OTPPin == PinNone}
	switch ct := v.Get("content_type"); {
	case ct == "0":
		t.challenge = true
	case v.Has("content_type"):
		d.fail(c, badParam("content_type %q is not supported: only 0 (a push showing data)", ct))
		return
	case v.Has("data"):
		d.fail(c, badParam("data needs content_type=0"))
		return
	}
	pass := v.Get("pass")
	if t.challenge {
		t.pin, t.data = pass, v.Get("data")
		if d.cfg.OTPPin == PinNone {
			t.pin = "" // pass holds no password: the gateway checked it
		}
		if len(t.data) > push.MaxTransactionText || !push.DisplayableText(t.data) {
			d.fail(c, badParam("Parameter data must be printable text of at most %d bytes", push.MaxTransactionText))
			return
		}
	} else {
		n := d.cfg.OTPDigits
		if len(pass) < n || strings.Trim(pass[len(pass)-n:], "0123456789") != "" || (d.cfg.OTPPin == PinNone && len(pass) != n) {
			// Nothing to check: no flow is started, and the answer is the one a wrong
			// code gets.
			d.answerCheck(c, &engine.Result{Status: engine.Failed}, nil)
			return
		}
		t.pin, t.otp = pass[:len(pass)-n], pass[len(pass)-n:]
	}
	res, err := d.drive(r.Context(), c, t)
	d.answerCheck(c, res, err)
}

// answerCheck writes the answer to a check that ran (or, with a nil flow id, that
// needed none).
func (d *Door) answerCheck(c *call, res *engine.Result, err error) {
	ctx := c.r.Context()
	ev := audit.Event{Realm: c.realm, User: c.user, Journey: d.cfg.Journey, Client: c.client.IP}
	if res != nil {
		ev.FlowID = res.FlowID
	}
	if err != nil {
		d.fail(c, d.engineError(err))
		return
	}
	switch {
	case res.Status == engine.Succeeded:
		ev.Type = EventAccept
		d.d.Audit.Emit(ctx, ev)
		writeJSON(c.w, http.StatusOK, value(true, checkDetail{Message: "matching 1 tokens", Type: "oath"}))
	case res.Status == engine.NeedInput:
		tx, rerr := d.open(ctx, c, res)
		if rerr != nil {
			d.fail(c, rerr)
			return
		}
		ev.Type, ev.Details = EventChallenge, map[string]any{"transaction_id": tx.ID}
		d.d.Audit.Emit(ctx, ev)
		writeJSON(c.w, http.StatusOK, value(false, checkDetail{TransactionID: tx.ID, Serial: tx.Serial, Type: "push",
			Message: "A push was sent: ask /validate/check_status for the answer."}))
	default:
		msg := res.FailureMessage
		if msg == "" {
			msg = "Login failure"
		}
		ev.Type, ev.Reason = EventReject, msg
		d.d.Audit.Emit(ctx, ev)
		writeJSON(c.w, http.StatusOK, value(false, checkDetail{Message: msg}))
	}
}

// engineError maps an error of the core or the engine to the answer.
func (d *Door) engineError(err error) *rpcError {
	var re *rpcError
	switch {
	case errors.As(err, &re):
		return re
	case errors.Is(err, store.ErrUnavailable):
		d.log.Warn("store unavailable; LinOTP call refused", "err", err)
		return &rpcError{status: http.StatusServiceUnavailable, code: codeUnavailable, msg: "The service is temporarily unavailable, try again"}
	case errors.Is(err, engine.ErrJourneyNotFound), errors.Is(err, door.ErrJourneyDisabled):
		d.log.Error("LinOTP door's journey cannot run", "journey", d.cfg.Journey, "err", err)
		return &rpcError{status: http.StatusInternalServerError, code: codeInternal, msg: "The journey " + d.cfg.Journey + " cannot run"}
	}
	d.log.Error("LinOTP call failed", "err", err)
	return &rpcError{status: http.StatusInternalServerError, code: codeInternal, msg: "Internal error"}
}

// turn is what a check answers the journey's steps with.
type turn struct {
	user, pin, otp, data string
	challenge            bool
	// noPassword: pass holds no password (otppin none), so a journey asking for one
	// beside the username does not fit the policy.
	noPassword bool
	// what has been answered: a step asked again is a retry, which one call does not do
	named, pinned, factored, described bool
}

// errStepAgain reports a step asked a second time in one call (a retry).
var errStepAgain = errors.New("step asked again")

// drive starts the journey and answers its steps until it ends or waits for a push.
func (d *Door) drive(ctx context.Context, c *call, t *turn) (*engine.Result, error) {
	out, err := d.d.Core.Start(ctx, door.Start{Door: doorName, Realm: c.realm, Journey: d.cfg.Journey, Client: c.client,
		NoSession: true, Attested: d.attested()})
	for range maxSteps {
		res, rerr := result(out, err)
		if rerr != nil || res.Status != engine.NeedInput {
			return res, rerr
		}
		if polling(res.Callbacks) {
			if !t.challenge {
				// The journey sent a push nobody asked for: a code check has failed.
				return &engine.Result{Status: engine.Failed, FlowID: res.FlowID, FailureMessage: "Login failure"}, nil
			}
			return res, nil
		}
		answers, ferr := t.fill(res.Callbacks)
		if errors.Is(ferr, errStepAgain) {
			return &engine.Result{Status: engine.Failed, FlowID: res.FlowID, FailureMessage: stepProblem(res.Callbacks)}, nil
		}
		if ferr != nil {
			d.log.Error("LinOTP door cannot answer the journey's step", "journey", d.cfg.Journey, "flow_id", res.FlowID, "err", ferr)
			return nil, &rpcError{status: http.StatusInternalServerError, code: codeInternal, msg: "The journey " + d.cfg.Journey + " asks what /validate cannot answer"}
		}
		out, err = d.d.Core.Continue(ctx, door.Continue{Door: doorName, Realm: c.realm, FlowID: res.FlowID, Answers: answers, Client: c.client,
			NoSession: true, Attested: d.attested()})
	}
	return nil, &rpcError{status: http.StatusInternalServerError, code: codeInternal, msg: "Too many steps in one call"}
}

// result is the core's outcome as the door sees it: a success below the account's
// level (mfa_bypass: restricted) is a failure, since a gateway cannot be told to
// restrict what the user does next.
func result(out *door.Outcome, err error) (*engine.Result, error) {
	if err != nil {
		return nil, err
	}
	if out.Restricted && out.Status == engine.Succeeded {
		r := *out.Result
		r.Status, r.FailureMessage = engine.Failed, "This account has a second factor: sign in with a journey that asks for it."
		return &r, nil
	}
	return out.Result, nil
}

func polling(cbs []nodes.Callback) bool {
	return slices.ContainsFunc(cbs, func(cb nodes.Callback) bool { return cb.Type == nodes.TypePollingWait })
}

// stepProblem is the error message a step asked again shows, or the generic failure.
func stepProblem(cbs []nodes.Callback) string {
	for _, cb := range cbs {
		if cb.Type == nodes.TypeTextOutput && cb.OutString("messageType") == nodes.MessageError {
			return cb.OutString("message")
		}
	}
	return "Login failure"
}

// fill answers a step: a name takes user; a password beside a name takes the PIN part
// of pass; a password alone (the code-or-push step) takes the one-time code, or nothing
// for a push; a text field takes data. Each is answered once per call.
func (t *turn) fill(cbs []nodes.Callback) ([]nodes.Callback, error) {
	out := door.Presets(cbs)
	hasName := slices.ContainsFunc(cbs, func(cb nodes.Callback) bool { return cb.Type == nodes.TypeName })
	once := func(done *bool) error {
		if *done {
			return errStepAgain
		}
		*done = true
		return nil
	}
	for i, cb := range cbs {
		var err error
		switch {
		case cb.Type == nodes.TypeName:
			err = once(&t.named)
			door.SetMain(&out[i], t.user)
		case cb.Type == nodes.TypePassword && hasName && t.noPassword:
			return nil, errors.New("the journey asks for a password beside the username, which otppin none does not send: use linotp-otp")
		case cb.Type == nodes.TypePassword && hasName:
			err = once(&t.pinned)
			door.SetMain(&out[i], t.pin)
		case cb.Type == nodes.TypePassword:
			err = once(&t.factored)
			door.SetMain(&out[i], t.otp) // empty in a challenge: the push
		case cb.Type == nodes.TypeTextInput && t.challenge:
			err = once(&t.described)
			door.SetMain(&out[i], t.data)
		case cb.Type == nodes.TypeTextOutput, cb.Type == nodes.TypeHiddenValue, cb.Type == nodes.TypeMetadata:
		default:
			return nil, fmt.Errorf("%s cannot be answered", cb.Type)
		}
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Replies.

// version and jsonrpc are what LinOTP 2 answers with; clients read result and detail.
const (
	version = "LinOTP 2.12 (Arbor)"
	jsonrpc = "2.0802"
)

type reply struct {
	Version string    `json:"version"`
	JSONRPC string    `json:"jsonrpc"`
	Result  rpcResult `json:"result"`
	Detail  any       `json:"detail,omitempty"`
	ID      int       `json:"id"`
}

type rpcResult struct {
	Status bool      `json:"status"`
	Value  *bool     `json:"value,omitempty"`
	Error  *rpcFault `json:"error,omitempty"`
}

type rpcFault struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

type checkDetail struct {
	TransactionID string `json:"transactionid,omitempty"`
	Serial        string `json:"linotp_tokenserial,omitempty"`
	Type          string `json:"linotp_tokentype,omitempty"`
	Message       string `json:"message"`
}

func value(v bool, detail any) reply {
	return reply{Version: version, JSONRPC: jsonrpc, Result: rpcResult{Status: true, Value: &v}, Detail: detail}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// fail answers a refused call in LinOTP's error shape and audits it; nothing changed.
func (d *Door) fail(c *call, err error) {
	re := d.engineError(err)
	d.d.Audit.Emit(c.r.Context(), audit.Event{Type: EventRefused, Realm: c.realm, User: c.user, Client: c.client.IP, Reason: re.msg,
		Details: map[string]any{"path": c.r.URL.Path}})
	writeJSON(c.w, re.status, reply{Version: version, JSONRPC: jsonrpc, Result: rpcResult{Status: false, Error: &rpcFault{Code: re.code, Message: re.msg}}})
}

// sameUser compares user names as the directory does (case-insensitively), in constant
// time.
func sameUser(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(strings.ToLower(a)), []byte(strings.ToLower(b))) == 1
}

// doorContinue is the continuation of an open transaction's flow: its polling step
// answered with the presets, which means "keep waiting".
func (d *Door) doorContinue(c *call, tx *transaction) door.Continue {
	return door.Continue{Door: doorName, Realm: tx.Realm, FlowID: tx.Flow, Answers: door.Presets(tx.Step), Client: c.client,
		NoSession: true, Attested: d.attested()}
}

// attested is what the door vouches for on every step: with otppin none, the password
// the gateway checked (see the package doc). Never with a session.
func (d *Door) attested() []nodes.Factor {
	if d.cfg.OTPPin == PinNone {
		return []nodes.Factor{nodes.FactorPassword}
	}
	return nil
}
