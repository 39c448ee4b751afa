package api

import (
	"net/url"
	"strings"
	"testing"
)

func TestQueryGet(t *testing.T) {
	tests := []struct {
		raw, key, want string
		has            bool
	}{
		{"", "a", "", false},
		{"a=1", "a", "1", true},
		{"a=1&a=2", "a", "1", true},
		{"b=1&a=2", "a", "2", true},
		{"a", "a", "", true},
		{"a=", "a", "", true},
		{"a;x=1&a=2", "a", "2", true}, // a segment with a semicolon is skipped
		{"a=%zz&a=2", "a", "2", true}, // a bad escape is skipped
		{"%61=x", "a", "x", true},     // names are unescaped
		{"a=b+c%26d", "a", "b c&d", true},
		{"=x", "", "x", true},
		{"&&a=1&", "a", "1", true},
		{"authIndexType=service&authIndexValue=login", "authIndexValue", "login", true},
		{"pretty", "pretty", "", true},
		{"prettyx=1", "pretty", "", false},
	}
	for _, tt := range tests {
		q := query(tt.raw)
		if got := q.Get(tt.key); got != tt.want {
			t.Errorf("query(%q).Get(%q) = %q, want %q", tt.raw, tt.key, got, tt.want)
		}
		if got := q.Has(tt.key); got != tt.has {
			t.Errorf("query(%q).Has(%q) = %v, want %v", tt.raw, tt.key, got, tt.has)
		}
	}
}

func TestQueryBeyondTheParamLimitHasNoValues(t *testing.T) {
	raw := "a=1" + strings.Repeat("&", maxQueryParams)
	if got := query(raw).Get("a"); got != "" {
		t.Fatalf("Get beyond the limit = %q, want nothing (as url.ParseQuery)", got)
	}
	if got := query("a=1" + strings.Repeat("&", maxQueryParams-1)).Get("a"); got != "1" {
		t.Fatalf("Get at the limit = %q, want 1", got)
	}
}

func TestQueryGetAllocatesNothingWithoutEscapes(t *testing.T) {
	q := query("authIndexType=service&authIndexValue=login&noSession=false")
	if n := testing.AllocsPerRun(100, func() { _ = q.Get("authIndexValue"); _ = q.Has("pretty") }); n != 0 {
		t.Fatalf("query.Get allocates %v times, want 0", n)
	}
}

func FuzzQueryAgreesWithParseQuery(f *testing.F) {
	for _, s := range []string{"a=1&b=2", "a;b=1", "%61=%zz&a=3", "a+b=c+d", "=&=x&a", "goto=https%3A%2F%2Fx&goto=y"} {
		f.Add(s, "a")
	}
	f.Fuzz(func(t *testing.T, raw, key string) {
		vs, _ := url.ParseQuery(raw)
		want, has := "", false
		if v, ok := vs[key]; ok {
			want, has = v[0], true
		}
		q := query(raw)
		if got := q.Get(key); got != want {
			t.Fatalf("query(%q).Get(%q) = %q, url.ParseQuery says %q", raw, key, got, want)
		}
		if got := q.Has(key); got != has {
			t.Fatalf("query(%q).Has(%q) = %v, url.ParseQuery says %v", raw, key, got, has)
		}
		for k, v := range vs {
			if got := q.Get(k); got != v[0] {
				t.Fatalf("query(%q).Get(%q) = %q, url.ParseQuery says %q", raw, k, got, v[0])
			}
		}
	})
}
