package app

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arbor-auth/arbor/internal/config"
)

// TestForwardAuthSection: the config file's forward_auth section mounts the door at
// its path; a bad section stops the start with every problem named.
func TestForwardAuthSection(t *testing.T) {
	dir := t.TempDir()
	start := func(section string) (*App, error) {
		t.Helper()
		file := filepath.Join(dir, "arbor.yaml")
		if err := os.WriteFile(file, []byte("trusted_proxies: [192.0.2.1]\n"+section), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Load([]string{"--data", filepath.Join(dir, "data"), "--config", file,
			"--hash-memory-kib", "8", "--hash-iterations", "1"}, func(string) string { return "" })
		if err != nil {
			t.Fatal(err)
		}
		a, err := New(context.Background(), cfg, slog.New(slog.DiscardHandler))
		if err == nil {
			t.Cleanup(func() { a.Close() })
		}
		return a, err
	}
	a, err := start("forward_auth:\n  path: /check\n  rules: [{path: /open, public: true}]\n")
	if err != nil {
		t.Fatal(err)
	}
	for uri, want := range map[string]int{"/open/x": 200, "/closed": 401} {
		r := httptest.NewRequest(http.MethodGet, "/check", nil)
		r.Header.Set("X-Original-URL", "https://app.example.com"+uri)
		w := httptest.NewRecorder()
		a.Handler().ServeHTTP(w, r)
		if w.Code != want {
			t.Errorf("%s: %d %s, want %d", uri, w.Code, w.Body, want)
		}
	}
	a.Close()
	_, err = start("forward_auth:\n  rules: [{path: admin, levle: 20}]\n")
	if err == nil || !strings.Contains(err.Error(), "forward_auth") || !strings.Contains(err.Error(), "levle") {
		t.Errorf("unknown rule field: %v", err)
	}
	_, err = start("forward_auth:\n  rules: [{path: admin, factors: [sms]}]\n")
	if err == nil || !strings.Contains(err.Error(), `path "admin"`) || !strings.Contains(err.Error(), `factor "sms"`) {
		t.Errorf("bad rule: %v", err)
	}
}
