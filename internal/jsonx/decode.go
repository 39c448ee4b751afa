// Package jsonx is a fast path for the few JSON documents Arbor reads and writes on
// every login step: the step a client submits, the flow state, the authId claims, the
// session and the user record. encoding/json spends most of its time there in
// reflection and in scanning every byte twice; these hand-written decoders and
// encoders do neither.
//
// The fast path never decides anything on its own. A decoder built on Decoder handles
// only input it is certain encoding/json would decode to the very same values: a JSON
// document that is valid, has no duplicate or case-folded field names where a struct is
// decoded, no \u escapes that need surrogate handling, no invalid UTF-8 in the strings it
// keeps and no numbers encoding/json would refuse. On anything else its methods return
// ErrFallback and the caller decodes the same bytes with encoding/json, which stays the
// authority for every result and every error message. The encoders produce exactly the
// bytes json.Marshal would (HTML-safe escaping, sorted map keys, the same float
// format) and hand any type they do not know to json.Marshal. Differential fuzz tests
// against encoding/json hold both halves to that.
package jsonx

import (
	"errors"
	"strconv"
	"unicode/utf8"
)

// ErrFallback reports that the input is outside what the fast path decodes; decode it
// with encoding/json instead.
var ErrFallback = errors.New("jsonx: not handled by the fast path; use encoding/json")

// maxDepth bounds nesting; deeper documents go to encoding/json (which allows 10000).
const maxDepth = 100

// Decoder reads one JSON document from a byte slice. The zero value is not usable; use
// NewDecoder. Every method returns ErrFallback on anything unexpected, after which the
// Decoder must not be used further.
//
// Objects and arrays are read as loops, with no callbacks (so a Decoder and what it
// decodes into can stay on the stack):
//
//	if err := d.ObjectStart(); err != nil { ... }
//	for {
//		name, ok, err := d.Member()
//		if err != nil { ... }
//		if !ok { break } // the closing brace was read
//		... read the member's value, or d.Skip() ...
//	}
type Decoder struct {
	b []byte
	// src, when not empty, holds the same bytes as b (see NewSharedDecoder).
	src   string
	i     int
	depth int
	// first is set right after an opening brace or bracket: the next member or element
	// needs no comma before it.
	first bool
}

// NewDecoder returns a Decoder reading b, which must not change while it is in use.
func NewDecoder(b []byte) Decoder { return Decoder{b: b} }

// NewSharedDecoder is NewDecoder for a document the caller also holds as the string
// src: String and Any then return each string without escapes as a substring of src
// instead of a copy, so that decoding a document's strings costs one copy (of src) in
// all rather than one each. The strings keep all of src alive. If src is not b's
// bytes, it is not used.
func NewSharedDecoder(b []byte, src string) Decoder {
	if string(b) != src {
		src = ""
	}
	return Decoder{b: b, src: src}
}

func (d *Decoder) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// peek returns the next byte after white space, or 0 at the end.
func (d *Decoder) peek() byte {
	d.ws()
	if d.i < len(d.b) {
		return d.b[d.i]
	}
	return 0
}

// Finish checks that nothing but white space follows the document.
func (d *Decoder) Finish() error {
	if d.peek() != 0 || d.i != len(d.b) || d.depth != 0 {
		return ErrFallback
	}
	return nil
}

// Null consumes a null if one comes next and reports whether it did.
func (d *Decoder) Null() bool {
	if d.peek() == 'n' && d.literal("null") {
		return true
	}
	return false
}

func (d *Decoder) literal(lit string) bool {
	if len(d.b)-d.i >= len(lit) && string(d.b[d.i:d.i+len(lit)]) == lit {
		d.i += len(lit)
		return true
	}
	return false
}

// open reads the opening byte c of an object or array.
func (d *Decoder) open(c byte) error {
	if d.peek() != c {
		return ErrFallback
	}
	d.i++
	if d.depth++; d.depth > maxDepth {
		return ErrFallback
	}
	d.first = true
	return nil
}

// next moves to the next member or element of the object or array being read, whose
// closing byte is end: it reports false, having read end, when there is none.
func (d *Decoder) next(end byte) (bool, error) {
	c := d.peek()
	if c == end {
		d.i++
		d.depth--
		d.first = false
		return false, nil
	}
	if d.first {
		d.first = false
		return true, nil
	}
	if c != ',' {
		return false, ErrFallback
	}
	d.i++
	return true, nil
}

