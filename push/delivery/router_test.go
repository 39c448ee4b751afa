package delivery

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeProvider records what it is asked to send.
type fakeProvider struct {
	name    string
	comms   []string
	err     error         // returned by Send
	block   bool          // ignore the context and block until released
	timeout time.Duration // reported through TimeoutProvider when set

	mu       sync.Mutex
	sent     []Message
	deadline time.Time
	released chan struct{}
}

func (f *fakeProvider) Name() string { return f.name }

func (f *fakeProvider) Supports(c string) bool {
	for _, x := range f.comms {
		if x == c {
			return true
		}
	}
	return false
}

func (f *fakeProvider) Send(ctx context.Context, m Message) error {
	f.mu.Lock()
	f.sent = append(f.sent, m)
	f.deadline, _ = ctx.Deadline()
	f.mu.Unlock()
	if f.block {
		<-f.released
	}
	return f.err
}

// timedProvider is a fakeProvider that reports a timeout.
type timedProvider struct{ *fakeProvider }

func (p timedProvider) Timeout() time.Duration { return p.timeout }

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func testRouter(t *testing.T) *Router {
	t.Helper()
	ps := []Provider{
		&fakeProvider{name: "relay", comms: []string{"fcm", "apns"}},
		&fakeProvider{name: "apns-b", comms: []string{"apns"}},
		&fakeProvider{name: "fcm-a", comms: []string{"fcm"}},
		&fakeProvider{name: "fcm-b", comms: []string{"fcm"}},
		&fakeProvider{name: "apns-a", comms: []string{"apns"}},
		NewPoll("poll"),
	}
	rules := []Rule{
		{Name: "corp-net", Networks: []string{"10.0.0.0/8", "2001:db8::/32", "::ffff:172.16.0.0/108"}, Provider: "relay"},
		{Name: "service-users", Realms: []string{"/alpha"}, Users: []string{"svc-*", "robot"}, Provider: "apns-b"},
		{Name: "alpha", Realms: []string{"/alpha"}, Provider: "fcm-b"},
		{Name: "vip-host", Networks: []string{"198.51.100.7"}, Users: []string{"bob"}, Provider: "fcm-b"},
	}
	r, err := NewRouter(ps, rules, map[string]string{"gcm": "fcm-a", "apns": "apns-a", "poll": "poll"}, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRouterRoute(t *testing.T) {
	r := testRouter(t)
	for _, tc := range []struct {
		name                   string
		realm, user, ip, comm  string
		wantProvider, wantRule string
		wantNoProvider         bool
	}{
		{name: "ipv4 in corp net", realm: "/beta", user: "alice", ip: "10.1.2.3", comm: "fcm", wantProvider: "relay", wantRule: "corp-net"},
		{name: "ipv4 with port", realm: "/beta", user: "alice", ip: "10.1.2.3:51234", comm: "gcm", wantProvider: "relay", wantRule: "corp-net"},
		{name: "ipv4-mapped ipv6", realm: "/beta", user: "alice", ip: "::ffff:10.9.9.9", comm: "apns", wantProvider: "relay", wantRule: "corp-net"},
		{name: "ipv4-mapped prefix", realm: "/beta", user: "alice", ip: "172.16.4.4", comm: "apns", wantProvider: "relay", wantRule: "corp-net"},
		{name: "ipv6 in corp net", realm: "/beta", user: "alice", ip: "2001:db8::1", comm: "fcm", wantProvider: "relay", wantRule: "corp-net"},
		{name: "ipv6 bracketed with port", realm: "/beta", user: "alice", ip: "[2001:db8:ffff::2]:443", comm: "fcm", wantProvider: "relay", wantRule: "corp-net"},
		{name: "ipv6 outside", realm: "/beta", user: "alice", ip: "2001:db9::1", comm: "fcm", wantProvider: "fcm-a", wantRule: DefaultRule},
		{name: "no client ip never matches a network", realm: "/beta", user: "alice", ip: "", comm: "fcm", wantProvider: "fcm-a", wantRule: DefaultRule},
		{name: "unparsable client ip", realm: "/beta", user: "alice", ip: "unknown", comm: "fcm", wantProvider: "fcm-a", wantRule: DefaultRule},
		{name: "user glob and realm", realm: "/alpha", user: "svc-backup", ip: "192.0.2.1", comm: "apns", wantProvider: "apns-b", wantRule: "service-users"},
		{name: "exact user", realm: "/alpha", user: "robot", ip: "192.0.2.1", comm: "apns", wantProvider: "apns-b", wantRule: "service-users"},
		{name: "glob does not cross the realm", realm: "/beta", user: "svc-backup", ip: "192.0.2.1", comm: "apns", wantProvider: "apns-a", wantRule: DefaultRule},
		{name: "unsupported communication falls through", realm: "/alpha", user: "svc-backup", ip: "192.0.2.1", comm: "gcm", wantProvider: "fcm-b", wantRule: "alpha"},
		{name: "realm rule", realm: "/alpha", user: "carol", ip: "192.0.2.1", comm: "fcm", wantProvider: "fcm-b", wantRule: "alpha"},
		{name: "realm rule skips apns", realm: "/alpha", user: "carol", ip: "192.0.2.1", comm: "apns", wantProvider: "apns-a", wantRule: DefaultRule},
		{name: "single address and user", realm: "/beta", user: "bob", ip: "198.51.100.7", comm: "fcm", wantProvider: "fcm-b", wantRule: "vip-host"},
		{name: "single address other user", realm: "/beta", user: "eve", ip: "198.51.100.7", comm: "fcm", wantProvider: "fcm-a", wantRule: DefaultRule},
		{name: "poll in corp net goes to poll", realm: "/beta", user: "alice", ip: "10.1.2.3", comm: "poll", wantProvider: "poll", wantRule: DefaultRule},
		{name: "gcm alias default", realm: "/beta", user: "alice", ip: "192.0.2.1", comm: "GCM", wantProvider: "fcm-a", wantRule: DefaultRule},
		{name: "no webhook provider", realm: "/beta", user: "alice", ip: "192.0.2.1", comm: "webhook", wantNoProvider: true},
		{name: "no communication", realm: "/beta", user: "alice", ip: "192.0.2.1", comm: "", wantNoProvider: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := testMessage(tc.comm, "tok")
			m.Realm, m.User, m.ClientIP = tc.realm, tc.user, tc.ip
			provider, rule, err := r.Route(m)
			if tc.wantNoProvider {
				if !errors.Is(err, ErrNoProvider) || !errors.Is(err, ErrTransmission) {
					t.Fatalf("Route = %q, %q, %v; want ErrNoProvider wrapped in ErrTransmission", provider, rule, err)
				}
				return
			}
			if err != nil || provider != tc.wantProvider || rule != tc.wantRule {
				t.Fatalf("Route = %q, %q, %v; want %q by %q", provider, rule, err, tc.wantProvider, tc.wantRule)
			}
		})
	}
}

func TestRouterDeliver(t *testing.T) {
	ok := &fakeProvider{name: "ok", comms: []string{"fcm"}}
	failing := &fakeProvider{name: "failing", comms: []string{"apns"}, err: errors.New("socket closed")}
	r, err := NewRouter([]Provider{ok, failing}, nil, map[string]string{"fcm": "ok", "apns": "failing"}, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	results := map[string][]error{}
	r.OnResult = func(provider string, err error) {
		mu.Lock()
		defer mu.Unlock()
		results[provider] = append(results[provider], err)
	}
	ctx := context.Background()
	if err := r.Deliver(ctx, testMessage("fcm", "t")); err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	err = r.Deliver(ctx, testMessage("apns", "t"))
	if !errors.Is(err, ErrTransmission) || !strings.Contains(err.Error(), "socket closed") || !strings.Contains(err.Error(), "failing") {
		t.Fatalf("a custom provider's bare error was not wrapped: %v", err)
	}
	if err := r.Deliver(ctx, testMessage("webhook", "t")); !errors.Is(err, ErrNoProvider) || !errors.Is(err, ErrTransmission) {
		t.Fatalf("Deliver with no provider: %v", err)
	}
	if len(results["ok"]) != 1 || results["ok"][0] != nil || len(results["failing"]) != 1 || results["failing"][0] == nil ||
		len(results[""]) != 1 || !errors.Is(results[""][0], ErrNoProvider) {
		t.Errorf("OnResult saw %v", results)
	}
	want := map[string]ProviderStats{"ok": {Delivered: 1}, "failing": {Failed: 1}, "": {Failed: 1}}
	got := r.Stats()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("Stats[%q] = %+v, want %+v", k, got[k], v)
		}
	}
	ok.mu.Lock()
	defer ok.mu.Unlock()
	if len(ok.sent) != 1 || ok.sent[0].JWT != testJWT {
		t.Errorf("provider got %+v", ok.sent)
	}
}

