package api

import (
	"mime"

	"github.com/labstack/echo/v4"

	"github.com/arbor-auth/arbor/door"
	"github.com/arbor-auth/arbor/engine"
	"github.com/arbor-auth/arbor/nodes"
)

// AM's zero-page login headers: a client (frodo-cli, amster, scripts) that knows the
// user name and password sends them with the first, empty POST of /json/authenticate
// and AM fills the journey's first Name and Password callbacks with them.
const (
	headerUsername = "X-OpenAM-Username"
	headerPassword = "X-OpenAM-Password"
)

// zeroPage answers the first step of a flow from the zero-page login headers, as AM
// does: when the step asks only for a user name and a password and the headers give
// both, they are submitted through the door core (so the journey's nodes check them,
// with the guessing defence and the session rules of any other login) and the answer
// is where that leads: a session, a failure, or the journey's next callbacks. Any other
// first step is answered as it is, and the client goes on with callbacks.
//
// Values may be RFC 2047 encoded words (=?UTF-8?B?...?=), as AM reads them, so that
// names and passwords outside ASCII fit in a header; one in a charset Go cannot read is
// a 400.
func (s *Server) zeroPage(c echo.Context, realm string, q query, cl door.Client, out *door.Outcome) (*door.Outcome, error) {
	h := c.Request().Header
	rawUser := h.Values(headerUsername)
	if len(rawUser) == 0 || out.Status != engine.NeedInput || len(out.Callbacks) == 0 {
		return out, nil
	}
	var dec mime.WordDecoder
	user, err := dec.DecodeHeader(firstOf(rawUser))
	if err != nil {
		return nil, amError(400, "The X-OpenAM-Username header is not a valid encoded word")
	}
	pass, hasPass := "", false
	if raw := h.Values(headerPassword); len(raw) > 0 {
		if pass, err = dec.DecodeHeader(firstOf(raw)); err != nil {
			return nil, amError(400, "The X-OpenAM-Password header is not a valid encoded word")
		}
		hasPass = true
	}
	answers := make([]nodes.Callback, len(out.Callbacks))
	for i, cb := range out.Callbacks {
		var v string
		switch {
		case cb.Type == nodes.TypeName:
			v = user
		case cb.Type == nodes.TypePassword && hasPass:
			v = pass
		default:
			return out, nil // more than a name and a password: the client answers
		}
		answers[i] = nodes.Callback{Type: cb.Type, Input: []nodes.Field{{Name: "", Value: v}}}
	}
	return s.door.Continue(c.Request().Context(), door.Continue{Door: doorName, Realm: realm, FlowID: out.FlowID,
		Answers: answers, Client: cl, NoSession: noSession(q), Sealed: out.Sealed})
}

func firstOf(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}