// ObjectStart reads the opening brace of an object; read its members with Member.
func (d *Decoder) ObjectStart() error { return d.open('{') }

// Member reads the name of the next member of the object being read and the colon after
// it, leaving the Decoder at the member's value, which the caller must read (or Skip).
// It reports false, having read the closing brace, when there are no more members.
// name is part of the input. Names that are not plain ASCII without escapes are
// refused, so that a caller matching them against struct field names needs only ASCII
// case folding to know what encoding/json would match.
func (d *Decoder) Member() (name []byte, ok bool, err error) {
	if ok, err = d.next('}'); !ok || err != nil {
		return nil, ok, err
	}
	if d.peek() != '"' {
		return nil, false, ErrFallback
	}
	start := d.i + 1
	end := start
	for ; end < len(d.b); end++ {
		c := d.b[end]
		if c == '"' {
			break
		}
		if c < 0x20 || c == '\\' || c >= utf8.RuneSelf {
			return nil, false, ErrFallback
		}
	}
	if end >= len(d.b) {
		return nil, false, ErrFallback
	}
	d.i = end + 1
	if d.peek() != ':' {
		return nil, false, ErrFallback
	}
	d.i++
	return d.b[start:end:end], true, nil
}

// ArrayStart reads the opening bracket of an array; read its elements with Element.
func (d *Decoder) ArrayStart() error { return d.open('[') }

// Element moves to the next element of the array being read, which the caller must then
// read (or Skip). It reports false, having read the closing bracket, when there are no
// more elements.
func (d *Decoder) Element() (bool, error) { return d.next(']') }

// String reads a string.
func (d *Decoder) String() (string, error) {
	if d.peek() != '"' {
		return "", ErrFallback
	}
	return d.str()
}

// StringBytes reads a string and returns its contents without copying them when it
// has no escapes: then the result is part of the input, which must not change while
// it is in use.
func (d *Decoder) StringBytes() ([]byte, error) {
	if d.peek() != '"' {
		return nil, ErrFallback
	}
	return d.strBytes()
}

// str reads the string starting at d.i.
func (d *Decoder) str() (string, error) {
	start := d.i + 1
	b, err := d.strBytes()
	// Unescaped contents are as long as their text (escapes only shrink): those are
	// src's bytes from start on.
	if err == nil && d.src != "" && d.i == start+len(b)+1 {
		return d.src[start : start+len(b)], nil
	}
	return string(b), err
}

