package door

import (
	"net/http/httptest"
	"strings"
	"testing"
)

func TestSessionToken(t *testing.T) {
	cases := []struct {
		name    string
		headers map[string]string
		cookie  string
		want    string
	}{
		{"none", nil, "", ""},
		{"cookie", nil, "ck", "ck"},
		{"AM header wins", map[string]string{"Sess": "hdr", "Authorization": "Bearer b"}, "ck", "hdr"},
		{"bearer before cookie", map[string]string{"Authorization": "Bearer b"}, "ck", "b"},
		{"bearer scheme in any case", map[string]string{"Authorization": "bearer b"}, "", "b"},
		{"basic is not a session", map[string]string{"Authorization": "Basic YTpi"}, "ck", "ck"},
		{"empty bearer", map[string]string{"Authorization": "Bearer "}, "", ""},
		{"two tokens", map[string]string{"Authorization": "Bearer a b"}, "", ""},
		{"too long", map[string]string{"Authorization": "Bearer " + strings.Repeat("x", 257)}, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			for k, v := range c.headers {
				r.Header.Set(k, v)
			}
			if c.cookie != "" {
				r.Header.Set("Cookie", "Sess="+c.cookie)
			}
			if got := SessionToken(r, "Sess"); got != c.want {
				t.Errorf("SessionToken %q, want %q", got, c.want)
			}
		})
	}
}
