// Package authtest runs a complete push server for tests: a push.Service over a store
// (the in-memory embedded store unless told otherwise) behind an httptest server, with
// a controllable clock, an audit recorder and a recording Deliverer, plus reference
// authenticators registered against it. Tests of the push package, of the
// authenticator and of the journey nodes built on them share it, so each does not
// rebuild the same scaffolding.
package authtest

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/authenticator"
	"github.com/arbor-auth/arbor/devices"
	"github.com/arbor-auth/arbor/keys"
	"github.com/arbor-auth/arbor/push"
	"github.com/arbor-auth/arbor/push/delivery"
	"github.com/arbor-auth/arbor/store"
	"github.com/arbor-auth/arbor/store/embedded"
)

// Clock is a manual clock, safe for concurrent use. It starts at a fixed instant so
// that runs are repeatable.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a Clock at 2030-01-01T00:00:00Z.
func NewClock() *Clock {
	return &Clock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Deliverer records every message and fails when told to. Safe for concurrent use.
type Deliverer struct {
	mu   sync.Mutex
	msgs []delivery.Message
	err  error
}

// Deliver implements delivery.Deliverer.
func (d *Deliverer) Deliver(ctx context.Context, m delivery.Message) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.err != nil {
		return d.err
	}
	d.msgs = append(d.msgs, m)
	return nil
}

// Fail makes every later Deliver return an error wrapping delivery.ErrTransmission;
// Fail(false) restores success.
func (d *Deliverer) Fail(fail bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.err = nil
	if fail {
		d.err = errors.Join(delivery.ErrTransmission, errors.New("authtest: provider is down"))
	}
}

// Messages returns the messages delivered so far.
func (d *Deliverer) Messages() []delivery.Message {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]delivery.Message(nil), d.msgs...)
}

// Last returns the last message delivered, or false if none was.
func (d *Deliverer) Last() (delivery.Message, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.msgs) == 0 {
		return delivery.Message{}, false
	}
	return d.msgs[len(d.msgs)-1], true
}

// Options change what New builds.
type Options struct {
	// Store to use; nil means a fresh in-memory embedded store on the Env's clock.
	Store store.Store
	// Config for the push service; PublicURL is set to the test server and Now to the
	// Env's clock unless set.
	Config push.Config
	// RealClock uses time.Now instead of the manual clock (for stores whose expiry the
	// test cannot control, such as Redis).
	RealClock bool
}

// Env is a running push server.
type Env struct {
	// Clock drives the service, the embedded store and the authenticators.
	Clock *Clock
	// Now is the clock function in use (Clock.Now, or time.Now with RealClock).
	Now func() time.Time
	// Store, Ring and Devices are the service's dependencies.
	Store   store.Store
	Ring    *keys.Ring
	Devices *devices.Registry
	// Push is the service under test.
	Push *push.Service
	// Server serves Push.Handler under /json/.
	Server *httptest.Server
	// Audit records every audit event.
	Audit *audit.Recorder
	// Deliverer records (or fails) deliveries.
	Deliverer *Deliverer
}

// New starts an Env and stops it when the test ends.
func New(tb testing.TB, opts Options) *Env {
	tb.Helper()
	e := &Env{Clock: NewClock(), Audit: &audit.Recorder{}, Deliverer: &Deliverer{}, Ring: keys.Generate()}
	e.Now = e.Clock.Now
	if opts.RealClock {
		e.Now = time.Now
	}
	e.Store = opts.Store
	if e.Store == nil {
		st, err := embedded.Open(embedded.Options{Now: e.Now})
		if err != nil {
			tb.Fatalf("authtest: open embedded store: %v", err)
		}
		tb.Cleanup(func() { st.Close() })
		e.Store = st
	}
	e.Devices = devices.New(e.Store, e.Ring)
	quiet := slog.New(slog.DiscardHandler)
	au := audit.New(quiet)
	au.AddSink(e.Audit.Sink())

	// The listener exists before the server starts, so the service can be built with
	// its public URL and installed before any request can arrive.
	e.Server = httptest.NewUnstartedServer(nil)
	cfg := opts.Config
	if cfg.PublicURL == "" {
		cfg.PublicURL = "http://" + e.Server.Listener.Addr().String()
	}
	if cfg.Now == nil {
		cfg.Now = e.Now
	}
	e.Push = push.New(cfg, e.Store, e.Devices, e.Deliverer, e.Ring, au, quiet)
	mux := http.NewServeMux()
	mux.Handle("/json/", e.Push.Handler())
	e.Server.Config.Handler = mux
	e.Server.Start()
	tb.Cleanup(e.Server.Close)
	return e
}

// Authenticator opens a reference authenticator with its account file in a temporary
// directory and the Env's clock.
func (e *Env) Authenticator(tb testing.TB) *authenticator.Authenticator {
	tb.Helper()
	a, err := authenticator.Open(filepath.Join(tb.TempDir(), "devices.json"))
	if err != nil {
		tb.Fatalf("authtest: open authenticator: %v", err)
	}
	a.Now = e.Now
	a.Client = e.Server.Client()
	return a
}

// Register registers a new reference authenticator for realm/user through the whole
// protocol (BeginRegistration, the device's POST, RegistrationResult) and returns it
// with its account.
func (e *Env) Register(tb testing.TB, realm, user string) (*authenticator.Authenticator, *authenticator.Account) {
	tb.Helper()
	ctx := context.Background()
	flow := "reg-flow-" + user
	reg, err := e.Push.BeginRegistration(ctx, push.RegistrationRequest{Realm: realm, Username: user, FlowID: flow})
	if err != nil {
		tb.Fatalf("authtest: BeginRegistration: %v", err)
	}
	a := e.Authenticator(tb)
	acc, err := a.Register(ctx, reg.URI, authenticator.RegisterOptions{Name: user + "'s device"})
	if err != nil {
		tb.Fatalf("authtest: Register: %v", err)
	}
	st, err := e.Push.RegistrationResult(ctx, reg.MessageID, flow)
	if err != nil || st.Status != push.RegistrationRegistered || st.DeviceID != acc.ID {
		tb.Fatalf("authtest: RegistrationResult = %+v, %v; want registered %s", st, err, acc.ID)
	}
	return a, acc
}