func TestRouterDeadline(t *testing.T) {
	for _, tc := range []struct {
		name            string
		providerTimeout time.Duration
		ctxTimeout      time.Duration
		wantAbout       time.Duration
	}{
		{"provider timeout is shorter", 200 * time.Millisecond, time.Minute, 200 * time.Millisecond},
		{"context deadline is shorter", time.Minute, 200 * time.Millisecond, 200 * time.Millisecond},
		{"no provider timeout: DefaultTimeout", 0, time.Hour, DefaultTimeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeProvider{name: "p", comms: []string{"fcm"}, timeout: tc.providerTimeout}
			var p Provider = f
			if tc.providerTimeout > 0 {
				p = timedProvider{f}
			}
			r, err := NewRouter([]Provider{p}, nil, map[string]string{"fcm": "p"}, quietLogger())
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), tc.ctxTimeout)
			defer cancel()
			start := time.Now()
			if err := r.Deliver(ctx, testMessage("fcm", "t")); err != nil {
				t.Fatal(err)
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			if d := f.deadline.Sub(start); d > tc.wantAbout+time.Second/10 || d < tc.wantAbout-time.Second/10 {
				t.Errorf("provider's deadline is %s away, want about %s", d, tc.wantAbout)
			}
		})
	}
}

func TestRouterReturnsWhenProviderIgnoresContext(t *testing.T) {
	f := &fakeProvider{name: "stuck", comms: []string{"fcm"}, block: true, released: make(chan struct{}), timeout: 150 * time.Millisecond}
	defer close(f.released)
	r, err := NewRouter([]Provider{timedProvider{f}}, nil, map[string]string{"fcm": "stuck"}, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = r.Deliver(context.Background(), testMessage("fcm", "t"))
	if !errors.Is(err, ErrTransmission) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Deliver: %v", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("Deliver took %s with a 150ms provider timeout", took)
	}
	if s := r.Stats()["stuck"]; s.Failed != 1 {
		t.Errorf("Stats = %+v", s)
	}
}

