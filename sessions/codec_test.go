package sessions

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

var sessionSeeds = []string{
	`{"handle":"0123456789abcdef","username":"demo","realm":"/","journey":"login","created":"2026-11-22T06:24:35.123456789Z","access":"2026-11-22T06:24:35.123456789Z","idle_end":"2026-11-22T06:54:35.123456789Z","max_end":"2026-11-22T14:24:35.123456789Z"}`,
	`{"handle":"h","username":"Zoë <x>","realm":"/alpha","journey":"j","created":"2026-01-01T00:00:00+01:00","access":"0001-01-01T00:00:00Z","idle_end":null,"max_end":"2026-01-01T00:00:00Z","props":{"b":"1","a":"\u00e9"}}`,
	`{"props":null}`, `{"props":{"a":1}}`, `{"created":"yesterday"}`, `{"created":{}}`, `{"Handle":"x"}`, `{"handle":"x","handle":"y"}`, `{"extra":[1,{"a":null}]}`,
	`{"props":{}}`, `{"props":{"a":"1","a":"2"}}`, `{"props":{"\u0061":"x","é":"y"}}`, `{"props":{"a":null}}`, `{"props":{"a":"1",}}`, `{"props":[]}`,
	`{"props":{"door":"rest","ip":"192.0.2.1","agent":"Mozilla/5.0 \"x\""},"props":{"b":"2"}}`,
}

func FuzzSessionDecodeAgreesWithEncodingJSON(f *testing.F) {
	for _, s := range sessionSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var got Session
		err := decode(data, &got)
		var want Session
		werr := json.Unmarshal(data, &want)
		if (err == nil) != (werr == nil) || err == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: decode %#v, %v; json.Unmarshal %#v, %v", data, got, err, want, werr)
		}
		if werr == nil {
			checkSessionEncoding(t, &want)
		}
	})
}

func checkSessionEncoding(t *testing.T, s *Session) {
	t.Helper()
	got, err := encode(s)
	want, werr := json.Marshal(s)
	if (err == nil) != (werr == nil) || err == nil && !bytes.Equal(got, want) {
		t.Fatalf("encode:\n%s, %v\njson.Marshal:\n%s, %v", got, err, want, werr)
	}
}

func TestSessionEncoding(t *testing.T) {
	now := time.Now()
	for _, s := range []*Session{
		{Handle: "h", Username: "u", Realm: "/", Journey: "login", Created: now, Access: now.UTC(), IdleEnd: now.Add(time.Minute), MaxEnd: now.Add(time.Hour)},
		{Handle: "h", IdleFor: time.Minute, LifeFor: time.Hour, Listed: now.Add(2 * time.Minute).UnixMilli(), Level: 2, Remember: true},
		{Props: map[string]string{"z": "<1>", "a": "\u2028", "m": ""}},
		{Props: map[string]string{}},
		{Created: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}, // json.Marshal refuses it; so must encode
	} {
		checkSessionEncoding(t, s)
	}
}

// TestIndexCodec: an index reads back as written, and what is not an index (the JSON
// index of earlier versions included) is an error, which updateIndex answers by
// rebuilding the index and OpPush by replacing it.
func TestIndexCodec(t *testing.T) {
	list := []indexEntry{
		{Handle: "0123456789abcdef", Key: "session:{00112233445566778899aabbccddeeff}", Until: 1796067651066},
		{Handle: "fedcba9876543210", Key: "session:{ffeeddccbbaa99887766554433221100}", Until: 1796067652000},
	}
	got, err := decodeIndex(encodeIndex(list))
	if err != nil || !reflect.DeepEqual(got, list) {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	if got, err := decodeIndex(nil); err != nil || len(got) != 0 {
		t.Fatalf("empty index: %+v, %v", got, err)
	}
	for _, bad := range []string{
		`[{"h":"0123456789abcdef","k":"session:{00112233445566778899aabbccddeeff}","e":1796067651066}]`,
		"1796067651066 nospace\n", "x 0123 session:{1}\n", "1796067651066 h k",
	} {
		if _, err := decodeIndex([]byte(bad)); err == nil {
			t.Errorf("decodeIndex(%q) accepted it", bad)
		}
	}
}

// TestSizeHintCoversTheJSON: encode's buffer is made once, for a bare session and for
// one with every optional field and a browser's longest recorded user agent.
func TestSizeHintCoversTheJSON(t *testing.T) {
	now := time.Now().UTC()
	for _, s := range []*Session{
		{Handle: "0123456789abcdef", Username: "alice", Realm: "/", Journey: "login", Created: now, Access: now, IdleEnd: now, MaxEnd: now},
		{Handle: "0123456789abcdef", Username: "alice@example.com", Realm: "/employees", Journey: "push-mfa", Created: now, Access: now,
			IdleEnd: now.Add(time.Hour), MaxEnd: now.Add(8 * time.Hour), Listed: now.UnixMilli(),
			Props:   map[string]string{"door": "browser", "client": "2001:db8::1234:5678", "user_agent": strings.Repeat("Mozilla/5.0 ", 14)[:160]},
			Factors: []string{"password", "push", "recovery_code"}, Level: 20, Restricted: true, Remember: true, IdleFor: time.Hour, LifeFor: 8 * time.Hour},
	} {
		b, err := encode(s)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > s.sizeHint() {
			t.Errorf("session JSON of %d bytes, hint %d: encode's buffer grew", len(b), s.sizeHint())
		}
	}
}
