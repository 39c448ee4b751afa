package admin_test

import (
	"net/http"
	"testing"

	"github.com/arbor-auth/arbor/internal/testredis"
)

// TestStoreOutage: with Redis down, the admin API answers 503 store.unavailable (never
// a 401 for a token it cannot read), changes nothing, and serves again once Redis is
// back.
func TestStoreOutage(t *testing.T) {
	rs := testredis.Start(t)
	e := start(t, "--redis", rs.URL())
	root := e.root(t)
	want(t, "before", e.call(t, root, http.MethodGet, "/journeys", ""), http.StatusOK, "")
	rs.Stop()
	want(t, "store down", e.call(t, root, http.MethodGet, "/journeys", ""), http.StatusServiceUnavailable, "store.unavailable")
	want(t, "store down, change", e.call(t, root, http.MethodPost, "/journeys/radius/disable", ""), http.StatusServiceUnavailable, "store.unavailable")
	rs.Restart() // empty: persistence is off in tests, so the token is gone
	want(t, "the lost token", e.call(t, root, http.MethodGet, "/users", ""), http.StatusUnauthorized, "auth.required")
	want(t, "a new token", e.call(t, e.root(t), http.MethodGet, "/users", ""), http.StatusOK, "")
}
