package sessions

import (
	"encoding/json"
	"slices"
	"strconv"
	"time"

	"github.com/arbor-auth/arbor/internal/jsonx"
)

// Sessions are stored as the JSON json.Marshal writes for Session. encode and decode
// produce and read exactly that, through package jsonx's fast path, and hand anything
// unusual to encoding/json.

func encode(s *Session) ([]byte, error) {
	if b, ok := s.appendJSON(make([]byte, 0, s.sizeHint())); ok {
		return b, nil
	}
	return json.Marshal(s)
}

// sizeHint is at least how long s's JSON is (its field names, four timestamps and every
// optional field take under 384 bytes), so that encode's buffer is made once: a fixed
// 320 bytes grew for every login once sessions recorded their lease (one more
// allocation and 0.8 KB a login, go test ./api -bench 'LoginHandler/embedded$'), and
// for any login with a browser's user agent in its props.
func (s *Session) sizeHint() int {
	n := 384 + len(s.Handle) + len(s.Username) + len(s.Realm) + len(s.Journey)
	for k, v := range s.Props {
		n += len(k) + len(v) + 6
	}
	for _, f := range s.Factors {
		n += len(f) + 3
	}
	return n
}

func (s *Session) appendJSON(b []byte) ([]byte, bool) {
	b = append(b, `{"handle":`...)
	b = jsonx.AppendString(b, s.Handle)
	b = append(b, `,"username":`...)
	b = jsonx.AppendString(b, s.Username)
	b = append(b, `,"realm":`...)
	b = jsonx.AppendString(b, s.Realm)
	b = append(b, `,"journey":`...)
	b = jsonx.AppendString(b, s.Journey)
	for _, f := range [...]struct {
		name string
		t    time.Time
	}{{`,"created":`, s.Created}, {`,"access":`, s.Access}, {`,"idle_end":`, s.IdleEnd}, {`,"max_end":`, s.MaxEnd}} {
		var ok bool
		if b, ok = jsonx.AppendTime(append(b, f.name...), f.t); !ok {
			return b, false
		}
	}
	if len(s.Props) > 0 {
		b = append(b, `,"props":{`...)
		first := true
		keys := make([]string, 0, len(s.Props))
		for k := range s.Props {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if !first {
				b = append(b, ',')
			}
			first = false
			b = jsonx.AppendString(b, k)
			b = append(b, ':')
			b = jsonx.AppendString(b, s.Props[k])
		}
		b = append(b, '}')
	}
	if len(s.Factors) > 0 {
		b = append(b, `,"factors":[`...)
		for i, f := range s.Factors {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonx.AppendString(b, f)
		}
		b = append(b, ']')
	}
	if s.Level != 0 {
		b = strconv.AppendInt(append(b, `,"level":`...), int64(s.Level), 10)
	}
	if s.Restricted {
		b = append(b, `,"restricted":true`...)
	}
	if s.Remember {
		b = append(b, `,"remember":true`...)
	}
	if s.IdleFor != 0 {
		b = strconv.AppendInt(append(b, `,"idle_for":`...), int64(s.IdleFor), 10)
	}
	if s.LifeFor != 0 {
		b = strconv.AppendInt(append(b, `,"life_for":`...), int64(s.LifeFor), 10)
	}
	if s.Listed != 0 {
		b = strconv.AppendInt(append(b, `,"listed":`...), s.Listed, 10)
	}
	return append(b, '}'), true
}

// decode reads a stored session as json.Unmarshal would. The session's strings are
// cut from one copy of data (jsonx.NewSharedDecoder): one
// allocation instead of one per string (handle, user, realm, journey, props, factors).
func decode(data []byte, s *Session) error {
	if s.decodeJSON(data, string(data)) == nil {
		return nil
	}
	*s = Session{}
	return json.Unmarshal(data, s)
}

var sessionFields = []string{"handle", "username", "realm", "journey", "created", "access", "idle_end", "max_end", "props", "factors", "level", "restricted", "remember", "idle_for", "life_for", "listed"}

func (s *Session) decodeJSON(data []byte, src string) error {
	return jsonx.DecodeObjectShared(data, src, sessionFields, func(d *jsonx.Decoder, i int) (err error) {
		switch {
		case i < 4:
			var v string
			v, err = d.String()
			switch i {
			case 0:
				s.Handle = v
			case 1:
				s.Username = v
			case 2:
				s.Realm = v
			case 3:
				s.Journey = v
			}
		case i < 8:
			var raw []byte
			if raw, err = d.Raw(); err == nil {
				t := &s.Created
				switch i {
				case 5:
					t = &s.Access
				case 6:
					t = &s.IdleEnd
				case 7:
					t = &s.MaxEnd
				}
				err = t.UnmarshalJSON(raw)
			}
		case i == 8 && d.Null():
			s.Props = nil
		case i == 8:
			err = s.decodeProps(d)
		case i == 9:
			s.Factors, err = jsonx.Array(d, (*jsonx.Decoder).String)
		case i == 10:
			var n int64
			n, err = d.Int()
			s.Level = int(n)
		case i == 11:
			s.Restricted, err = d.Bool()
		case i == 12:
			s.Remember, err = d.Bool()
		default:
			var n int64
			n, err = d.Int()
			switch i {
			case 13:
				s.IdleFor = time.Duration(n)
			case 14:
				s.LifeFor = time.Duration(n)
			default:
				s.Listed = n
			}
		}
		return err
	})
}

// decodeProps reads the props object member by member into strings, not through
// d.Any's map of boxed values: sessions are read on every validation and logout. A
// name jsonx.Decoder.Member refuses (escapes, non-ASCII) or a value that is not a
// string hands the whole session to encoding/json.
func (s *Session) decodeProps(d *jsonx.Decoder) error {
	if err := d.ObjectStart(); err != nil {
		return err
	}
	props := make(map[string]string, 4)
	for {
		name, more, err := d.Member()
		if err != nil {
			return err
		}
		if !more {
			s.Props = props
			return nil
		}
		v, err := d.String()
		if err != nil {
			return err
		}
		props[string(name)] = v
	}
}
