package jsonx

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"testing"
	"time"
)

// seeds are documents for the differential tests: ordinary ones and the corners where
// the fast path must either agree with encoding/json or step aside.
var seeds = []string{
	`{"j":"login","v":1,"r":"/","n":"credentials","s":{"credentials.layout":[1,1],"realm":"/"},"p":[{"t":"NameCallback","i":[""]}],"c":1,"t0":1800000000000,"exp":1800000300000}`,
	`{"authId":"a.b.c","callbacks":[{"_id":0,"input":[{"name":"IDToken1","value":"demo"}],"output":[{"name":"prompt","value":"User Name"}],"type":"NameCallback"}],"header":"Sign in"}`,
	`{}`, `[]`, `[[]]`, `{"a":{}}`, `null`, `true`, `false`, `0`, `-0`, `1`, `-1.5e-7`, `1E+2`, `1e400`, `01`, `1.`, `.5`, `-`,
	`"plain"`, `"caf\u00e9"`, `"\ud83d\ude00"`, `"\ud800"`, `"\u0000"`, `"a\"b\\c\/d\b\f\n\r\t"`, `"\x"`, "\"\x01\"", "\"\xff\"",
	"\"é ü 中文 😀\"", `"<script>&amp;</script>"`, "\"\u2028\u2029\"",
	`{"a":1,"a":2}`, `{"A":1,"a":2}`, `{"a":[1,2,{"b":null}]}`, `{"a" : 1 , "b" : [ true , false ] }`, " \t\r\n{}\n",
	`{"a":1}x`, `{"a":1,}`, `[1,]`, `{"a"}`, `{1:2}`, `[1 2]`, `tru`, `nul`, `"unterminated`, `{"a":"b"`, `9007199254740993`,
	`123456789012345678901234567890`, `1.7976931348623157e308`, `5e-324`, `{"k\u00e9y":1}`, `{"\u0041":1}`,
}

func FuzzAnyAgreesWithEncodingJSON(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var want any
		werr := json.Unmarshal(data, &want)
		// Shared or not, the decoder gives the same values.
		for _, d := range []Decoder{NewDecoder(data), NewSharedDecoder(data, string(data))} {
			got, err := d.Any()
			if err == nil {
				err = d.Finish()
			}
			if err != nil {
				if !errors.Is(err, ErrFallback) {
					t.Fatalf("%q: error %v is not ErrFallback", data, err)
				}
				return
			}
			if werr != nil {
				t.Fatalf("%q: fast path decoded %#v, encoding/json refuses it: %v", data, got, werr)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%q (shared %v): fast path %#v, encoding/json %#v", data, d.src != "", got, want)
			}
		}
	})
}

// Skip accepts exactly the valid documents (or steps aside).
func FuzzSkipAgreesWithValid(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d := NewDecoder(data)
		err := d.Skip()
		if err == nil {
			err = d.Finish()
		}
		if err == nil && !json.Valid(data) {
			t.Fatalf("%q: skipped as valid, encoding/json says invalid", data)
		}
		if err != nil && !errors.Is(err, ErrFallback) {
			t.Fatalf("%q: error %v is not ErrFallback", data, err)
		}
	})
}

func FuzzAppendValueAgreesWithMarshal(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var v any
		if json.Unmarshal(data, &v) != nil {
			return
		}
		checkAppend(t, v)
		if s, ok := v.(string); ok {
			if got, want := AppendString(nil, s), mustMarshal(t, s); !bytes.Equal(got, want) {
				t.Fatalf("AppendString(%q) = %s, json.Marshal %s", s, got, want)
			}
		}
	})
}

// Strings straight from the fuzzer, not from a JSON document: invalid UTF-8 included.
func FuzzAppendStringAgreesWithMarshal(f *testing.F) {
	for _, s := range []string{"", "plain", "<&>", "\u2028\u2029", "\xff\xfe", "é\x00\x1f\x7f", "a\"b\\c", "😀\xed\xa0\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := AppendString(nil, s), mustMarshal(t, s); !bytes.Equal(got, want) {
			t.Fatalf("AppendString(%q) = %s, json.Marshal %s", s, got, want)
		}
	})
}

