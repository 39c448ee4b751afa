package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/arbor-auth/arbor/internal/app"
	"github.com/arbor-auth/arbor/internal/config"
)

// BenchmarkLogin runs the two-step password login over HTTP in process, with the
// cheapest hash, on the embedded store: the server's cost per login plus the client's.
func BenchmarkLogin(b *testing.B) {
	cfg, _ := config.Load([]string{"--data", b.TempDir(), "--hash-memory-kib", "8", "--hash-iterations", "1", "--demo", "--log-level", "warn"}, func(string) string { return "" })
	a, err := app.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()
	url := srv.URL + loginURL + "&noSession=true"
	client := srv.Client()
	do := func(body []byte) map[string]any {
		req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		r, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		defer r.Body.Close()
		var m map[string]any
		json.NewDecoder(r.Body).Decode(&m)
		return m
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		step := do(nil)
		step = fill(step, map[string]any{"NameCallback": app.DemoUser, "PasswordCallback": app.DemoPassword})
		body, _ := json.Marshal(step)
		if m := do(body); m["successUrl"] == nil {
			b.Fatalf("login failed: %v", m)
		}
	}
}
