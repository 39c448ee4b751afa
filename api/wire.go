package api

import (
	"bytes"
	"encoding/json"
	"strconv"
	"sync"

	"github.com/labstack/echo/v4"

	"github.com/arbor-auth/arbor/internal/jsonx"
	"github.com/arbor-auth/arbor/nodes"
)

// The bodies of /authenticate are read and written through package jsonx, the JSON
// fast path that falls back to encoding/json for anything it is not sure of: the
// results, what is accepted and every error message are encoding/json's.

// decodeContinueBody decodes the body of a continuing request. A body that is one JSON
// document takes the fast path; anything else (including trailing data after the
// document, which a json.Decoder has always accepted here) is decoded with a
// json.Decoder, whose error is returned.
func decodeContinueBody(body []byte) (continueBody, error) {
	var cb continueBody
	if cb.decodeJSON(body) == nil {
		return cb, nil
	}
	cb = continueBody{}
	err := json.NewDecoder(bytes.NewReader(body)).Decode(&cb)
	return cb, err
}

// authIDBytes returns the authId of the body, and whether it had one.
func (cb *continueBody) authIDBytes() ([]byte, bool) {
	if cb.authID != nil {
		return cb.authID, true
	}
	if cb.AuthID != nil {
		return []byte(*cb.AuthID), true
	}
	return nil, false
}

// decodeJSON is the fast path of decodeContinueBody: jsonx.ErrFallback for anything it
// is unsure of. It leaves the authId in cb.authID (see authIDBytes), not in AuthID.
var continueFields = []string{"authId", "callbacks"}

func (cb *continueBody) decodeJSON(body []byte) error {
	return jsonx.DecodeObject(body, continueFields, func(d *jsonx.Decoder, i int) (err error) {
		switch {
		case d.Null():
			// A null leaves the pointer nil, as with encoding/json.
		case i == 0:
			// Kept as bytes of the body: the authId is only verified, never stored.
			cb.authID, err = d.StringBytes()
			if cb.authID == nil {
				cb.authID = []byte{}
			}
		default:
			var answers []wireAnswer
			answers, err = decodeAnswers(d)
			cb.Callbacks = &answers
		}
		return err
	})
}

func decodeAnswers(d *jsonx.Decoder) ([]wireAnswer, error) {
	return jsonx.Array(d, func(d *jsonx.Decoder) (wireAnswer, error) {
		var a wireAnswer
		err := a.decodeJSON(d)
		return a, err
	})
}

var answerFields = []string{"type", "input"}

// callbackTypes are the callback types Arbor's nodes send, and inputNames the names of
// the first inputs of a page: what a continuing request sends back on every step, read
// as these strings instead of copies of the body's (see knownString).
var (
	callbackTypes = []string{nodes.TypeName, nodes.TypePassword, nodes.TypeTextInput, nodes.TypeChoice,
		nodes.TypeConfirmation, nodes.TypeTextOutput, nodes.TypePollingWait, nodes.TypeHiddenValue,
		nodes.TypeMetadata, nodes.TypeDeviceProf}
	inputNames = func() []string {
		names := make([]string, 9)
		for i := range names {
			names[i] = "IDToken" + strconv.Itoa(i+1)
		}
		return names
	}()
)

// knownString reads a string as d.String does, but returns the one of known it equals
// without allocating a copy.
func knownString(d *jsonx.Decoder, known []string) (string, error) {
	b, err := d.StringBytes()
	if err != nil {
		return string(b), err
	}
	for _, k := range known {
		if string(b) == k {
			return k, nil
		}
	}
	return string(b), nil
}

func (a *wireAnswer) decodeJSON(d *jsonx.Decoder) error {
	return jsonx.Object(d, answerFields, func(i int) (err error) {
		switch {
		case i == 0:
			a.Type, err = knownString(d, callbackTypes)
		case d.Null():
			a.Input = nil
		default:
			a.Input, err = decodeFields(d)
		}
		return err
	})
}

func decodeFields(d *jsonx.Decoder) ([]wireField, error) {
	return jsonx.Array(d, func(d *jsonx.Decoder) (wireField, error) {
		var f wireField
		err := f.decodeJSON(d)
		return f, err
	})
}

var fieldFields = []string{"name", "value"}

func (f *wireField) decodeJSON(d *jsonx.Decoder) error {
	return jsonx.Object(d, fieldFields, func(i int) (err error) {
		if i == 0 {
			f.Name, err = knownString(d, inputNames)
		} else {
			f.Value, err = d.Any()
		}
		return err
	})
}

// preencoded is a constant body with its encoding done once: v, and what json.Encoder
// writes for it (json.Marshal's output and a newline).
type preencoded struct {
	v any
	b []byte
}

func preencode(v any) preencoded {
	b, err := json.Marshal(v)
	if err != nil {
		panic("api: preencode: " + err.Error())
	}
	return preencoded{v: v, b: append(b, '\n')}
}

// logoutBody is the answer to a logout.
var logoutBody = preencode(map[string]string{"result": "Successfully logged out"})

// bodyBufs recycles the buffers answers are encoded into (the response writer copies
// what it is given, so a buffer is free again once written) and those authenticate
// reads request bodies into (see there).
var bodyBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// putBodyBuf gives bp back to bodyBufs, holding b's array when b was read or encoded
// into bp's and outgrew it. A rare large body's array is left to the collector.
func putBodyBuf(bp *[]byte, b []byte) {
	if cap(b) > cap(*bp) {
		*bp = b
	}
	if cap(*bp) <= 64<<10 {
		*bp = (*bp)[:0]
		bodyBufs.Put(bp)
	}
}

