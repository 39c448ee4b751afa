package fortigate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
)

// request is the body of POST, PUT and DELETE, field for field as FortiOS reads it.
type request struct {
	Username          string `json:"username"`
	Secretkey         string `json:"secretkey"`
	AckPreDisclaimer  bool   `json:"ack_pre_disclaimer"`
	AckPostDisclaimer bool   `json:"ack_post_disclaimer"`
	RequestKey        bool   `json:"request_key"`
	TokenCode         string `json:"token_code"`
	NewPassword1      string `json:"new_password1"`
	NewPassword2      string `json:"new_password2"`
	SessionKey        string `json:"session_key"`
}

// loginFields reports whether r carries any field only a login (POST) reads.
func (r *request) loginFields() bool {
	return r.Username != "" || r.Secretkey != "" || r.AckPreDisclaimer || r.AckPostDisclaimer || r.RequestKey ||
		r.TokenCode != "" || r.NewPassword1 != "" || r.NewPassword2 != ""
}

// Status codes of a login answer (FortiOS's).
const (
	statusLockedOut      = -4
	statusPreDisclaimer  = -2
	statusFailed         = -1
	statusTFA            = 2
	statusPostDisclaimer = 3
	statusChangePassword = 4
	statusSuccess        = 5
)

var statusMessages = map[int]string{
	statusLockedOut:      "LOGIN_LOCKED_OUT",
	statusPreDisclaimer:  "LOGIN_ACCEPT_PRE_LOGIN_DISCLAIMER",
	statusFailed:         "LOGIN_FAILED",
	statusTFA:            "LOGIN_TFA",
	statusPostDisclaimer: "LOGIN_ACCEPT_POST_LOGIN_DISCLAIMER",
	statusChangePassword: "LOGIN_CHANGE_PWD_NEEDED",
	statusSuccess:        "LOGIN_SUCCESS",
}

// answer is a login's answer. session_key_timeout is a string of minutes, as FortiOS
// sends it ("5").
type answer struct {
	StatusCode          int    `json:"status_code"`
	StatusMessage       string `json:"status_message"`
	SessionKey          string `json:"session_key,omitempty"`
	SessionKeyTimeout   string `json:"session_key_timeout,omitempty"`
	PreLoginDisclaimer  string `json:"pre_login_disclaimer,omitempty"`
	PostLoginDisclaimer string `json:"post_login_disclaimer,omitempty"`
	Error               string `json:"error,omitempty"`
}

// renewal is PUT's answer.
type renewal struct {
	StatusID   string `json:"status_id"`
	Status     string `json:"status"`
	SessionKey string `json:"session_key"`
}

// logout is DELETE's answer.
type logout struct {
	StatusID string `json:"status_id"`
	Status   string `json:"status"`
}

// apiError is the door's error shape, FortiOS's REST API error: the method, "error",
// the HTTP status and what was wrong.
type apiError struct {
	HTTPMethod string `json:"http_method"`
	Status     string `json:"status"`
	HTTPStatus int    `json:"http_status"`
	Error      string `json:"error"`
}

// badRequest is bad input: answered with the error shape and the HTTP status, having
// changed nothing.
type badRequest struct {
	status int
	msg    string
}

func (e *badRequest) Error() string { return e.msg }

func bad(status int, format string, args ...any) error {
	return &badRequest{status: status, msg: fmt.Sprintf(format, args...)}
}

// jsonType reports whether a Content-Type is JSON: application/json, anything with a
// +json suffix, or the bare "json" FortiOS's own examples send. An empty one is taken
// as JSON too (a PUT or DELETE with no body).
func jsonType(ct string) bool {
	if strings.TrimSpace(ct) == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		// "json" alone is not a valid media type; FortiOS's examples send it.
		mt = strings.ToLower(strings.TrimSpace(strings.Split(ct, ";")[0]))
	}
	return mt == "json" || mt == "application/json" || strings.HasSuffix(mt, "+json")
}

// readRequest decodes the body strictly: one JSON object, known fields of the right
// types only, bounded in size. An empty body is an empty request.
func readRequest(r *http.Request, limit int64) (*request, error) {
	if !jsonType(r.Header.Get("Content-Type")) {
		return nil, bad(http.StatusUnsupportedMediaType, "the body must be JSON (Content-Type: application/json or json), not %q", r.Header.Get("Content-Type"))
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, limit))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, bad(http.StatusRequestEntityTooLarge, "the body is larger than %d bytes", limit)
	}
	if err != nil {
		return nil, bad(http.StatusBadRequest, "the body could not be read")
	}
	var req request
	if len(bytes.TrimSpace(body)) == 0 {
		return &req, nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return nil, bad(http.StatusBadRequest, "%s", jsonProblem(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, bad(http.StatusBadRequest, "the body must be one JSON object, with nothing after it")
	}
	return &req, nil
}

// jsonProblem says in a sentence what is wrong with a body encoding/json refused.
func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te) && te.Field != "":
		return fmt.Sprintf("field %q must be a %s, not a JSON %s", te.Field, kindOf(te.Type.Kind().String()), te.Value)
	case errors.As(err, &te):
		return fmt.Sprintf("the body must be a JSON object, not a JSON %s", te.Value)
	case errors.As(err, &se):
		return fmt.Sprintf("the body is not valid JSON (at byte %d)", se.Offset)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "the body is not valid JSON (it ends too soon)"
	}
	return "the body is not valid JSON"
}

func kindOf(k string) string {
	if k == "bool" {
		return "boolean"
	}
	return k
}
