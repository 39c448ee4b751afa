package door

import "testing"

// TestAllowedRedirect is the redirect prefixes table of issue 7: an allow-list entry
// matches scheme, host, port and whole path segments after ".." and percent-encoding
// are resolved.
func TestAllowedRedirect(t *testing.T) {
	allowed := []string{"https://good.example/app", "https://root.example/", "http://port.example:8080/x/"}
	for _, tc := range []struct {
		target string
		ok     bool
	}{
		{"https://good.example/app", true},
		{"https://good.example/app/", true},
		{"https://good.example/app/home?x=1#f", true},
		{"https://GOOD.example/app/home", true},
		{"https://good.example:443/app/home", true},
		{"https://good.example/application", false},
		{"https://good.example/appx", false},
		{"https://good.example/app/../evil", false},
		{"https://good.example/app/%2e%2e/evil", false},
		{"https://good.example/app/%2E%2E/evil", false},
		{"https://good.example/app/..%2fevil", false}, // a server that decodes %2f would climb out
		{"https://good.example/app/./x", true},
		{"https://good.example/../app", false},
		{"https://good.example", false},
		{"https://good.example/", false},
		{"http://good.example/app", false},
		{"https://good.example:8443/app", false},
		{"https://good.example.evil.com/app", false},
		{"https://evil.com/good.example/app", false},
		{"https://user@good.example/app", false},
		{"https://good.example\\@evil.com/app", false},
		{"https://root.example/anything", true},
		{"https://root.example", true},
		{"http://port.example:8080/x/y", true},
		{"http://port.example/x/y", false},
		{"http://port.example:8080/xy", false},
		{"/local/page", true},
		{"/", true},
		{"//evil.com/x", false},
		{"/\\evil.com", false},
		{"/a/../../etc", false},
		{"javascript:alert(1)", false},
		{"data:text/html,x", false},
		{"https://good.example/app\r\nSet-Cookie: x", false},
		{"relative/path", false},
		{"", false},
	} {
		if got := AllowedRedirect(tc.target, allowed); got != tc.ok {
			t.Errorf("AllowedRedirect(%q) = %v, want %v", tc.target, got, tc.ok)
		}
	}
}
