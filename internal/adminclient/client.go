// Package adminclient is a typed Go client of Arbor's admin REST API
// (/api/admin/v1, see the README section "Admin API"). The arbor CLI's `users` and
// `journeys` admin commands and the end-to-end tests use it; scripts in Go can too.
//
// Every method returns the API's answer decoded, or an error. A refusal by the API (any
// status other than 2xx) is an *Error carrying the API's stable code, its message and,
// for a journey the API refused, the problems with their JSON pointers; callers branch
// on Error.Code (or errors.As) rather than on the HTTP status.
package adminclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/arbor-auth/arbor/nodes"
)

// Prefix is the path under which the admin API lives.
const Prefix = "/api/admin/v1"

// DefaultURL is the server a client talks to when no URL is given (ARBOR_URL's default).
const DefaultURL = "http://127.0.0.1:8080"

// MaxResponseBytes bounds how much of an answer the client reads: the largest answers
// (a journey with its document, a user list) are far smaller.
const MaxResponseBytes = 16 << 20

// Client calls one Arbor server's admin API with an API token.
type Client struct {
	// URL is the server's base URL (DefaultURL if empty), without the API prefix.
	URL string
	// Token is the API token ("arbor_<id>_<secret>"), sent as a bearer token.
	Token string
	// HTTP is the client requests go through (a client with a 30 s timeout if nil).
	HTTP *http.Client
	// OnResponse, if set, sees every answer's status and raw body (a refusal's error
	// JSON too) before it is decoded: the CLI's --json prints it as the API sent it.
	OnResponse func(status int, body []byte)
}

// Error is the API's refusal of a request: {"code","message","problems"} and the status.
type Error struct {
	// Status is the HTTP status (401, 403, 404, 409, 412, 422, ...).
	Status int `json:"-"`
	// Code is the API's stable identifier of the refusal ("journey.stale_version").
	Code string `json:"code"`
	// Message is the API's sentence for a person.
	Message string `json:"message"`
	// Problems lists what is wrong with a journey document, each at a JSON pointer.
	Problems []Problem `json:"problems,omitempty"`
}

// Error returns the API's message, prefixed by its code.
func (e *Error) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	if e.Code == "" {
		return fmt.Sprintf("HTTP %d: %s", e.Status, msg)
	}
	return fmt.Sprintf("%s: %s", e.Code, msg)
}

// Problem is one thing wrong with a journey document, as the server's validation
// reports it: the same type the offline `arbor journeys validate` prints.
type Problem = nodes.Problem

// IsCode reports whether err is an API refusal with the given code.
func IsCode(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}

// request is one call: method and path under Prefix, query, JSON body and headers.
type request struct {
	method, path string
	query        url.Values
	body         []byte // sent as JSON when non-nil
	ifMatch      int    // sent as If-Match: "N" when positive
	// probe marks a read the client makes for itself (the current version before a
	// save): OnResponse does not see it.
	probe bool
}

// response is a successful answer.
type response struct {
	status int
	etag   string
	body   []byte
}

// do sends req and returns the answer, or *Error for a refusal.
func (c *Client) do(ctx context.Context, req request) (*response, error) {
	base := c.URL
	if base == "" {
		base = DefaultURL
	}
	u := strings.TrimSuffix(base, "/") + Prefix + req.path
	if len(req.query) > 0 {
		u += "?" + req.query.Encode()
	}
	var body io.Reader
	if req.body != nil {
		body = bytes.NewReader(req.body)
	}
	hr, err := http.NewRequestWithContext(ctx, req.method, u, body)
	if err != nil {
		return nil, fmt.Errorf("admin API %s %s: %w", req.method, req.path, err)
	}
	hr.Header.Set("Accept", "application/json")
	if req.body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		hr.Header.Set("Authorization", "Bearer "+c.Token)
	}
	if req.ifMatch > 0 {
		hr.Header.Set("If-Match", strconv.Quote(strconv.Itoa(req.ifMatch)))
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := hc.Do(hr)
	if err != nil {
		return nil, fmt.Errorf("admin API %s %s: %w", req.method, req.path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes))
	if err != nil {
		return nil, fmt.Errorf("admin API %s %s: read answer: %w", req.method, req.path, err)
	}
	if c.OnResponse != nil && !req.probe {
		c.OnResponse(resp.StatusCode, raw)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := &Error{Status: resp.StatusCode}
		if json.Unmarshal(raw, e) != nil || (e.Code == "" && e.Message == "") {
			// Not the API's error shape (a proxy's page, a server without the admin API):
			// say what came back, briefly.
			e.Code, e.Message = "", strings.TrimSpace(string(raw))
			if len(e.Message) > 200 {
				e.Message = e.Message[:200] + "..."
			}
			if e.Message == "" {
				e.Message = http.StatusText(resp.StatusCode)
			}
		}
		return nil, e
	}
	return &response{status: resp.StatusCode, etag: resp.Header.Get("ETag"), body: raw}, nil
}

// call sends req and decodes a successful answer's body into out (unless out is nil or
// the answer has no body).
func (c *Client) call(ctx context.Context, req request, out any) (*response, error) {
	resp, err := c.do(ctx, req)
	if err != nil {
		return nil, err
	}
	if out != nil && len(bytes.TrimSpace(resp.body)) > 0 {
		if err := json.Unmarshal(resp.body, out); err != nil {
			return nil, fmt.Errorf("admin API %s %s: decode answer: %w", req.method, req.path, err)
		}
	}
	return resp, nil
}

// jsonBody encodes v for a request body.
func jsonBody(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		// Only the package's own request types are encoded here; they always encode.
		panic(fmt.Sprintf("adminclient: encode request: %v", err))
	}
	return b
}

// seg escapes one path segment (a journey or user name, a handle).
func seg(s string) string { return url.PathEscape(s) }

// realmQuery is ?realm=R, or no query for the default realm.
func realmQuery(realm string) url.Values {
	if realm == "" {
		return nil
	}
	return url.Values{"realm": {realm}}
}
