// Package app assembles a running Arbor from its configuration: the store, keys,
// services, node registry, journeys, engine and HTTP doors. `arbor serve` and the
// integration tests build the same App, so what is tested is what runs.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/arbor-auth/arbor/admin"
	"github.com/arbor-auth/arbor/api"
	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/devices"
	"github.com/arbor-auth/arbor/door"
	"github.com/arbor-auth/arbor/engine"
	"github.com/arbor-auth/arbor/identity"
	"github.com/arbor-auth/arbor/internal/config"
	"github.com/arbor-auth/arbor/journeys"
	"github.com/arbor-auth/arbor/keys"
	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/nodes/basic"
	"github.com/arbor-auth/arbor/nodes/mfa"
	"github.com/arbor-auth/arbor/oidc"
	"github.com/arbor-auth/arbor/push"
	"github.com/arbor-auth/arbor/radius"
	"github.com/arbor-auth/arbor/sessions"
	"github.com/arbor-auth/arbor/store"
	"github.com/arbor-auth/arbor/store/embedded"
	"github.com/arbor-auth/arbor/store/redisstore"
	"github.com/arbor-auth/arbor/throttle"
	"github.com/arbor-auth/arbor/web"
)

// DemoUser and DemoPassword are the account --demo adds.
const (
	DemoUser     = "demo"
	DemoPassword = "Ch4ng31t"
)

// App is an assembled Arbor.
type App struct {
	Config   *config.Config
	Log      *slog.Logger
	Store    store.Store
	Keys     *keys.Ring
	Users    *identity.Store
	Registry *nodes.Registry
	Deps     *nodes.Deps
	Journeys *journeys.Repo
	Engine   *engine.Engine
	Sessions *sessions.Manager
	Door     *door.Core
	Audit    *audit.Logger
	API      *api.Server
	Metrics  *prometheus.Registry
	Devices  *devices.Registry
	Push     *push.Service
	// Listeners are extra addresses to serve (the device API on its own address).
	Listeners []Listener
	// PacketListeners are datagram doors to serve (RADIUS), and RADIUS the RADIUS door
	// when the config file enables it.
	PacketListeners []PacketListener
	RADIUS          *radius.Server
	// OIDC is the OpenID Connect door when the config file declares clients.
	OIDC *oidc.Server

	pushCfg PushConfig
	cases   admin.CaseRunner
	now     func() time.Time
	trace   func(engine.TraceEvent)
	wrap    func(store.Store) store.Store
	// pages is the browser door, whose sign-out confirmation the OIDC door shows.
	pages *web.Server
}

// Option changes how New assembles an App.
type Option func(*App)

// WithClock makes the engine, sessions and push service read time from now, so tests
// can move time forward (push waits, expiries) without sleeping.
func WithClock(now func() time.Time) Option { return func(a *App) { a.now = now } }

// WithCaseRunner lets the admin API run journey test cases before saving
// (validate?test=true). The runner (internal/journeytest) boots servers through this
// package, so it comes in from outside rather than being imported here.
func WithCaseRunner(r admin.CaseRunner) Option { return func(a *App) { a.cases = r } }

// WithTrace hands every node visit and outcome of every flow to trace (the journey
// test runner's coverage; see engine.Config.Trace).
func WithTrace(trace func(engine.TraceEvent)) Option { return func(a *App) { a.trace = trace } }

// WithStoreWrap hands the opened store to wrap and uses what it returns everywhere, so
// a test can count what a request costs in store calls (storetest.Counting).
func WithStoreWrap(wrap func(store.Store) store.Store) Option {
	return func(a *App) { a.wrap = wrap }
}

