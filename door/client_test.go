package door

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestClientAddress: X-Forwarded-For is believed only from configured proxies, read
// from the right, so a client cannot choose its own address by sending the header.
func TestClientAddress(t *testing.T) {
	c := &Core{}
	var err error
	if c.proxies, err = parseProxies([]string{"10.0.0.0/8", "::1"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, remote string
		xff          []string
		want         string
	}{
		{"no proxy", "203.0.113.7:5555", nil, "203.0.113.7"},
		{"untrusted peer's header ignored", "203.0.113.7:5555", []string{"1.2.3.4"}, "203.0.113.7"},
		{"trusted proxy", "10.1.2.3:80", []string{"198.51.100.9"}, "198.51.100.9"},
		{"spoofed left entry ignored", "10.1.2.3:80", []string{"1.1.1.1, 198.51.100.9"}, "198.51.100.9"},
		{"chain of trusted proxies", "10.1.2.3:80", []string{"198.51.100.9, 10.9.9.9"}, "198.51.100.9"},
		{"two headers", "10.1.2.3:80", []string{"1.1.1.1", "198.51.100.9"}, "198.51.100.9"},
		{"garbage stops the walk", "10.1.2.3:80", []string{"198.51.100.9, junk"}, "10.1.2.3"},
		{"only proxies", "10.1.2.3:80", []string{"10.4.4.4"}, "10.4.4.4"},
		{"IPv6 loopback proxy", "[::1]:80", []string{"2001:db8::1"}, "2001:db8::1"},
		{"trusted proxy without header", "10.1.2.3:80", nil, "10.1.2.3"},
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = tc.remote
		for _, v := range tc.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := c.ClientIP(r); got != tc.want {
			t.Errorf("%s: client %q, want %q", tc.name, got, tc.want)
		}
	}
	if _, err := parseProxies([]string{"not-a-network"}); err == nil {
		t.Error("a malformed trusted proxy was accepted")
	}
}

func TestSecure(t *testing.T) {
	proxies, _ := parseProxies([]string{"10.0.0.0/8"})
	for _, tc := range []struct {
		name, public, remote, proto string
		want                        bool
	}{
		{"plain", "", "203.0.113.7:1", "", false},
		{"https public URL", "https://id.example.com", "203.0.113.7:1", "", true},
		{"trusted proxy says https", "", "10.0.0.1:1", "https", true},
		{"untrusted peer says https", "", "203.0.113.7:1", "https", false},
	} {
		c := &Core{cfg: Config{PublicURL: tc.public}, proxies: proxies}
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = tc.remote
		if tc.proto != "" {
			r.Header.Set("X-Forwarded-Proto", tc.proto)
		}
		if got := c.Secure(r); got != tc.want {
			t.Errorf("%s: Secure = %v, want %v", tc.name, got, tc.want)
		}
	}
}
