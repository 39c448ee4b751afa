package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/arbor-auth/arbor/door"
	"github.com/arbor-auth/arbor/engine"
	"github.com/arbor-auth/arbor/nodes"
)

// wireCallback is a callback as AM sends and receives it.
type wireCallback struct {
	Type   string      `json:"type"`
	Output []wireField `json:"output"`
	Input  []wireField `json:"input,omitempty"`
	ID     *int        `json:"_id,omitempty"`
}

type wireField struct {
	Name  string `json:"name"`
	Value any    `json:"value"`
}

// stepBody is the step response, and what a continuing request echoes back.
type stepBody struct {
	AuthID      string         `json:"authId"`
	Callbacks   []wireCallback `json:"callbacks"`
	Header      string         `json:"header,omitempty"`
	Description string         `json:"description,omitempty"`
	Stage       string         `json:"stage,omitempty"`
}

// continueBody is what Arbor reads of a continuing request; unknown fields (the SDK's
// echoed status and ok, outputs, header) are ignored.
type continueBody struct {
	AuthID    *string       `json:"authId"`
	Callbacks *[]wireAnswer `json:"callbacks"`

	// authID is *AuthID as bytes, when the fast path could take them from the body
	// without copying.
	authID []byte
}

// wireAnswer is what Arbor reads of one callback of a continuing request.
type wireAnswer struct {
	Type  string      `json:"type"`
	Input []wireField `json:"input"`
}

type successBody struct {
	TokenID    string `json:"tokenId,omitempty"`
	SuccessURL string `json:"successUrl"`
	Realm      string `json:"realm"`
}

func (s *Server) readBody(c echo.Context) ([]byte, error) {
	return s.readBodyInto(c, nil)
}

// readBodyInto is readBody reading into buf's room when it is enough.
func (s *Server) readBodyInto(c echo.Context, buf []byte) ([]byte, error) {
	r := c.Request()
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		// A request announced without a body (net/http gives it http.NoBody) has
		// nothing to read or bound: a start, a logout by header (2 allocations each).
		return nil, nil
	}
	body, err := readAll(http.MaxBytesReader(c.Response(), r.Body, s.cfg.MaxBodyBytes), buf, r.ContentLength, s.cfg.MaxBodyBytes)
	if err != nil {
		// Declared here, not above: its address escapes, so it is allocated where it
		// is declared, and only a failed read needs it.
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, amError(http.StatusRequestEntityTooLarge, fmt.Sprintf("Request body is larger than %d bytes", s.cfg.MaxBodyBytes))
		}
		return nil, amError(http.StatusBadRequest, "Could not read the request body")
	}
	return body, nil
}

// readAll is io.ReadAll into buf (emptied) starting from the announced length of the
// body (when it is within limit), so that a body is read into one buffer rather than a
// growing series, and into buf itself when it has that room. The announced length is
// only a hint: what is read is what the reader gives.
func readAll(r io.Reader, buf []byte, announced, limit int64) ([]byte, error) {
	size := int64(512)
	switch {
	case announced == 0:
		size = 0 // no body: nothing to allocate
	case announced > 0 && announced <= limit:
		size = announced + 1 // room to see EOF without growing
	}
	b := buf[:0]
	if int64(cap(b)) < size {
		b = make([]byte, 0, size)
	}
	for {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
	}
}

// isJSON reports whether a Content-Type names JSON (application/json or a
// application/*+json type). Only these may carry a login: a cross-site HTML form can send
// text/plain, urlencoded or multipart bodies without the browser asking first, and would
// otherwise complete a login in the victim's browser (login CSRF).
func isJSON(contentType string) bool {
	if contentType == "application/json" {
		return true // what the SDKs send; mime.ParseMediaType would take 1 % of a login's CPU to say so
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}

// errNotJSON answers a body that is not declared as JSON.
var errNotJSON = &amErr{status: http.StatusUnsupportedMediaType, body: crestError{Code: 415, Reason: "Unsupported Media Type",
	Message: "The request body must be JSON, sent with Content-Type: application/json"}}

// errLogoutNotJSON answers a logout that a cross-site form could have sent.
var errLogoutNotJSON = &amErr{status: http.StatusUnsupportedMediaType, body: crestError{Code: 415, Reason: "Unsupported Media Type",
	Message: "A logout must be sent as JSON (Content-Type: application/json), or carry the session header or X-Requested-With"}}

// requireJSON refuses a request whose Content-Type is set and not JSON, or that has a
// body without a Content-Type (a fetch of a Blob sends none).
func requireJSON(r *http.Request, body []byte) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" && len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if !isJSON(ct) {
		return errNotJSON
	}
	return nil
}