// New builds an App from cfg. It opens the store, loads users and journeys, and fails
// with every problem if a journey is invalid.
func New(ctx context.Context, cfg *config.Config, log *slog.Logger, opts ...Option) (*App, error) {
	a := &App{Config: cfg, Log: log, now: time.Now}
	for _, o := range opts {
		o(a)
	}
	var err error
	if cfg.Redis != "" {
		a.Store, err = redisstore.Open(cfg.Redis)
	} else {
		var mode embedded.SyncMode
		if mode, err = embedded.ParseSyncMode(cfg.StoreSync); err == nil {
			a.Store, err = embedded.Open(embedded.Options{Dir: cfg.Data, Sync: mode})
		}
	}
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	if a.wrap != nil {
		a.Store = a.wrap(a.Store)
	}
	ok := false
	defer func() {
		if !ok {
			a.Store.Close()
		}
	}()
	if err := a.Store.Ping(ctx); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	switch {
	case cfg.Secret != "":
		a.Keys, err = keys.Parse(cfg.Secret)
	default:
		if cfg.Redis != "" {
			log.Warn("no --secret set: keys come from a file in --data; every instance sharing this Redis must use the same secret")
		}
		a.Keys, err = keys.LoadOrCreate(filepath.Join(cfg.Data, "secret.key"))
	}
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	a.Audit = audit.New(log)
	conc := cfg.HashConcurrency
	if conc <= 0 {
		conc = runtime.NumCPU()
	}
	a.Users = identity.New(a.Store, identity.Options{
		Params:        identity.Params{MemoryKiB: uint32(cfg.HashMemoryKiB), Iterations: uint32(cfg.HashIterations), Parallelism: 1},
		MaxConcurrent: conc,
		Now:           a.now,
	})
	if cfg.Users != "" {
		f, err := os.Open(cfg.Users)
		if err != nil {
			return nil, fmt.Errorf("users file: %w", err)
		}
		n, err := a.Users.Import(ctx, f, identity.Realms(cfg.Realms...))
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("users file %s: %w", cfg.Users, err)
		}
		log.Info("imported users", "file", cfg.Users, "count", n)
	}
	if cfg.Demo {
		hash, err := identity.HashPassword(DemoPassword, identity.Params{MemoryKiB: uint32(cfg.HashMemoryKiB), Iterations: uint32(cfg.HashIterations), Parallelism: 1})
		if err != nil {
			return nil, err
		}
		// Created once: a restart must not undo a lock, a new password or attributes
		// set since.
		if err := a.Users.Create(ctx, &identity.User{Realm: "/", Username: DemoUser, PasswordHash: hash, Status: identity.StatusActive,
			Attributes: map[string]any{"mail": "demo@example.com", "givenName": "Demo", "roles": []any{"admin"}}}); err != nil && !errors.Is(err, identity.ErrExists) {
			return nil, fmt.Errorf("demo user: %w", err)
		}
	}

	a.Registry = NewRegistry()
	guard, err := throttle.New(a.Store, ThrottleConfig(cfg), a.now, a.Audit)
	if err != nil {
		return nil, err
	}
	a.Deps = &nodes.Deps{Store: a.Store, Users: a.Users, Keys: a.Keys, Audit: a.Audit, Log: log, Guard: guard}
	a.Metrics = prometheus.NewRegistry()
	a.Metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	em := engine.NewMetrics(a.Metrics)
	a.Journeys = journeys.NewRepo(a.Store, journeys.CompileOptions{Registry: a.Registry, Deps: a.Deps})
	a.Engine = engine.New(engine.Config{Now: a.now, Trace: a.trace, Sealer: a.Keys.Sealer(keys.PurposeSealedFlow)}, a.Store, a.Journeys, a.Deps, em)
	if err := a.startServices(ctx); err != nil {
		return nil, err
	}
	a.Sessions = sessions.New(a.Store, sessions.Config{IdleTimeout: cfg.SessionIdle, MaxLifetime: cfg.SessionMax, Now: a.now})
	if a.Door, err = newDoor(a); err != nil {
		return nil, err
	}
	// Before any journey compiles: nodes that lock accounts or change factors end the
	// user's sessions through the door core.
	a.Deps.Sessions = a.Door

	builtin, err := journeys.Builtin()
	if err != nil {
		return nil, err
	}
	if _, err := a.Journeys.LoadSet(ctx, builtin, func(string) string { return "builtin" }); err != nil {
		return nil, fmt.Errorf("built-in journeys: %w", err)
	}
	if cfg.Journeys != "" {
		docs, err := journeys.ReadDir(cfg.Journeys)
		if err != nil {
			return nil, err
		}
		names, err := a.Journeys.LoadSet(ctx, docs, func(k string) string { return "file:" + k })
		if err != nil {
			return nil, fmt.Errorf("journeys in %s refused:\n%w", cfg.Journeys, err)
		}
		log.Info("loaded journeys", "dir", cfg.Journeys, "journeys", names)
	}

	a.API = api.New(api.Config{
		CookieName: cfg.CookieName, CORSOrigins: cfg.CORSOrigins, MaxBodyBytes: cfg.MaxBodyBytes,
		MetricsToken: cfg.MetricsToken, MetricsElsewhere: cfg.MetricsListen != "", ZeroPageLogin: cfg.ZeroPageLogin, Now: a.now,
	}, api.Deps{Door: a.Door, Store: a.Store, Keys: a.Keys, Audit: a.Audit, Log: log,
		Metrics: em, Registry: a.Metrics, Gatherer: a.Metrics, Journeys: a.Journeys, Nodes: a.Registry})
	if err := a.mountDoors(ctx); err != nil {
		return nil, err
	}
	ok = true
	return a, nil
}