// contentTypeJSON is the Content-Type echo's JSONBlob sets, shared by every answer.
var contentTypeJSON = []string{echo.MIMEApplicationJSON}

// writeJSON answers with v as echo's c.JSON would, byte for byte (json.Encoder output,
// a newline included), encoding stepBody and successBody without reflection.
func writeJSON(c echo.Context, code int, v any) error {
	if queryOf(c.Request()).Has("pretty") || c.Echo().Debug {
		if p, ok := v.(preencoded); ok {
			v = p.v
		}
		return c.JSON(code, v)
	}
	// Set as echo's Blob would set it, from a shared value (see noStore): no slice
	// allocated, no key canonicalised, on every answer.
	if h := c.Response().Header(); h.Get(echo.HeaderContentType) == "" {
		h[echo.HeaderContentType] = contentTypeJSON
	}
	var err error
	bp := bodyBufs.Get().(*[]byte)
	b := (*bp)[:0]
	switch x := v.(type) {
	case preencoded:
		bodyBufs.Put(bp)
		return c.JSONBlob(code, x.b)
	case *stepBody:
		b, err = x.appendJSON(b)
	case *successBody:
		b, err = x.appendJSON(b)
	default:
		bodyBufs.Put(bp)
		return c.JSON(code, v)
	}
	if err == nil {
		b = append(b, '\n')
		err = c.JSONBlob(code, b)
	} else {
		err = c.JSON(code, v) // encoding/json reports it
	}
	putBodyBuf(bp, b)
	return err
}

func (s *stepBody) appendJSON(b []byte) ([]byte, error) {
	b = append(b, `{"authId":`...)
	b = jsonx.AppendString(b, s.AuthID)
	b = append(b, `,"callbacks":`...)
	if s.Callbacks == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range s.Callbacks {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = s.Callbacks[i].appendJSON(b); err != nil {
				return b, err
			}
		}
		b = append(b, ']')
	}
	for _, f := range [...]struct{ name, value string }{{`,"header":`, s.Header}, {`,"description":`, s.Description}, {`,"stage":`, s.Stage}} {
		if f.value != "" {
			b = append(b, f.name...)
			b = jsonx.AppendString(b, f.value)
		}
	}
	return append(b, '}'), nil
}

func (w *wireCallback) appendJSON(b []byte) ([]byte, error) {
	b = append(b, `{"type":`...)
	b = jsonx.AppendString(b, w.Type)
	b = append(b, `,"output":`...)
	var err error
	if b, err = appendFields(b, w.Output); err != nil {
		return b, err
	}
	if len(w.Input) > 0 {
		b = append(b, `,"input":`...)
		if b, err = appendFields(b, w.Input); err != nil {
			return b, err
		}
	}
	if w.ID != nil {
		b = append(b, `,"_id":`...)
		b = strconv.AppendInt(b, int64(*w.ID), 10)
	}
	return append(b, '}'), nil
}

func appendFields(b []byte, fs []wireField) ([]byte, error) {
	if fs == nil {
		return append(b, "null"...), nil
	}
	b = append(b, '[')
	for i, f := range fs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":`...)
		b = jsonx.AppendString(b, f.Name)
		b = append(b, `,"value":`...)
		var err error
		if b, err = jsonx.AppendValue(b, f.Value); err != nil {
			return b, err
		}
		b = append(b, '}')
	}
	return append(b, ']'), nil
}

func (s *successBody) appendJSON(b []byte) ([]byte, error) {
	b = append(b, '{')
	if s.TokenID != "" {
		b = append(b, `"tokenId":`...)
		b = jsonx.AppendString(b, s.TokenID)
		b = append(b, ',')
	}
	b = append(b, `"successUrl":`...)
	b = jsonx.AppendString(b, s.SuccessURL)
	b = append(b, `,"realm":`...)
	b = jsonx.AppendString(b, s.Realm)
	return append(b, '}'), nil
}

var claimFields = []string{"otk", "authIndexType", "authIndexValue", "realm", "sessionId", "exp", "iat", "flow"}

// decodeClaims decodes an authId's claims as json.Unmarshal would. src, if not empty,
// is raw as a string: the claims' strings are cut from it (one copy for the six of
// them; 5 allocations fewer per answer, with exp and iat stored together).
func decodeClaims(raw []byte, src string) (authIDClaims, error) {
	var cl authIDClaims
	if cl.decodeJSON(raw, src) == nil {
		return cl, nil
	}
	cl = authIDClaims{}
	err := json.Unmarshal(raw, &cl)
	return cl, err
}

func (cl *authIDClaims) decodeJSON(raw []byte, src string) error {
	nums := new([2]float64) // exp and iat, in one allocation
	return jsonx.DecodeObjectShared(raw, src, claimFields, func(d *jsonx.Decoder, i int) (err error) {
		if i == 7 {
			cl.Flow, err = d.String()
			return err
		}
		if i >= 5 {
			if d.Null() {
				return nil
			}
			f := &nums[i-5]
			*f, err = d.Float()
			if i == 5 {
				cl.Exp = f
			} else {
				cl.Iat = f
			}
			return err
		}
		var s string
		s, err = d.String()
		switch i {
		case 0:
			cl.OTK = s
		case 1:
			cl.AuthIndexType = s
		case 2:
			cl.AuthIndexValue = s
		case 3:
			cl.Realm = s
		case 4:
			cl.SessionID = s
		}
		return err
	})
}
