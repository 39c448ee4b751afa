package app_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/arbor-auth/arbor/internal/app/apptest"
)

// TestPprofOnItsOwnListener: --pprof-listen adds a listener serving Go's profiler, and
// the main listener never serves it, with or without the flag.
func TestPprofOnItsOwnListener(t *testing.T) {
	get := func(h http.Handler, path string) int {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		return w.Code
	}
	plain := apptest.New(t, apptest.Options{})
	for _, l := range plain.Listeners {
		if l.Name == "pprof" {
			t.Error("a pprof listener without --pprof-listen")
		}
	}
	a := apptest.New(t, apptest.Options{Args: []string{"--pprof-listen", "127.0.0.1:0"}})
	for _, h := range []http.Handler{plain.Handler(), a.Handler()} {
		if code := get(h, "/debug/pprof/cmdline"); code == http.StatusOK {
			t.Error("the main listener serves /debug/pprof/")
		}
	}
	var found bool
	for _, l := range a.Listeners {
		if l.Name != "pprof" {
			continue
		}
		found = true
		if l.Addr != "127.0.0.1:0" {
			t.Errorf("pprof listener on %q, want 127.0.0.1:0", l.Addr)
		}
		for _, path := range []string{"/debug/pprof/", "/debug/pprof/cmdline", "/debug/pprof/heap?debug=1"} {
			if code := get(l.Handler, path); code != http.StatusOK {
				t.Errorf("GET %s on the pprof listener = %d", path, code)
			}
		}
	}
	if !found {
		t.Error("--pprof-listen added no pprof listener")
	}
}
