// Package apptest boots a whole Arbor for a test, as `arbor serve` assembles it: the
// embedded store in a temporary directory, the cheapest password hash, logs discarded.
// Every test package that needs a running App uses it, so what tests run is what ships.
package apptest

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/arbor-auth/arbor/identity"
	"github.com/arbor-auth/arbor/internal/app"
	"github.com/arbor-auth/arbor/internal/config"
	"github.com/arbor-auth/arbor/internal/testredis"
)

// Options change how an App is built.
type Options struct {
	// Args are extra `arbor serve` flags ("--realms", "alpha").
	Args []string
	// Now is the clock of the engine, sessions and push service (default time.Now).
	Now func() time.Time
	// TLS serves over https (Start only).
	TLS bool
	// PublicURL sets --public-url to the test server's own address (Start only).
	PublicURL bool
	// Dir is the data directory (default: a new temporary directory).
	Dir string
	// Config, when not empty, is the YAML of a configuration file, written to
	// Dir/arbor.yaml and passed as --config.
	Config string
	// AppOptions are passed to app.New (app.WithCaseRunner, say).
	AppOptions []app.Option
	// Logger receives the App's logs (default: discarded), for tests of what is logged.
	Logger *slog.Logger
}

// New builds an App and closes it when the test ends.
func New(t testing.TB, o Options) *app.App {
	t.Helper()
	return build(t, o, nil)
}

func build(t testing.TB, o Options, extra []string) *app.App {
	t.Helper()
	dir := o.Dir
	if dir == "" {
		dir = t.TempDir()
	}
	args := append([]string{"--data", filepath.Join(dir, "data"), "--hash-memory-kib", "8", "--hash-iterations", "1", "--log-level", "warn"}, extra...)
	if o.Config != "" {
		path := filepath.Join(dir, "arbor.yaml")
		if err := os.WriteFile(path, []byte(o.Config), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--config", path)
	}
	cfg, err := config.Load(append(args, o.Args...), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	opts := append([]app.Option(nil), o.AppOptions...)
	if o.Now != nil {
		opts = append(opts, app.WithClock(o.Now))
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a, err := app.New(context.Background(), cfg, log, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// Server is an App served over loopback HTTP.
type Server struct {
	*app.App
	// HTTP is the test server; URL its base URL.
	HTTP *httptest.Server
	URL  string
}

// Start builds an App and serves it; both end with the test.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	var extra []string
	if o.PublicURL {
		scheme := "http"
		if o.TLS {
			scheme = "https"
		}
		extra = []string{"--public-url", scheme + "://" + srv.Listener.Addr().String()}
	}
	a := build(t, o, extra)
	srv.Config.Handler = a.Handler()
	if o.TLS {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return &Server{App: a, HTTP: srv, URL: srv.URL}
}

// AddUser stores an active user with password (hashed cheaply) and attributes.
func AddUser(t testing.TB, a *app.App, realm, name, password string, attrs map[string]any) {
	t.Helper()
	h, err := identity.HashPassword(password, identity.CheapParams)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Users.Put(context.Background(), &identity.User{Realm: realm, Username: name, PasswordHash: h, Status: identity.StatusActive, Attributes: attrs}); err != nil {
		t.Fatal(err)
	}
}

// Requests returns how many requests the App has served on route (an echo route such as
// "/login" or "/json/*"), from its own request metrics.
func Requests(t testing.TB, a *app.App, route string) float64 {
	t.Helper()
	mfs, err := a.Metrics.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var n float64
	for _, mf := range mfs {
		if mf.GetName() != "arbor_http_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "route" && l.GetValue() == route {
					n += m.GetCounter().GetValue()
				}
			}
		}
	}
	return n
}

// WaitRequests waits until the App has served n more requests on route than it had when
// called: how a test lets a polling client poll a few times without guessing how long
// that takes. It fails the test after timeout.
func WaitRequests(t testing.TB, a *app.App, route string, n int, timeout time.Duration) {
	t.Helper()
	start := Requests(t, a, route)
	deadline := time.Now().Add(timeout)
	for Requests(t, a, route) < start+float64(n) {
		if time.Now().After(deadline) {
			t.Fatalf("%v requests on %s in %s, want %d", Requests(t, a, route)-start, route, timeout, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Store is a backend a test runs an app on: its name, for the subtest, and the serve
// arguments that select it.
type Store struct {
	Name string
	// Args returns the arguments; a Redis backend starts its redis-server here, for t.
	Args func(t testing.TB) []string
}

// Stores are the backends a test that must hold on every store runs on: the embedded
// store and a real redis-server.
var Stores = []Store{
	{"embedded", func(testing.TB) []string { return nil }},
	{"redis", func(t testing.TB) []string { return []string{"--redis", testredis.Start(t).URL()} }},
}