// strBytes reads the string starting at d.i.
func (d *Decoder) strBytes() ([]byte, error) {
	start := d.i + 1
	ascii := true
	for j := start; j < len(d.b); j++ {
		switch c := d.b[j]; {
		case c == '"':
			s := d.b[start:j:j]
			if !ascii && !utf8.Valid(s) {
				return nil, ErrFallback // encoding/json replaces invalid bytes
			}
			d.i = j + 1
			return s, nil
		case c == '\\':
			return d.escapedStr(start)
		case c < 0x20:
			return nil, ErrFallback
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return nil, ErrFallback
}

// escapedStr reads a string with escapes whose contents start at start.
func (d *Decoder) escapedStr(start int) ([]byte, error) {
	buf := make([]byte, 0, 64)
	j := start
	for j < len(d.b) {
		c := d.b[j]
		switch {
		case c == '"':
			if !utf8.Valid(buf) {
				return nil, ErrFallback
			}
			d.i = j + 1
			return buf, nil
		case c < 0x20:
			return nil, ErrFallback
		case c != '\\':
			buf = append(buf, c)
			j++
			continue
		}
		if j+1 >= len(d.b) {
			return nil, ErrFallback
		}
		switch e := d.b[j+1]; e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, ok := hex4(d.b[j+2:])
			if !ok || (r >= 0xD800 && r < 0xE000) {
				// Surrogates (pairs or not) are encoding/json's business.
				return nil, ErrFallback
			}
			buf = utf8.AppendRune(buf, r)
			j += 6
			continue
		default:
			return nil, ErrFallback
		}
		j += 2
	}
	return nil, ErrFallback
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// number reads a number as the JSON grammar defines it and returns its text and
// whether it is a plain integer.
func (d *Decoder) number() ([]byte, bool, error) {
	start := d.i
	j := start
	if j < len(d.b) && d.b[j] == '-' {
		j++
	}
	switch {
	case j < len(d.b) && d.b[j] == '0':
		j++
	case j < len(d.b) && d.b[j] >= '1' && d.b[j] <= '9':
		for j < len(d.b) && d.b[j] >= '0' && d.b[j] <= '9' {
			j++
		}
	default:
		return nil, false, ErrFallback
	}
	integer := true
	if j < len(d.b) && d.b[j] == '.' {
		integer = false
		j++
		k := j
		for j < len(d.b) && d.b[j] >= '0' && d.b[j] <= '9' {
			j++
		}
		if j == k {
			return nil, false, ErrFallback
		}
	}
	if j < len(d.b) && (d.b[j] == 'e' || d.b[j] == 'E') {
		integer = false
		j++
		if j < len(d.b) && (d.b[j] == '+' || d.b[j] == '-') {
			j++
		}
		k := j
		for j < len(d.b) && d.b[j] >= '0' && d.b[j] <= '9' {
			j++
		}
		if j == k {
			return nil, false, ErrFallback
		}
	}
	d.i = j
	return d.b[start:j], integer, nil
}

// Int reads an integer written without fraction or exponent that fits an int64, as
// encoding/json accepts into an integer field.
func (d *Decoder) Int() (int64, error) {
	if c := d.peek(); c != '-' && (c < '0' || c > '9') {
		return 0, ErrFallback
	}
	s, integer, err := d.number()
	if err != nil || !integer {
		return 0, ErrFallback
	}
	n, err := strconv.ParseInt(string(s), 10, 64)
	if err != nil {
		return 0, ErrFallback
	}
	return n, nil
}

// Float reads a number as a float64, as encoding/json does into a float64 or an any.
func (d *Decoder) Float() (float64, error) {
	if c := d.peek(); c != '-' && (c < '0' || c > '9') {
		return 0, ErrFallback
	}
	s, _, err := d.number()
	if err != nil {
		return 0, ErrFallback
	}
	f, err := strconv.ParseFloat(string(s), 64)
	if err != nil {
		return 0, ErrFallback
	}
	return f, nil
}

// Bool reads true or false.
func (d *Decoder) Bool() (bool, error) {
	switch d.peek() {
	case 't':
		if d.literal("true") {
			return true, nil
		}
	case 'f':
		if d.literal("false") {
			return false, nil
		}
	}
	return false, ErrFallback
}

// Raw reads any value and returns its text, for types that decode themselves
// (time.Time's UnmarshalJSON gets exactly these bytes from encoding/json too).
func (d *Decoder) Raw() ([]byte, error) {
	d.ws()
	start := d.i
	if err := d.Skip(); err != nil {
		return nil, err
	}
	return d.b[start:d.i], nil
}

// Skip reads any value and discards it, checking only that it is valid JSON.
func (d *Decoder) Skip() error {
	switch c := d.peek(); {
	case c == '{':
		if err := d.ObjectStart(); err != nil {
			return err
		}
		for {
			_, ok, err := d.Member()
			if err != nil || !ok {
				return err
			}
			if err := d.Skip(); err != nil {
				return err
			}
		}
	case c == '[':
		if err := d.ArrayStart(); err != nil {
			return err
		}
		for {
			ok, err := d.Element()
			if err != nil || !ok {
				return err
			}
			if err := d.Skip(); err != nil {
				return err
			}
		}
	case c == '"':
		for j := d.i + 1; j < len(d.b); j++ {
			switch c := d.b[j]; {
			case c == '"':
				d.i = j + 1
				return nil
			case c == '\\':
				if j+1 >= len(d.b) {
					return ErrFallback
				}
				switch d.b[j+1] {
				case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
					j++
				case 'u':
					if _, ok := hex4(d.b[j+2:]); !ok {
						return ErrFallback
					}
					j += 5
				default:
					return ErrFallback
				}
			case c < 0x20:
				return ErrFallback
			}
		}
		return ErrFallback
	case c == 't', c == 'f':
		_, err := d.Bool()
		return err
	case c == 'n':
		if d.Null() {
			return nil
		}
		return ErrFallback
	case c == '-' || c >= '0' && c <= '9':
		_, _, err := d.number()
		return err
	}
	return ErrFallback
}

// Any reads any value as encoding/json decodes it into an any: objects as
// map[string]any, arrays as []any (never nil), numbers as float64.
func (d *Decoder) Any() (any, error) {
	switch c := d.peek(); {
	case c == '{':
		if err := d.open('{'); err != nil {
			return nil, err
		}
		m := map[string]any{}
		for {
			ok, err := d.next('}')
			if err != nil {
				return nil, err
			}
			if !ok {
				return m, nil
			}
			// Map keys may hold escapes and any UTF-8: no struct field to fold to.
			if d.peek() != '"' {
				return nil, ErrFallback
			}
			k, err := d.str()
			if err != nil {
				return nil, err
			}
			if d.peek() != ':' {
				return nil, ErrFallback
			}
			d.i++
			v, err := d.Any()
			if err != nil {
				return nil, err
			}
			m[k] = v
		}
	case c == '[':
		if err := d.ArrayStart(); err != nil {
			return nil, err
		}
		// Read into a stack buffer and copied out once at the end: appended to from
		// empty, a short array (a page's layout, a flow's factors) took an allocation
		// per doubling.
		var buf [8]any
		a := buf[:0]
		for {
			ok, err := d.Element()
			if err != nil {
				return nil, err
			}
			if !ok {
				return append(make([]any, 0, len(a)), a...), nil
			}
			v, err := d.Any()
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
	case c == '"':
		return d.str()
	case c == 't', c == 'f':
		return d.Bool()
	case c == 'n':
		if d.Null() {
			return nil, nil
		}
	case c == '-' || c >= '0' && c <= '9':
		return d.Float()
	}
	return nil, ErrFallback
}

// Fields tracks which fields of a struct an object has set, so that a decoder can
// refuse what encoding/json would treat in its own way: a field named twice (it merges
// into the earlier value) or named in another case (it matches case-insensitively).
type Fields struct {
	names []string
	seen  uint64
}

// NewFields returns a Fields for the JSON names of a struct's fields (at most 64).
func NewFields(names ...string) Fields {
	if len(names) > 64 {
		panic("jsonx: more than 64 fields")
	}
	return Fields{names: names}
}

// Match returns the index of the field called name, or -1 for a name that matches no
// field in any case, which encoding/json ignores too. A field named twice, or a name
// that matches a field only when case is ignored, gives ErrFallback.
func (f *Fields) Match(name []byte) (int, error) {
	for i, n := range f.names {
		if string(name) == n {
			if f.seen&(1<<i) != 0 {
				return 0, ErrFallback
			}
			f.seen |= 1 << i
			return i, nil
		}
	}
	for _, n := range f.names {
		if equalFoldASCII(name, n) {
			return 0, ErrFallback
		}
	}
	return -1, nil
}

func equalFoldASCII(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// Array reads a JSON array, decoding each element with elem. It returns an empty, not
// nil, slice for [], as encoding/json does.
func Array[T any](d *Decoder, elem func(*Decoder) (T, error)) ([]T, error) {
	out := []T{}
	if err := d.ArrayStart(); err != nil {
		return nil, err
	}
	for {
		more, err := d.Element()
		if err != nil || !more {
			return out, err
		}
		v, err := elem(d)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
}

// Object reads a JSON object. For each member named in names it calls field with the
// name's index, and field reads the value; members of no name are skipped, as
// encoding/json ignores them. A name given twice, or one that matches only when case is
// ignored, gives ErrFallback (see Fields.Match).
func Object(d *Decoder, names []string, field func(i int) error) error {
	fields := NewFields(names...)
	if err := d.ObjectStart(); err != nil {
		return err
	}
	for {
		name, more, err := d.Member()
		if err != nil || !more {
			return err
		}
		i, err := fields.Match(name)
		switch {
		case err != nil:
		case i < 0:
			err = d.Skip()
		default:
			err = field(i)
		}
		if err != nil {
			return err
		}
	}
}

// DecodeObject reads data as one JSON object with Object and checks nothing follows it.
func DecodeObject(data []byte, names []string, field func(d *Decoder, i int) error) error {
	return decodeObject(NewDecoder(data), names, field)
}

// DecodeObjectShared is DecodeObject with a NewSharedDecoder of data and src.
func DecodeObjectShared(data []byte, src string, names []string, field func(d *Decoder, i int) error) error {
	return decodeObject(NewSharedDecoder(data, src), names, field)
}

func decodeObject(d Decoder, names []string, field func(d *Decoder, i int) error) error {
	if err := Object(&d, names, func(i int) error { return field(&d, i) }); err != nil {
		return err
	}
	return d.Finish()
}

// AnyObject reads a JSON object as Any does, as a map; any other value gives ErrFallback.
func (d *Decoder) AnyObject() (map[string]any, error) {
	v, err := d.Any()
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, ErrFallback
	}
	return m, nil
}