func TestNewRouterRejects(t *testing.T) {
	fcm := &fakeProvider{name: "fcm", comms: []string{"fcm"}}
	apns := &fakeProvider{name: "apns", comms: []string{"apns"}}
	for _, tc := range []struct {
		name      string
		providers []Provider
		rules     []Rule
		defaults  map[string]string
		want      []string
	}{
		{name: "duplicate provider", providers: []Provider{fcm, &fakeProvider{name: "fcm"}}, want: []string{`providers[1]: duplicate provider name "fcm"`}},
		{name: "empty provider name", providers: []Provider{&fakeProvider{}}, want: []string{"providers[0]: empty name"}},
		{name: "nil provider", providers: []Provider{nil}, want: []string{"providers[0]: nil provider"}},
		{name: "unknown rule provider", providers: []Provider{fcm}, rules: []Rule{{Name: "r", Provider: "nope"}}, want: []string{`rules[0] "r": unknown provider "nope" (have fcm)`}},
		{name: "rule without provider", providers: []Provider{fcm}, rules: []Rule{{}}, want: []string{`rules[0] "rules[0]": no provider`}},
		{name: "bad cidr", providers: []Provider{fcm}, rules: []Rule{{Name: "r", Provider: "fcm", Networks: []string{"10.0.0.0/33", "300.1.1.1", "fe80::1%eth0"}}}, want: []string{`network "10.0.0.0/33"`, `network "300.1.1.1"`, `network "fe80::1%eth0"`}},
		{name: "bad user glob", providers: []Provider{fcm}, rules: []Rule{{Name: "r", Provider: "fcm", Users: []string{"svc-[a"}}}, want: []string{`user pattern "svc-[a": syntax error in pattern`}},
		{name: "duplicate rule", providers: []Provider{fcm}, rules: []Rule{{Name: "r", Provider: "fcm"}, {Name: "r", Provider: "fcm"}}, want: []string{`rules[1]: duplicate rule name "r"`}},
		{name: "default unknown", providers: []Provider{fcm}, defaults: map[string]string{"fcm": "other"}, want: []string{`defaults.fcm: unknown provider "other"`}},
		{name: "default unsupported", providers: []Provider{fcm, apns}, defaults: map[string]string{"apns": "fcm"}, want: []string{`defaults.apns: provider "fcm" does not support communication "apns"`}},
		{name: "gcm and fcm", providers: []Provider{fcm}, defaults: map[string]string{"fcm": "fcm", "gcm": "fcm"}, want: []string{`defaults.gcm: "fcm" is already set`}},
		{name: "every problem at once", providers: []Provider{fcm, fcm}, rules: []Rule{{Name: "a", Provider: "x"}, {Name: "b", Provider: "fcm", Networks: []string{"nope"}}}, defaults: map[string]string{"apns": "y"},
			want: []string{"4 problems", "duplicate provider", `unknown provider "x"`, `network "nope"`, `defaults.apns: unknown provider "y"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewRouter(tc.providers, tc.rules, tc.defaults, quietLogger())
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("NewRouter error = %v, want a *ConfigError", err)
			}
			for _, s := range tc.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q lacks %q", err, s)
				}
			}
		})
	}
}

func TestRouterConcurrentDeliver(t *testing.T) {
	r := testRouter(t)
	var n sync.WaitGroup
	var mu sync.Mutex
	count := 0
	r.OnResult = func(string, error) { mu.Lock(); count++; mu.Unlock() }
	for i := range 32 {
		n.Go(func() {
			m := testMessage([]string{"fcm", "apns", "poll"}[i%3], "t")
			if err := r.Deliver(context.Background(), m); err != nil {
				t.Error(err)
			}
		})
	}
	n.Wait()
	if count != 32 {
		t.Errorf("OnResult called %d times", count)
	}
}