func FuzzAppendFloatAgreesWithMarshal(f *testing.F) {
	for _, x := range []float64{0, math.Copysign(0, -1), 1, -1.5, 1e-6, 9.99999e-7, 1e20, 1e21, 123456789.125, 5e-324, math.MaxFloat64, 1e-300} {
		f.Add(x)
	}
	f.Fuzz(func(t *testing.T, x float64) {
		got, ok := AppendFloat(nil, x)
		want, err := json.Marshal(x)
		if ok != (err == nil) || ok && !bytes.Equal(got, want) {
			t.Fatalf("AppendFloat(%v) = %s, %v; json.Marshal %s, %v", x, got, ok, want, err)
		}
	})
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func checkAppend(t *testing.T, v any) {
	t.Helper()
	got, err := AppendValue([]byte("prefix"), v)
	want, werr := json.Marshal(v)
	if (err == nil) != (werr == nil) {
		t.Fatalf("%#v: AppendValue error %v, json.Marshal error %v", v, err, werr)
	}
	if err == nil && !bytes.Equal(got, append([]byte("prefix"), want...)) {
		t.Fatalf("%#v: AppendValue %s, json.Marshal %s", v, got[len("prefix"):], want)
	}
}

// Values nodes put in shared state that no JSON document decodes to.
func TestAppendValueGoTypes(t *testing.T) {
	cyclic := []any{1}
	cyclic[0] = cyclic
	type custom struct {
		A int `json:"a"`
	}
	for _, v := range []any{
		[]int{1, 2}, []int(nil), []string{"a", "<b>"}, []string(nil), []any(nil), map[string]any(nil),
		int(-3), int64(1 << 62), int32(7), uint64(math.MaxUint64), int8(3), float32(0.1), math.NaN(), math.Inf(1),
		map[string]any{"z": 1, "a": []int{2}, "m": map[string]any{"n": nil}, "é": "<"},
		custom{A: 1}, &custom{A: 2}, json.RawMessage(`{ "x" : 1 }`), time.Unix(1_800_000_000, 5).UTC(),
		map[string]string{"b": "1", "a": "2"}, cyclic, make(chan int),
	} {
		checkAppend(t, v)
	}
}

func TestAppendTime(t *testing.T) {
	for _, tm := range []time.Time{time.Unix(1_800_000_000, 123456789).UTC(), time.Unix(0, 0).In(time.FixedZone("x", 3600)), {},
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)} {
		got, ok := AppendTime(nil, tm)
		want, err := json.Marshal(tm)
		if ok != (err == nil) || ok && !bytes.Equal(got, want) {
			t.Fatalf("AppendTime(%v) = %s, %v; json.Marshal %s, %v", tm, got, ok, want, err)
		}
	}
}

// Fields refuses what encoding/json treats in its own way.
func TestFields(t *testing.T) {
	f := NewFields("authId", "callbacks")
	if i, err := f.Match([]byte("callbacks")); i != 1 || err != nil {
		t.Fatalf("exact: %d %v", i, err)
	}
	if i, err := f.Match([]byte("other")); i != -1 || err != nil {
		t.Fatalf("unknown: %d %v", i, err)
	}
	if _, err := f.Match([]byte("callbacks")); !errors.Is(err, ErrFallback) {
		t.Fatalf("duplicate: %v", err)
	}
	if _, err := f.Match([]byte("AUTHID")); !errors.Is(err, ErrFallback) {
		t.Fatalf("case-folded: %v", err)
	}
}

