package fortigate

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/arbor-auth/arbor/door"
	"github.com/arbor-auth/arbor/engine"
	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/nodes/basic"
	"github.com/arbor-auth/arbor/store"
)

// maxTurns bounds the steps one request drives: each field answers one step at most,
// and a push is looked at once per request.
const maxTurns = 16

// Messages of the door's own answers.
const (
	msgExpired  = "The login has expired or is not valid: start again."
	msgNotHere  = "This login step cannot be answered through this API."
	msgNoUser   = "username and secretkey are needed to start a login."
	msgLoginKey = "this is the key of a login under way: POST it to continue the login, not to renew or log out"
)

// kind is what a step asks, as the door reads it.
type kind int

const (
	kindOther kind = iota
	kindCredentials
	kindCode // a one-time code (or a recovery code)
	kindPush // a push wait, maybe with a code field
	kindPreDisclaimer
	kindPostDisclaimer
	kindNewPassword
)

// classify reads a step: by the stage the disclaimer and password_change nodes give,
// otherwise by its callbacks.
func classify(stage string, cbs []nodes.Callback) kind {
	switch stage {
	case basic.StagePreDisclaimer:
		return kindPreDisclaimer
	case basic.StagePostDisclaimer:
		return kindPostDisclaimer
	case basic.StagePasswordChange:
		return kindNewPassword
	}
	var name, text, polling, confirm bool
	passwords := 0
	for _, cb := range cbs {
		switch cb.Type {
		case nodes.TypeName:
			name = true
		case nodes.TypePassword:
			passwords++
		case nodes.TypeConfirmation:
			confirm = true
		case nodes.TypeTextInput:
			text = true
		case nodes.TypePollingWait:
			polling = true
		case nodes.TypeTextOutput, nodes.TypeHiddenValue, nodes.TypeMetadata:
		default:
			return kindOther
		}
	}
	switch {
	case polling:
		return kindPush
	case name && passwords == 1:
		return kindCredentials
	case !name && !text && passwords == 2:
		return kindNewPassword
	case (name || text) && passwords == 0 && !confirm:
		return kindCode
	case confirm && !name && !text && passwords == 0:
		// A banner to acknowledge: a message node, or a disclaimer named by the flow's
		// key (a pre-login one never gets a key: it fails with -2).
		return kindPostDisclaimer
	}
	return kindOther
}

// defaults rebuilds the callbacks a flow waits on from their types and input names,
// each input preset as the nodes preset them: a confirmation not pressed, text empty.
func defaults(steps []engine.Pending) []nodes.Callback {
	out := make([]nodes.Callback, len(steps))
	for i, p := range steps {
		out[i].Type = p.Type
		for _, name := range p.Inputs {
			var v any = ""
			if p.Type == nodes.TypeConfirmation && name == "" {
				v = float64(nodes.ConfirmationNotPressed)
			}
			out[i].Input = append(out[i].Input, nodes.Field{Name: name, Value: v})
		}
	}
	return out
}

// turn is one POST being answered: the fields it carries, each used for one step.
type turn struct {
	req        *request
	user       string
	requestKey bool
	key        string // the login's key, once issued or presented
	used       map[kind]bool
	polled     bool
	shown      answer // banners shown or acknowledged in this request
}