// NewRegistry returns the node registry with every family, registered in one place:
// `serve`, the CLI's commands (validate, the node palette and its README table) and the
// node conformance suite all use exactly this registry.
func NewRegistry() *nodes.Registry {
	r := nodes.NewRegistry()
	basic.Register(r)
	mfa.Register(r)
	return r
}

// startServices starts the services nodes and doors use, after the engine exists and
// before journeys are compiled (their nodes take services from a.Deps).
func (a *App) startServices(ctx context.Context) error {
	if err := setupPush(ctx, a); err != nil {
		return err
	}
	return countAuditEvents(a)
}

// mountDoors mounts every door on the API server (and extra listeners) once the door
// core exists.
func (a *App) mountDoors(_ context.Context) error {
	mountDeviceAPI(a)
	if err := setupWeb(a); err != nil {
		return err
	}
	if err := setupRADIUS(a); err != nil {
		return err
	}
	if err := setupForwardAuth(a); err != nil {
		return err
	}
	if err := setupOIDC(a); err != nil {
		return err
	}
	if err := setupLinOTP(a); err != nil {
		return err
	}
	if err := setupFortiGate(a); err != nil {
		return err
	}
	if err := mountViewer(a); err != nil {
		return err
	}
	if err := mountAdmin(a); err != nil {
		return err
	}
	if a.Config.MetricsListen != "" {
		a.Listeners = append(a.Listeners, Listener{Name: "metrics", Addr: a.Config.MetricsListen,
			Handler: api.MetricsHandler(a.Metrics, a.Config.MetricsToken)})
	}
	if a.Config.PprofListen != "" {
		a.Listeners = append(a.Listeners, Listener{Name: "pprof", Addr: a.Config.PprofListen, Handler: pprofHandler()})
	}
	return nil
}

// ThrottleConfig is the guessing defence's part of cfg.
func ThrottleConfig(cfg *config.Config) throttle.Config {
	return throttle.Config{Window: cfg.ThrottleWindow, PairFree: cfg.ThrottlePairFree, AddressFree: cfg.ThrottleAddrFree,
		UserFree: cfg.ThrottleUserFree, BaseDelay: cfg.ThrottleDelay, MaxDelay: cfg.ThrottleMaxDelay}
}

// Handler is the HTTP handler of every door.
func (a *App) Handler() http.Handler { return a.API }

// Close releases the store.
func (a *App) Close() error {
	return a.Store.Close()
}