func (s *Server) authenticate(c echo.Context, realm string) error {
	noStore(c)
	// The body is read into a pooled buffer: nothing decoded from it keeps its bytes
	// (decodeContinueBody's strings own theirs, the authId is only verified), and an
	// answer's body, about 1.2 KB with a sealed flow's authId, was a login's largest
	// allocation in this package.
	bp := bodyBufs.Get().(*[]byte)
	body, err := s.readBodyInto(c, *bp)
	defer putBodyBuf(bp, body)
	if err != nil {
		return err
	}
	if err := requireJSON(c.Request(), body); err != nil {
		return err
	}
	q := queryOf(c.Request())
	cl := s.door.Client(c.Request(), door.ParseLocale(q.Get("locale")))
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || bytes.Equal(trimmed, []byte("{}")) {
		return s.start(c, realm, q, cl)
	}
	cb, err := decodeContinueBody(trimmed)
	if err != nil {
		return amError(http.StatusBadRequest, "Malformed JSON request body: "+jsonErr(err))
	}
	tok, ok := cb.authIDBytes()
	if !ok || len(tok) == 0 {
		return amError(http.StatusBadRequest, "Missing authId in the request body")
	}
	claims, err := s.authIDs.parse(tok, s.cfg.Now())
	switch {
	case errors.Is(err, errAuthIDExpired):
		return timedOut()
	case err != nil:
		return amError(http.StatusBadRequest, err.Error())
	}
	if claims.Realm != realm {
		return amError(http.StatusBadRequest, fmt.Sprintf("The authId was issued for realm %s, not %s", claims.Realm, realm))
	}
	if cb.Callbacks == nil {
		return amError(http.StatusBadRequest, "Missing callbacks in the request body")
	}
	submitted := make([]nodes.Callback, len(*cb.Callbacks))
	n := 0
	for _, w := range *cb.Callbacks {
		n += len(w.Input)
	}
	inputs := make([]nodes.Field, 0, n) // every callback's inputs, in one allocation
	for i, w := range *cb.Callbacks {
		prefix := idToken(i + 1)
		out := nodes.Callback{Type: w.Type}
		start := len(inputs)
		for _, in := range w.Input {
			if !strings.HasPrefix(in.Name, prefix) || (len(in.Name) > len(prefix) && in.Name[len(prefix)] >= '0' && in.Name[len(prefix)] <= '9') {
				return amError(http.StatusBadRequest, fmt.Sprintf("Callback %d input %q must be named %s", i+1, in.Name, prefix))
			}
			inputs = append(inputs, nodes.Field{Name: strings.TrimPrefix(in.Name, prefix), Value: in.Value})
		}
		if len(inputs) > start {
			out.Input = inputs[start:len(inputs):len(inputs)]
		}
		submitted[i] = out
	}
	out, err := s.door.Continue(c.Request().Context(), door.Continue{Door: doorName, Realm: realm, FlowID: claims.SessionID,
		Answers: submitted, Client: cl, NoSession: noSession(q), Sealed: claims.Flow})
	if err != nil {
		return s.engineError(err)
	}
	return s.respond(c, out, q, cl)
}

// doorName names this door in audit events.
const doorName = "rest"

// noSession reports AM's noSession=true: the journey runs, the core's rules apply, and
// no session is created.
func noSession(q query) bool { return strings.EqualFold(q.Get("noSession"), "true") }

func (s *Server) start(c echo.Context, realm string, q query, cl door.Client) error {
	journey := q.Get("authIndexValue")
	switch t := q.Get("authIndexType"); t {
	case "":
	case "service", "tree", "composite_advice":
		if t == "composite_advice" || journey == "" {
			return amError(http.StatusBadRequest, "authIndexValue must name a journey")
		}
	default:
		return amError(http.StatusBadRequest, "Unknown Authentication Index Type")
	}
	if !strings.EqualFold(q.Get("ForceAuth"), "true") {
		if tok := s.token(c, nil); tok != "" {
			if _, err := s.door.Validate(c.Request().Context(), realm, tok); err == nil {
				return c.JSON(http.StatusOK, successBody{TokenID: tok, SuccessURL: s.door.Redirect(q.Get("goto")), Realm: realm})
			}
		}
	}
	out, err := s.door.Start(c.Request().Context(), door.Start{Door: doorName, Realm: realm, Journey: journey, Client: cl, NoSession: noSession(q), Seal: true})
	if err != nil {
		return s.engineError(err)
	}
	if s.cfg.ZeroPageLogin {
		if out, err = s.zeroPage(c, realm, q, cl, out); err != nil {
			return s.engineError(err)
		}
	}
	return s.respond(c, out, q, cl)
}