// login answers a POST: it starts a flow or continues the one session_key names, and
// drives it with the request's fields until it ends or asks for something they do not
// give.
func (s *Server) login(c echo.Context, cl door.Client) error {
	req, err := readRequest(c.Request(), s.limit)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	t := &turn{req: req, used: map[kind]bool{}}
	life := func() door.Lifetime {
		if t.requestKey {
			return door.Lifetime{Idle: s.cfg.Timeout, Max: s.cfg.Timeout}
		}
		return door.Lifetime{Idle: s.cfg.Timeout}
	}
	var res *engine.Result
	var out *door.Outcome
	if req.SessionKey == "" {
		if req.Username == "" || req.Secretkey == "" {
			return bad(http.StatusBadRequest, "%s", msgNoUser)
		}
		t.user, t.requestKey = req.Username, req.RequestKey
		out, err = s.core.Start(ctx, door.Start{Door: doorName, Realm: s.cfg.Realm, Journey: s.cfg.Journey, Client: cl, Lifetime: life()})
		if err != nil {
			return s.engineError(c, err)
		}
		res = out.Result
	} else {
		p, err := s.keys.open(req.SessionKey, s.d.Now())
		if errors.Is(err, errKeyExpired) {
			return s.answer(c, t, answer{StatusCode: statusFailed, Error: msgExpired})
		}
		if err != nil {
			return bad(http.StatusBadRequest, "%s", err.Error())
		}
		if req.Username != "" && !strings.EqualFold(req.Username, p.User) {
			return bad(http.StatusBadRequest, "%s", errKeyInvalid.Error())
		}
		t.user, t.requestKey, t.key = p.User, p.RequestKey, req.SessionKey
		steps, err := s.core.Pending(ctx, s.cfg.Realm, p.Flow)
		if err != nil {
			return s.engineError(c, err)
		}
		res = &engine.Result{Status: engine.NeedInput, FlowID: p.Flow, Callbacks: defaults(steps)}
	}
	for range maxTurns {
		switch res.Status {
		case engine.Succeeded:
			return s.signedIn(c, cl, t, out)
		case engine.Failed:
			a := answer{StatusCode: statusFailed}
			if res.Shared.Bool(basic.KeyLockedOut) {
				// Only the account's right password reaches this: the lock is no news.
				a.StatusCode = statusLockedOut
			} else if out != nil && out.Refused != nil {
				a.Error = out.Refused.Message
			}
			return s.answer(c, t, a)
		}
		submitted, stop := s.fill(t, res)
		if stop != nil {
			if stop.StatusCode > 0 {
				if t.key == "" {
					if t.key, err = s.keys.issue(&pending{Flow: res.FlowID, User: t.user, RequestKey: t.requestKey,
						Expires: res.Expires.Unix()}); err != nil {
						return err
					}
				}
				stop.SessionKey = t.key
			}
			return s.answer(c, t, *stop)
		}
		out, err = s.core.Continue(ctx, door.Continue{Door: doorName, Realm: s.cfg.Realm, FlowID: res.FlowID, Answers: submitted,
			Client: cl, Lifetime: life()})
		if err != nil {
			return s.engineError(c, err)
		}
		res = out.Result
	}
	s.log.Error("login took too many steps in one request", "door", doorName, "flow_id", res.FlowID)
	return s.answer(c, t, answer{StatusCode: statusFailed, Error: msgNotHere})
}

// engineError answers an error from the core: a flow that is gone or moved on is a
// failed login (start again), a store outage a 503; anything else is the server's.
func (s *Server) engineError(c echo.Context, err error) error {
	var ie *engine.InputError
	switch {
	case errors.Is(err, engine.ErrFlowNotFound), errors.Is(err, engine.ErrStepConflict), errors.Is(err, engine.ErrRealmMismatch), errors.As(err, &ie):
		return s.answer(c, &turn{}, answer{StatusCode: statusFailed, Error: msgExpired})
	case errors.Is(err, store.ErrUnavailable):
		return err
	}
	return err
}

