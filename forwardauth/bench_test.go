package forwardauth

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/arbor-auth/arbor/door"
)

// BenchmarkCheck is one forward-auth check of a valid session on the embedded store:
// the original URL, the rules, the session and its account read, the identity headers.
func BenchmarkCheck(b *testing.B) {
	for _, bc := range []struct {
		name, url string
	}{
		{"session", "https://app.example.com/x?y=1"},
		{"public", "https://app.example.com/public/logo.png"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			f := newFixture(b, rules, door.Config{})
			tok := f.tokens["mfa"]
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					r := httptest.NewRequest(http.MethodGet, DefaultPath, nil)
					r.RemoteAddr = proxyAddr
					r.Header.Set("X-Original-URL", bc.url)
					r.AddCookie(&http.Cookie{Name: "iPlanetDirectoryPro", Value: tok})
					w := httptest.NewRecorder()
					f.fa.ServeHTTP(w, r)
					if w.Code != http.StatusOK {
						b.Fatalf("status %d", w.Code)
					}
				}
			})
		})
	}
}