func timedOut() error {
	return &amErr{status: http.StatusUnauthorized, body: crestError{Code: 401, Reason: "Unauthorized",
		Message: "Session has timed out", Detail: map[string]any{"errorCode": "110"}}}
}

func (s *Server) engineError(err error) error {
	var ie *engine.InputError
	switch {
	case errors.As(err, &ie):
		return amError(http.StatusBadRequest, ie.Msg)
	case errors.Is(err, engine.ErrFlowNotFound):
		return timedOut()
	case errors.Is(err, engine.ErrJourneyNotFound):
		return amError(http.StatusBadRequest, "No configuration found: unknown journey")
	case errors.Is(err, door.ErrJourneyDisabled):
		return amError(http.StatusBadRequest, "No configuration found: the journey is disabled")
	case errors.Is(err, door.ErrUnknownRealm):
		return amError(http.StatusBadRequest, "Invalid realm")
	case errors.Is(err, engine.ErrStepConflict):
		return amError(http.StatusConflict, "This step was already submitted by another request")
	case errors.Is(err, engine.ErrRealmMismatch):
		return amError(http.StatusBadRequest, "The authId belongs to another realm")
	case errors.Is(err, engine.ErrSealedInvalid):
		return amError(http.StatusBadRequest, "The authId's flow state is not valid")
	}
	return err
}

func (s *Server) respond(c echo.Context, out *door.Outcome, q query, cl door.Client) error {
	res := out.Result
	switch res.Status {
	case engine.NeedInput:
		body := stepBody{
			AuthID:    s.authIDs.issue(res.FlowID, res.Journey, res.Realm, res.Sealed, res.Expires, s.cfg.Now()),
			Callbacks: RenderCallbacks(res.Callbacks),
			Header:    res.Header, Description: res.Description, Stage: res.Stage,
		}
		return writeJSON(c, http.StatusOK, &body)
	case engine.Succeeded:
		body := successBody{SuccessURL: s.door.Redirect(q.Get("goto")), Realm: res.Realm}
		if out.Session != nil {
			body.TokenID = out.Token
			c.SetCookie(door.SessionCookie(s.cfg.CookieName, out.Token, out.Session, cl))
		}
		return writeJSON(c, http.StatusOK, &body)
	default:
		msg := "Login failure"
		if res.FailureMessage != "" {
			msg = res.FailureMessage
		}
		return amError(http.StatusUnauthorized, msg)
	}
}

// idTokens are the input names of the first callbacks of a step, made once.
var idTokens = [...]string{"IDToken1", "IDToken2", "IDToken3", "IDToken4", "IDToken5", "IDToken6", "IDToken7", "IDToken8", "IDToken9"}

// idToken is AM's name of the input of the n-th callback (1-based): IDToken<n>.
func idToken(n int) string {
	if n >= 1 && n <= len(idTokens) {
		return idTokens[n-1]
	}
	return "IDToken" + strconv.Itoa(n)
}

// RenderCallbacks turns nodes' callbacks into AM's wire form: inputs named IDToken<N>
// with N the 1-based position among all callbacks, and _id the 0-based position.
func RenderCallbacks(cbs []nodes.Callback) []wireCallback {
	out := make([]wireCallback, len(cbs))
	ids := make([]int, len(cbs))
	n := 0
	for _, cb := range cbs {
		n += len(cb.Output) + len(cb.Input)
	}
	fields := make([]wireField, 0, n) // every callback's outputs and inputs, in one allocation
	for i, cb := range cbs {
		ids[i] = i
		start := len(fields)
		for _, o := range cb.Output {
			fields = append(fields, wireField{Name: o.Name, Value: o.Value})
		}
		w := wireCallback{Type: cb.Type, Output: fields[start:len(fields):len(fields)], ID: &ids[i]}
		if len(cb.Input) > 0 {
			start = len(fields)
			for _, in := range cb.Input {
				name := idToken(i + 1)
				if in.Name != "" {
					name += in.Name
				}
				fields = append(fields, wireField{Name: name, Value: in.Value})
			}
			w.Input = fields[start:len(fields):len(fields)]
		}
		out[i] = w
	}
	return out
}

func jsonErr(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%s at offset %d", se.Error(), se.Offset)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("field %q has the wrong type (%s)", te.Field, te.Value)
	}
	return err.Error()
}