// fill answers the step res asks with the request's fields. It returns the answers to
// submit, or the answer to give the client when the request has nothing (more) for
// this step.
func (s *Server) fill(t *turn, res *engine.Result) ([]nodes.Callback, *answer) {
	k := classify(res.Stage, res.Callbacks)
	problem := stepError(res.Callbacks)
	out := door.Presets(res.Callbacks)
	r := t.req
	switch k {
	case kindPreDisclaimer:
		t.shown.PreLoginDisclaimer = message(res.Callbacks)
		if !r.AckPreDisclaimer || t.used[k] {
			// FortiOS fails the login: the client starts again with the banner acknowledged.
			return nil, &answer{StatusCode: statusPreDisclaimer}
		}
		t.used[k] = true
		setFirst(out, nodes.TypeConfirmation, float64(0))
	case kindPostDisclaimer:
		t.shown.PostLoginDisclaimer = message(res.Callbacks)
		if !r.AckPostDisclaimer || t.used[k] {
			return nil, &answer{StatusCode: statusPostDisclaimer}
		}
		t.used[k] = true
		setFirst(out, nodes.TypeConfirmation, float64(0))
	case kindCredentials:
		if t.used[k] || r.Username == "" || r.Secretkey == "" {
			// Asked again (a journey that loops after a wrong password), or asked of a
			// login continued without them: this API has no way to ask.
			return nil, &answer{StatusCode: statusFailed, Error: problem}
		}
		t.used[k] = true
		setFirst(out, nodes.TypeName, r.Username)
		setFirst(out, nodes.TypePassword, r.Secretkey)
	case kindCode, kindPush:
		switch {
		case r.TokenCode != "" && !t.used[kindCode] && (k == kindCode || has(out, nodes.TypeTextInput)):
			t.used[kindCode] = true
			if !setFirst(out, nodes.TypeTextInput, r.TokenCode) {
				setFirst(out, nodes.TypeName, r.TokenCode)
			}
		case k == kindPush && !t.polled && !t.used[kindCode]:
			// Look at the push once: approved, the flow goes on; else 2 again.
			t.polled = true
		default:
			return nil, &answer{StatusCode: statusTFA, Error: problem}
		}
	case kindNewPassword:
		if t.used[k] || r.NewPassword1 == "" && r.NewPassword2 == "" {
			return nil, &answer{StatusCode: statusChangePassword, Error: problem}
		}
		t.used[k] = true
		n := 0
		for i := range out {
			if out[i].Type == nodes.TypePassword {
				door.SetMain(&out[i], []string{r.NewPassword1, r.NewPassword2}[min(n, 1)])
				n++
			}
		}
	default:
		s.log.Warn("journey step the FortiGate door cannot ask", "door", doorName, "flow_id", res.FlowID, "stage", res.Stage)
		return nil, &answer{StatusCode: statusFailed, Error: msgNotHere}
	}
	return out, nil
}

// answer writes a login answer, with the banners shown in this request.
func (s *Server) answer(c echo.Context, t *turn, a answer) error {
	a.StatusMessage = statusMessages[a.StatusCode]
	if a.PreLoginDisclaimer == "" {
		a.PreLoginDisclaimer = t.shown.PreLoginDisclaimer
	}
	if a.PostLoginDisclaimer == "" {
		a.PostLoginDisclaimer = t.shown.PostLoginDisclaimer
	}
	return c.JSON(http.StatusOK, a)
}

// signedIn answers a success: the session key, or the session and CSRF cookies.
func (s *Server) signedIn(c echo.Context, cl door.Client, t *turn, out *door.Outcome) error {
	if out == nil || out.Token == "" {
		// A journey that succeeds without a step cannot happen with a password; a
		// success without a session is the core's refusal, already a failure.
		return s.answer(c, t, answer{StatusCode: statusFailed})
	}
	a := answer{StatusCode: statusSuccess}
	if t.requestKey {
		a.SessionKey = out.Token
		a.SessionKeyTimeout = strconv.Itoa(int(s.cfg.Timeout.Minutes()))
	} else {
		s.setCookies(c, cl, out.Token)
	}
	return s.answer(c, t, a)
}

// setFirst sets the main input of the first callback of type typ, and reports whether
// there was one.
func setFirst(cbs []nodes.Callback, typ string, v any) bool {
	for i := range cbs {
		if cbs[i].Type == typ {
			door.SetMain(&cbs[i], v)
			return true
		}
	}
	return false
}

func has(cbs []nodes.Callback, typ string) bool {
	_, ok := nodes.Find(cbs, typ)
	return ok
}

// stepError is the error messages the step shows (a wrong code, a refused password).
func stepError(cbs []nodes.Callback) string {
	var msgs []string
	for _, cb := range cbs {
		if cb.Type == nodes.TypeTextOutput && cb.OutString("messageType") == nodes.MessageError {
			msgs = append(msgs, cb.OutString("message"))
		}
	}
	return strings.Join(msgs, " ")
}

// message is the step's informational text (a banner).
func message(cbs []nodes.Callback) string {
	var msgs []string
	for _, cb := range cbs {
		if cb.Type == nodes.TypeTextOutput && cb.OutString("messageType") != nodes.MessageError {
			msgs = append(msgs, cb.OutString("message"))
		}
	}
	return strings.Join(msgs, "\n")
}
