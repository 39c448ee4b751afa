package cli

import (
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arbor-auth/arbor/admin"
	"github.com/arbor-auth/arbor/internal/app/apptest"
	"github.com/arbor-auth/arbor/internal/testredis"
)

func adminGet(t *testing.T, base, token, path string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+admin.Prefix+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}

// TestAdminTokenOffline: a token created offline on the embedded store's directory
// opens the admin API of a server started on it, within its scope.
func TestAdminTokenOffline(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	code, out, errs := run(t, "", "admin", "token", "create", "--data", data, "--name", "ci", "--scope", "journeys:read", "--expires", "1h")
	if code != 0 || !strings.HasPrefix(out, admin.TokenPrefix) || !strings.Contains(errs, "shown only now") {
		t.Fatalf("create: %d %q %q", code, out, errs)
	}
	tok := strings.TrimSpace(out)
	if code, out, _ := run(t, "", "admin", "token", "list", "--data", data); code != 0 || !strings.Contains(out, "journeys:read") || strings.Contains(out, tok) {
		t.Fatalf("list: %d %q", code, out)
	}
	for _, bad := range [][]string{
		{"admin", "token", "create", "--data", data, "--name", "x", "--scope", "users:everything"},
		{"admin", "token", "create", "--data", data, "--scope", "users:read"},
		{"admin", "token", "revoke", "--data", data, "0123456789abcdef"},
	} {
		if code, _, _ := run(t, "", bad...); code != 1 {
			t.Errorf("%v: exit %d, want 1", bad, code)
		}
	}
	if code, _, _ := run(t, "", "admin", "token", "revoke", "--data", data); code != 2 {
		t.Errorf("revoke without an id: exit %d, want 2", code)
	}
	srv := apptest.Start(t, apptest.Options{Dir: dir})
	if st := adminGet(t, srv.URL, tok, "/journeys"); st != http.StatusOK {
		t.Fatalf("the offline token reads journeys: %d", st)
	}
	if st := adminGet(t, srv.URL, tok, "/users"); st != http.StatusForbidden {
		t.Fatalf("the offline token reads users: %d", st)
	}
}

// TestAdminTokenRevokeWhileServing: revoking on a running server's Redis shuts the
// token out at once.
func TestAdminTokenRevokeWhileServing(t *testing.T) {
	rs := testredis.Start(t)
	srv := apptest.Start(t, apptest.Options{Args: []string{"--redis", rs.URL()}})
	code, out, _ := run(t, "", "admin", "token", "create", "--redis", rs.URL(), "--name", "ci", "--scope", "users:write", "--realm", "/")
	if code != 0 {
		t.Fatalf("create: %d", code)
	}
	tok := strings.TrimSpace(out)
	if st := adminGet(t, srv.URL, tok, "/users"); st != http.StatusOK {
		t.Fatalf("before revoke: %d", st)
	}
	id := strings.SplitN(strings.TrimPrefix(tok, admin.TokenPrefix), "_", 2)[0]
	if code, out, _ := run(t, "", "admin", "token", "revoke", "--redis", rs.URL(), id); code != 0 || !strings.Contains(out, id) {
		t.Fatalf("revoke: %d %q", code, out)
	}
	if st := adminGet(t, srv.URL, tok, "/users"); st != http.StatusUnauthorized {
		t.Fatalf("after revoke: %d", st)
	}
}