func TestDecoderMethods(t *testing.T) {
	d := NewDecoder([]byte(` {"s":"x","i":-42,"f":1.5e3,"b":true,"n":null,"r":"2026-01-02T03:04:05Z","skip":{"a":[1,"\u0041",{}]},"z":0} `))
	var got []any
	err := d.ObjectStart()
	for err == nil {
		var name []byte
		var more bool
		if name, more, err = d.Member(); err != nil || !more {
			break
		}
		var v any
		switch string(name) {
		case "s":
			v, err = d.String()
		case "i":
			v, err = d.Int()
		case "f":
			v, err = d.Float()
		case "b":
			v, err = d.Bool()
		case "n":
			v = d.Null()
		case "r":
			var raw []byte
			raw, err = d.Raw()
			v = string(raw)
		default:
			err = d.Skip()
			continue
		}
		got = append(got, v)
	}
	if err == nil {
		err = d.Finish()
	}
	want := []any{"x", int64(-42), 1500.0, true, true, `"2026-01-02T03:04:05Z"`}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v, %v; want %#v", got, err, want)
	}
	// Numbers encoding/json refuses for an integer field step aside.
	for _, s := range []string{"1e3", "1.0", "9223372036854775808", "-", "01"} {
		d := NewDecoder([]byte(s))
		_, err := d.Int()
		if err == nil {
			err = d.Finish()
		}
		if !errors.Is(err, ErrFallback) {
			t.Errorf("Int(%s): %v", s, err)
		}
	}
}

func TestSharedDecoderCutsStringsFromItsSource(t *testing.T) {
	data := []byte(`{"plain":"abc","escaped":"a\nb","empty":""}`)
	src := string(data)
	d := NewSharedDecoder(data, src)
	got := map[string]string{}
	err := Object(&d, []string{"plain", "escaped", "empty"}, func(i int) error {
		s, err := d.String()
		got[[]string{"plain", "escaped", "empty"}[i]] = s
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if got["plain"] != "abc" || got["escaped"] != "a\nb" || got["empty"] != "" {
		t.Fatalf("decoded %q", got)
	}
	if n := testing.AllocsPerRun(100, func() {
		d := NewSharedDecoder(data[9:14], src[9:14]) // "abc"
		if s, err := d.String(); s != "abc" || err != nil {
			t.Fatalf("String = %q, %v", s, err)
		}
	}); n != 0 {
		t.Fatalf("a shared string without escapes allocates %v times, want 0", n)
	}
	// A source that is not the document's bytes is not used.
	d = NewSharedDecoder(data[9:14], "xyzab")
	if s, err := d.String(); s != "abc" || err != nil {
		t.Fatalf("with a wrong source: String = %q, %v", s, err)
	}
}

// TestAnyArrayIsOneAllocation: an array of up to 8 values is read into a stack buffer
// and copied out once (bools box without allocating, so the slice is all there is),
// and a longer one comes back whole.
func TestAnyArrayIsOneAllocation(t *testing.T) {
	for _, doc := range []string{`[true]`, `[true,false,true,true,false]`, `[true,true,true,true,true,true,true,true,true,true,true]`} {
		b := []byte(doc)
		allocs := testing.AllocsPerRun(100, func() {
			d := NewDecoder(b)
			if _, err := d.Any(); err != nil {
				t.Fatal(err)
			}
		})
		// 1 (2 in the race detector's build); appended to from empty, 5 values took 4.
		if len(doc) < 50 && allocs > 2 { // past the buffer's 8 it grows on the heap
			t.Errorf("Any(%s): %v allocations, want 1", doc, allocs)
		}
		d := NewDecoder([]byte(doc))
		got, err := d.Any()
		var want2 any
		if json.Unmarshal([]byte(doc), &want2) != nil || err != nil || !reflect.DeepEqual(got, want2) {
			t.Errorf("Any(%s) = %v, %v; want %v", doc, got, err, want2)
		}
	}
	d := NewDecoder([]byte(`[]`))
	if got, err := d.Any(); err != nil || got == nil || got.([]any) == nil {
		t.Errorf("Any([]) = %#v, %v; want an empty, non-nil []any", got, err)
	}
}
