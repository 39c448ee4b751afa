package redisstore

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/arbor-auth/arbor/internal/cpubench"
	"github.com/arbor-auth/arbor/internal/testredis"
	"github.com/arbor-auth/arbor/store"
	"github.com/arbor-auth/arbor/store/storetest"
)

var ctx = context.Background()

// prefixes gives every store opened by a test a key space of its own on the shared
// server.
var prefixes atomic.Int64

func uniquePrefix() string { return fmt.Sprintf("test%d:", prefixes.Add(1)) }

func openTest(t testing.TB, srv *testredis.Server, opts ...Option) *Store {
	t.Helper()
	s, err := Open(srv.URL(), append([]Option{WithPrefix(uniquePrefix())}, opts...)...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

// raw runs a command built by build on s's client, for checks behind the store's back.
func raw(t testing.TB, s *Store, build func(rueidis.Builder) rueidis.Completed) rueidis.RedisResult {
	t.Helper()
	c, err := s.Client()
	if err != nil {
		t.Fatalf("Client: %v", err)
	}
	return c.Do(ctx, build(c.B()))
}

// flushScripts empties the script cache of the server behind s.
func flushScripts(t testing.TB, s *Store) {
	t.Helper()
	if err := raw(t, s, func(b rueidis.Builder) rueidis.Completed { return b.ScriptFlush().Build() }).Error(); err != nil {
		t.Fatal(err)
	}
}

func TestConformance(t *testing.T) {
	srv := testredis.Start(t)
	storetest.Run(t, func(t *testing.T) store.Store { return openTest(t, srv) })
}

// TestConformanceNew runs the suite on a caller-owned client speaking RESP2.
func TestConformanceNew(t *testing.T) {
	srv := testredis.Start(t)
	c, err := rueidis.NewClient(rueidis.ClientOption{
		InitAddress: []string{srv.Addr}, AlwaysRESP2: true, ForceSingleClient: true,
		DisableCache: true, DisableRetry: true, ConnWriteTimeout: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	storetest.Run(t, func(t *testing.T) store.Store { return New(c, uniquePrefix()) })
	if err := c.Do(ctx, c.B().Ping().Build()).Error(); err != nil {
		t.Fatalf("Close of a Store made with New closed the caller's client: %v", err)
	}
}

// flowJSON returns a JSON document of about 1 KiB shaped like a journey flow.
func flowJSON(t testing.TB) []byte {
	t.Helper()
	flow := map[string]any{
		"id":      "flw_7Hq2mR9xK4vB1nZ8pL3sT6",
		"journey": "login-with-push-and-otp",
		"node":    "otp-check",
		"step":    4,
		"created": "2030-01-01T12:00:00Z",
		"expires": "2030-01-01T12:10:00Z",
		"user":    "usr_01HZX3Q9E6J4KTV2W8N5RMB7CD",
		"state": map[string]any{
			"username": "alice@example.com", "attempts": 1, "mfa": []string{"push", "totp"},
			"push": map[string]any{"device": "dev_5Kd8Qw2Lm9", "challenge": strings.Repeat("c", 43), "sent": true},
			"otp":  map[string]any{"hash": strings.Repeat("h", 64), "tries": 2},
			"ctx":  map[string]any{"ip": "203.0.113.7", "ua": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"},
		},
		"history": []string{"username", "password", "mfa-choice", "push-wait"},
	}
	b, err := json.Marshal(flow)
	if err != nil {
		t.Fatal(err)
	}
	// Pad to exactly 1024 bytes with a trailing field.
	pad := 1024 - len(b) - len(`,"pad":""`)
	if pad < 0 {
		t.Fatalf("flow is already %d bytes", len(b))
	}
	b = append(b[:len(b)-1], fmt.Sprintf(`,"pad":%q}`, strings.Repeat("p", pad))...)
	if len(b) != 1024 {
		t.Fatalf("flow is %d bytes, want 1024", len(b))
	}
	return b
}

// TestMemoryPerFlow measures what a flow-sized value costs in Redis, key, expiry and
// allocator overhead included, as reported by MEMORY USAGE.
func TestMemoryPerFlow(t *testing.T) {
	srv := testredis.Start(t)
	s, err := Open(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	flow := flowJSON(t)
	key := "flow:{01HZX3Q9E6J4KTV2W8N5RMB7CD}"
	const limit = 2048

	usage := func(how string) int64 {
		t.Helper()
		n, err := raw(t, s, func(b rueidis.Builder) rueidis.Completed {
			return b.MemoryUsage().Key(s.valueKey(key)).Samples(0).Build()
		}).AsInt64()
		if err != nil {
			t.Fatalf("MEMORY USAGE: %v", err)
		}
		t.Logf("%s: %d-byte value under a %d-byte key costs %d bytes of Redis memory", how, len(flow), len(s.valueKey(key)), n)
		if n >= limit {
			t.Errorf("%s: %d bytes per flow, want < %d", how, n, limit)
		}
		return n
	}
	rev, err := s.Set(ctx, key, flow, 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	usage("Set")
	if _, err := s.CAS(ctx, key, flow, rev, 10*time.Minute); err != nil {
		t.Fatal(err)
	}
	usage("CAS")
	ms, _ := raw(t, s, func(b rueidis.Builder) rueidis.Completed { return b.Pttl().Key(s.valueKey(key)).Build() }).AsInt64()
	if ttl := time.Duration(ms) * time.Millisecond; ttl <= 9*time.Minute || ttl > 10*time.Minute {
		t.Errorf("PTTL = %v, want about 10m", ttl)
	}
}

// TestOutage stops Redis under a live store: every call must fail fast with
// ErrUnavailable, and the store must work again once Redis is back.
func TestOutage(t *testing.T) {
	srv := testredis.Start(t)
	s := openTest(t, srv)
	defer s.Close()
	if _, err := s.Set(ctx, "k", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Incr(ctx, "n", 1, 0); err != nil {
		t.Fatal(err)
	}

	srv.Stop()
	ops := map[string]func() error{
		"Get":    func() error { _, err := s.Get(ctx, "k"); return err },
		"Set":    func() error { _, err := s.Set(ctx, "k", []byte("w"), 0); return err },
		"CAS":    func() error { _, err := s.CAS(ctx, "k", []byte("w"), 1, 0); return err },
		"Delete": func() error { return s.Delete(ctx, "k") },
		"Take":   func() error { _, err := s.Take(ctx, "k"); return err },
		"Incr":   func() error { _, err := s.Incr(ctx, "n", 1, time.Minute); return err },
		"Incr0":  func() error { _, err := s.Incr(ctx, "n", 0, 0); return err },
		"Ping":   func() error { return s.Ping(ctx) },
		"Do": func() error {
			return store.Do(ctx, s, []store.Op{store.GetOp("k"), store.IncrOp("n", 1, time.Minute), store.CASOp("c", []byte("w"), 0, 0)})
		},
	}
	for round := range 2 { // the second round runs with the pool's connections all gone
		for name, op := range ops {
			start := time.Now()
			err := op()
			took := time.Since(start)
			if !errors.Is(err, store.ErrUnavailable) {
				t.Errorf("round %d: %s during an outage = %v, want ErrUnavailable", round, name, err)
			}
			if took > 3*time.Second {
				t.Errorf("round %d: %s took %v to fail, want < 3s", round, name, took)
			}
			if round == 0 {
				t.Logf("%s failed after %v: %v", name, took.Round(time.Millisecond), err)
			}
		}
	}

	srv.Restart()
	deadline := time.Now().Add(10 * time.Second)
	for s.Ping(ctx) != nil {
		if time.Now().After(deadline) {
			t.Fatal("store did not reconnect within 10s of Redis coming back")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The restarted server has no persistence, so it starts empty.
	if _, err := s.Get(ctx, "k"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get after restart = %v, want ErrNotFound", err)
	}
	for i := range 20 { // enough calls to go through every pooled connection
		if _, err := s.Set(ctx, "k", []byte("back"), 0); err != nil {
			t.Fatalf("Set #%d after restart: %v", i, err)
		}
		if _, err := s.Incr(ctx, "n", 1, 0); err != nil {
			t.Fatalf("Incr #%d after restart: %v", i, err)
		}
	}
	if item, err := s.Get(ctx, "k"); err != nil || string(item.Value) != "back" || item.Rev != 20 {
		t.Fatalf("Get after restart = %q rev %d, %v", item.Value, item.Rev, err)
	}
}

// TestHungServer freezes Redis: calls must time out with ErrUnavailable within the
// read timeout rather than hang, and work again once Redis resumes.
func TestHungServer(t *testing.T) {
	srv := testredis.Start(t)
	s := openTest(t, srv)
	defer s.Close()
	if _, err := s.Set(ctx, "k", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	srv.Pause()
	resumed := false
	defer func() {
		if !resumed {
			srv.Resume()
		}
	}()
	for name, op := range map[string]func() error{
		"Get":  func() error { _, err := s.Get(ctx, "k"); return err },
		"CAS":  func() error { _, err := s.CAS(ctx, "k", []byte("w"), 5, 0); return err },
		"Ping": func() error { return s.Ping(ctx) },
	} {
		start := time.Now()
		err := op()
		took := time.Since(start)
		if !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%s against a hung server = %v, want ErrUnavailable", name, err)
		}
		if took > 3*time.Second {
			t.Errorf("%s took %v to fail against a hung server, want < 3s", name, took)
		}
		t.Logf("%s failed after %v: %v", name, took.Round(time.Millisecond), err)
	}
	// A caller deadline shorter than the read timeout wins.
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := s.Get(short, "k"); !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Get with a 100ms deadline = %v, want DeadlineExceeded and ErrUnavailable", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("Get with a 100ms deadline took %v", took)
	}

	srv.Resume()
	resumed = true
	deadline := time.Now().Add(10 * time.Second)
	for s.Ping(ctx) != nil {
		if time.Now().After(deadline) {
			t.Fatal("store did not recover within 10s of Redis resuming")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if item, err := s.Get(ctx, "k"); err != nil || string(item.Value) != "v" || item.Rev != 1 {
		t.Fatalf("Get after resume = %q rev %d, %v; want v rev 1 (the CAS at rev 5 must have lost)", item.Value, item.Rev, err)
	}
}

// TestHungServerPipelined freezes Redis under 16 concurrent calls, which rueidis
// pipelines on shared connections rather than giving each its own: they must all fail
// with ErrUnavailable within twice the read timeout (the connection's watchdog PING),
// not hang, and the store must serve again once Redis resumes.
func TestHungServerPipelined(t *testing.T) {
	srv := testredis.Start(t)
	s := openTest(t, srv)
	defer s.Close()
	if _, err := s.Set(ctx, "k", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	srv.Pause()
	resumed := false
	defer func() {
		if !resumed {
			srv.Resume()
		}
	}()
	errs := make(chan error, 16)
	start := time.Now()
	for i := range 16 {
		go func() {
			if i%2 == 0 {
				_, err := s.Get(ctx, "k")
				errs <- err
				return
			}
			errs <- store.Do(ctx, s, []store.Op{store.GetOp("k"), store.IncrOp("n", 1, time.Minute)})
		}()
	}
	for range 16 {
		if err := <-errs; !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("call against a hung server = %v, want ErrUnavailable", err)
		}
	}
	took := time.Since(start)
	t.Logf("16 pipelined calls failed within %v", took.Round(time.Millisecond))
	if took > 2*DefaultReadTimeout+2*time.Second {
		t.Errorf("pipelined calls took %v to fail against a hung server, want about %v", took, 2*DefaultReadTimeout)
	}
	srv.Resume()
	resumed = true
	deadline := time.Now().Add(10 * time.Second)
	for s.Ping(ctx) != nil {
		if time.Now().After(deadline) {
			t.Fatal("store did not recover within 10s of Redis resuming")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if item, err := s.Get(ctx, "k"); err != nil || string(item.Value) != "v" {
		t.Fatalf("Get after resume = %q, %v", item.Value, err)
	}
}

// TestConcurrentCallsShareConnections: 64 callers at once go through the few pipelining
// connections (by default 2 on two CPUs, 4 on more) instead of opening up to a
// connection each, as a pooled client would (go-redis: up to 10 per CPU), and every
// call gets its own answer.
func TestConcurrentCallsShareConnections(t *testing.T) {
	srv := testredis.Start(t)
	s := openTest(t, srv)
	defer s.Close()
	const callers, calls = 64, 20
	errs := make(chan error, callers)
	for i := range callers {
		go func() {
			key := fmt.Sprintf("k%d", i)
			for j := range calls {
				rev, err := s.Set(ctx, key, []byte(strconv.Itoa(j)), time.Minute)
				if err == nil {
					var item store.Item
					item, err = s.Get(ctx, key)
					if err == nil && (item.Rev != rev || string(item.Value) != strconv.Itoa(j)) {
						err = fmt.Errorf("%s: read %q rev %d after writing %d at rev %d", key, item.Value, item.Rev, j, rev)
					}
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range callers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	info, err := raw(t, s, func(b rueidis.Builder) rueidis.Completed { return b.Info().Section("clients").Build() }).ToString()
	if err != nil {
		t.Fatal(err)
	}
	var clients int
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "connected_clients:"); ok {
			clients, _ = strconv.Atoi(v)
		}
	}
	t.Logf("%d callers making %d calls each used %d connections", callers, 2*calls, clients)
	if clients < 1 || clients > 4 {
		t.Errorf("connected_clients = %d after %d concurrent callers, want at most 4", clients, callers)
	}
}

// TestOpenWithoutRedis: Open does not contact Redis (rueidis would, creating its
// client), so a store opened while Redis is down fails its calls with ErrUnavailable,
// quickly, on a single server, a Cluster and Sentinels alike, and a single server's
// store works once Redis is up, without being opened again.
func TestOpenWithoutRedis(t *testing.T) {
	srv := testredis.Start(t)
	srv.Stop()
	for _, url := range []string{
		srv.URL(),
		"redis://127.0.0.1:1,127.0.0.1:2", // a Cluster's seeds
		"redis://127.0.0.1:1,127.0.0.1:2?master_name=m", // Sentinels
	} {
		s, err := Open(url, WithPrefix(uniquePrefix()))
		if err != nil {
			t.Fatalf("Open(%s) while Redis is down: %v", url, err)
		}
		for i := range 3 { // the second and third within retryGap of the first
			start := time.Now()
			if _, err := s.Get(ctx, "k"); !errors.Is(err, store.ErrUnavailable) {
				t.Errorf("%s: Get #%d while Redis is down = %v, want ErrUnavailable", url, i, err)
			}
			if took := time.Since(start); took > 3*time.Second {
				t.Errorf("%s: Get #%d took %v to fail", url, i, took)
			}
		}
		if _, err := s.Client(); !errors.Is(err, store.ErrUnavailable) && url != srv.URL() {
			t.Errorf("%s: Client while Redis is down = %v, want ErrUnavailable", url, err)
		}
		if url != srv.URL() {
			s.Close()
			continue
		}
		srv.Restart()
		deadline := time.Now().Add(10 * time.Second)
		for s.Ping(ctx) != nil {
			if time.Now().After(deadline) {
				t.Fatal("store opened before Redis did not connect within 10s of Redis starting")
			}
			time.Sleep(50 * time.Millisecond)
		}
		if _, err := s.Set(ctx, "k", []byte("v"), 0); err != nil {
			t.Fatalf("Set once Redis is up: %v", err)
		}
		s.Close()
		if _, err := s.Get(ctx, "k"); !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("Get after Close = %v, want ErrUnavailable", err)
		}
	}
}

// TestScriptCacheFlush checks the EVAL fallback when Redis lost its scripts.
func TestScriptCacheFlush(t *testing.T) {
	srv := testredis.Start(t)
	s := openTest(t, srv)
	defer s.Close()
	for i := range 3 {
		flushScripts(t, s)
		rev, err := s.Set(ctx, "k", []byte("v"), 0)
		if err != nil {
			t.Fatalf("Set after SCRIPT FLUSH: %v", err)
		}
		flushScripts(t, s)
		if _, err := s.CAS(ctx, "k", []byte("w"), rev, 0); err != nil {
			t.Fatalf("CAS after SCRIPT FLUSH: %v", err)
		}
		flushScripts(t, s)
		if n, err := s.Incr(ctx, "n", 1, 0); err != nil || n != int64(i+1) {
			t.Fatalf("Incr after SCRIPT FLUSH = %d, %v", n, err)
		}
	}
}

// TestScriptCacheFlushBatch checks that a batch whose scripted ops find the script
// cache empty (a flush, or a replica promoted since) runs each of them once, loaded.
func TestScriptCacheFlushBatch(t *testing.T) {
	srv := testredis.Start(t)
	s := openTest(t, srv)
	defer s.Close()
	for i := range 3 {
		flushScripts(t, s)
		rev := uint64(i)
		ops := []store.Op{
			store.SetOp("set", []byte("v"), 0),
			store.CASOp("cas", []byte("v"), rev, 0),
			store.IncrOp("n", 1, time.Hour),
			store.GetOp("other"),
			store.PushOp("list", []byte("m"+strconv.Itoa(i)), time.Now().Add(time.Hour), 2, time.Now()),
		}
		if err := store.Do(ctx, s, ops); err != nil {
			t.Fatalf("round %d: Do after SCRIPT FLUSH: %v", i, err)
		}
		if ops[0].Rev != rev+1 || ops[1].Err != nil || ops[1].Rev != rev+1 || ops[2].N != int64(i+1) {
			t.Fatalf("round %d: Set rev %d, CAS rev %d (%v), Incr %d; want %d, %d, %d", i, ops[0].Rev, ops[1].Rev, ops[1].Err, ops[2].N, rev+1, rev+1, i+1)
		}
		if ops[4].Rev != rev+1 || (i == 2) != (len(ops[4].Dropped) == 1) {
			t.Fatalf("round %d: Push rev %d dropped %q; want rev %d, the oldest dropped in round 2", i, ops[4].Rev, ops[4].Dropped, rev+1)
		}
	}
	// The fallback loaded the push script: a batch now finds it.
	ops := []store.Op{store.PushOp("list", []byte("again"), time.Now().Add(time.Hour), 2, time.Now())}
	if err := store.Do(ctx, s, ops); err != nil || ops[0].Rev != 4 {
		t.Fatalf("push after the rounds: rev %d, %v", ops[0].Rev, err)
	}
	if n, err := raw(t, s, func(b rueidis.Builder) rueidis.Completed {
		return b.ScriptExists().Sha1(pushScript.Hash()).Build()
	}).AsIntSlice(); err != nil || len(n) != 1 || n[0] != 1 {
		t.Errorf("push script cached after its fallback: %v, %v", n, err)
	}
	// Each scripted op ran exactly once per round.
	if n, err := s.Incr(ctx, "n", 0, 0); err != nil || n != 3 {
		t.Errorf("counter after 3 rounds = %d, %v; want 3", n, err)
	}
}

// TestKeyLayout pins the Redis key names: prefix, key space, then the key with its
// hash tag untouched.
func TestKeyLayout(t *testing.T) {
	srv := testredis.Start(t)
	s, err := Open(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Set(ctx, "flow:{abc}", []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Incr(ctx, "rate:{abc}", 1, time.Minute); err != nil {
		t.Fatal(err)
	}
	keys, err := raw(t, s, func(b rueidis.Builder) rueidis.Completed { return b.Keys().Pattern("*").Build() }).AsStrSlice()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"arbor:v:flow:{abc}": true, "arbor:n:rate:{abc}": true}
	if len(keys) != len(want) || !want[keys[0]] || !want[keys[1]] {
		t.Fatalf("Redis keys = %q, want %v", keys, want)
	}
	stored, _ := raw(t, s, func(b rueidis.Builder) rueidis.Completed { return b.Get().Key("arbor:v:flow:{abc}").Build() }).ToString()
	if stored != "1:v" {
		t.Fatalf("stored value = %q, want %q", stored, "1:v")
	}
}

// TestTinyTTL checks that a positive ttl under a millisecond still expires.
func TestTinyTTL(t *testing.T) {
	srv := testredis.Start(t)
	s := openTest(t, srv)
	defer s.Close()
	if _, err := s.Set(ctx, "k", []byte("v"), time.Nanosecond); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	if _, err := s.Get(ctx, "k"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get of a key with a 1ns ttl = %v, want ErrNotFound", err)
	}
}

func TestMalformedValue(t *testing.T) {
	srv := testredis.Start(t)
	s := openTest(t, srv)
	defer s.Close()
	if err := raw(t, s, func(b rueidis.Builder) rueidis.Completed {
		return b.Set().Key(s.valueKey("k")).Value("no revision").Build()
	}).Error(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "k"); err == nil || errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get of a malformed value = %v, want an error", err)
	}
	if _, err := s.Set(ctx, "k", []byte("v"), 0); err == nil {
		t.Fatal("Set over a malformed value succeeded")
	}
}

func TestParseURL(t *testing.T) {
	type want struct {
		addrs      []string
		db         int
		user, pass string
		master     string
		cluster    bool
		tls        bool
		dial, read time.Duration
		retries    int
	}
	base := want{dial: DefaultDialTimeout, read: DefaultReadTimeout, retries: -1}
	with := func(f func(*want)) want { w := base; f(&w); return w }
	cases := map[string]want{
		"redis://127.0.0.1:6380/0": with(func(w *want) { w.addrs = []string{"127.0.0.1:6380"} }),
		"redis://localhost":        with(func(w *want) { w.addrs = []string{"localhost:6379"} }),
		"redis://":                 with(func(w *want) { w.addrs = []string{"localhost:6379"} }),
		"redis://h/3":              with(func(w *want) { w.addrs = []string{"h:6379"}; w.db = 3 }),
		"redis://h?db=4":           with(func(w *want) { w.addrs = []string{"h:6379"}; w.db = 4 }),
		"redis://u:p%40ss@h:1/2":   with(func(w *want) { w.addrs = []string{"h:1"}; w.db = 2; w.user = "u"; w.pass = "p@ss" }),
		"redis://:secret@h":        with(func(w *want) { w.addrs = []string{"h:6379"}; w.pass = "secret" }),
		"rediss://h:6380":          with(func(w *want) { w.addrs = []string{"h:6380"}; w.tls = true }),
		"redis://[::1]:7000":       with(func(w *want) { w.addrs = []string{"[::1]:7000"} }),
		"redis://[::1]":            with(func(w *want) { w.addrs = []string{"[::1]:6379"} }),
		"redis://h1:7000,h2:7001,h3": with(func(w *want) {
			w.addrs = []string{"h1:7000", "h2:7001", "h3:6379"}
			w.cluster = true
		}),
		"redis://cfg.example:6379?cluster=true": with(func(w *want) { w.addrs = []string{"cfg.example:6379"}; w.cluster = true }),
		"redis://:pw@s1,s2:5000/1?master_name=mymaster": with(func(w *want) {
			w.addrs = []string{"s1:26379", "s2:5000"}
			w.master = "mymaster"
			w.db = 1
			w.pass = "pw"
		}),
		"unix:///run/redis/redis.sock":         with(func(w *want) { w.addrs = []string{"/run/redis/redis.sock"} }),
		"redis+unix://:p%2Fw@/tmp/r.sock?db=2": with(func(w *want) { w.addrs = []string{"/tmp/r.sock"}; w.db = 2; w.pass = "p/w" }),
		"unix://u:pw@/tmp/r.sock?read_timeout=2s": with(func(w *want) {
			w.addrs = []string{"/tmp/r.sock"}
			w.user = "u"
			w.pass = "pw"
			w.read = 2 * time.Second
		}),
		"redis://h?dial_timeout=5&read_timeout=250ms&max_retries=2": with(func(w *want) {
			w.addrs = []string{"h:6379"}
			w.dial = 5 * time.Second
			w.read = 250 * time.Millisecond
			w.retries = 2
		}),
	}
	for raw, w := range cases {
		t.Run(raw, func(t *testing.T) {
			o, err := ParseURL(raw)
			if err != nil {
				t.Fatal(err)
			}
			retries := -1
			if !o.DisableRetry {
				retries = 0
				for o.RetryDelay(retries+1, rueidis.Completed{}, nil) >= 0 {
					retries++
				}
			}
			got := want{
				addrs: o.InitAddress, db: o.SelectDB, user: o.Username, pass: o.Password, master: o.Sentinel.MasterSet,
				cluster: isCluster(o), tls: o.TLSConfig != nil,
				dial: o.Dialer.Timeout, read: o.Dialer.KeepAlive, retries: retries,
			}
			if fmt.Sprint(got) != fmt.Sprint(w) {
				t.Fatalf("got  %+v\nwant %+v", got, w)
			}
			if !o.DisableCache || o.ConnWriteTimeout != max(got.read, DefaultWriteTimeout) {
				t.Errorf("defaults not applied: %+v", o)
			}
			if w.master != "" && (o.Sentinel.Dialer.Timeout != w.dial || o.Sentinel.TopologyRefreshInterval <= 0) {
				t.Errorf("Sentinel dialer or refresh not set: %+v", o.Sentinel)
			}
			if o.TLSConfig != nil && (o.TLSConfig.MinVersion != tls.VersionTLS12 || o.TLSConfig.InsecureSkipVerify) {
				t.Errorf("weak TLS config %+v", o.TLSConfig)
			}
		})
	}

	bad := []string{
		"localhost:6379", "http://h", "redis://h/x", "redis://h/1/2",
		"unix://", "unix://h/tmp/r.sock", "unix://tmp/r.sock", "unix:///tmp/", "unix:///tmp/r.sock?master_name=m",
		"unix:///tmp/r.sock?cluster=true", "unix:///tmp/r.sock?skip_verify=true", "unix:///tmp/r.sock?db=x",
		"unix:///tmp/r.sock?nope=1", "unixs:///tmp/r.sock",
		"redis://h?db=-1", "redis://h?nope=1", "redis://h:0", "redis://h:99999", "redis://h:port",
		"redis://h1,,h2", "redis://h1,h2/1", "redis://h?cluster=maybe", "redis://h?skip_verify=true",
		"redis://h?master_name=m&cluster=true", "redis://h?read_timeout=soon", "redis://h#frag",
		"redis://::1:6379",
	}
	for _, raw := range bad {
		if o, err := ParseURL(raw); err == nil {
			t.Errorf("ParseURL(%q) = %+v, want an error", raw, o)
		}
	}
	for _, raw := range []string{
		"redis://user:hunter2@h?bogus=1",
		"redis://:hunter2@h?bogus=1",
		"redis://h?sentinel_password=hunter2&master_name=m&bogus=1",
		"redis://u:hunter2@h?sentinel_password=hunter2&bogus=1#x",
		"unix://:hunter2@/tmp/r.sock?bogus=1",
	} {
		if _, err := ParseURL(raw); err == nil || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("ParseURL(%q) error %v leaks the password", raw, err)
		}
	}
	if o, err := ParseURL("rediss://h?skip_verify=true"); err != nil || !o.TLSConfig.InsecureSkipVerify {
		t.Errorf("skip_verify not applied: %v", err)
	}
	// rueidis settings the URL's client parameters become.
	if o, err := ParseURL("redis://h?pool_size=10&protocol=2&min_idle_conns=3&client_name=arbor"); err != nil ||
		o.PipelineMultiplex != 3 || !o.AlwaysRESP2 || o.ClientName != "arbor" || !o.ForceSingleClient {
		t.Errorf("pool_size=10 (want 2^3 connections), protocol=2, client_name: %+v, %v", o, err)
	}
	if o, err := ParseURL("redis://h?pool_size=100000"); err != nil || o.PipelineMultiplex != 8 {
		t.Errorf("pool_size beyond rueidis's bound: %v, %v", o.PipelineMultiplex, err)
	}
	if o, err := ParseURL("redis://h1,h2?read_timeout=300ms&write_timeout=2s"); err != nil ||
		o.ForceSingleClient || o.Dialer.KeepAlive != 300*time.Millisecond || o.ConnWriteTimeout != 2*time.Second {
		t.Errorf("cluster with read 300ms, write 2s: %+v, %v", o, err)
	}
	if _, err := ParseURL("redis://h?protocol=4"); err == nil {
		t.Error("protocol=4 accepted")
	}
}

// TestUnixSocket runs the conformance suite over the Unix socket of a real
// redis-server, and checks that the store's commands really arrive on the socket.
func TestUnixSocket(t *testing.T) {
	srv := testredis.Start(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := Open(srv.SocketURL(), WithPrefix(uniquePrefix()))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	})

	s, err := Open(srv.SocketURL(), WithPrefix(uniquePrefix()))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Set(ctx, "k", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	// CLIENT INFO's addr is the socket's path on a Unix connection (host:port on TCP).
	info, err := raw(t, s, func(b rueidis.Builder) rueidis.Completed { return b.ClientInfo().Build() }).ToString()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(info, "addr="+srv.Socket) && !strings.Contains(info, "laddr="+srv.Socket) {
		t.Errorf("CLIENT INFO over %s: %s, want the socket's path", srv.SocketURL(), info)
	}

	if _, err := Open(srv.SocketURL(), WithTLSConfig(&tls.Config{MinVersion: tls.VersionTLS12})); err == nil {
		t.Error("Open accepted TLS over a Unix socket")
	}
	// A socket nobody listens on is an outage: ErrUnavailable, not a hang.
	gone, err := Open("unix://"+filepath.Join(t.TempDir(), "none.sock"), WithDialTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer gone.Close()
	if _, err := gone.Get(ctx, "k"); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Get over a missing socket: %v, want ErrUnavailable", err)
	}
}

func TestOpenOptions(t *testing.T) {
	if _, err := Open("redis://h", WithPrefix("bad{")); err == nil {
		t.Error("Open accepted a prefix with a brace")
	}
	var seen *rueidis.ClientOption
	s, err := Open("redis://h?read_timeout=3s", WithReadTimeout(time.Millisecond*300),
		WithDialTimeout(time.Second), WithWriteTimeout(time.Second/2),
		WithClientOption(func(o *rueidis.ClientOption) { seen = o }))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if seen.Dialer.KeepAlive != 300*time.Millisecond || seen.Dialer.Timeout != time.Second || seen.ConnWriteTimeout != time.Second/2 {
		t.Errorf("options did not override the URL: %+v", seen)
	}
	if s.prefix != DefaultPrefix {
		t.Errorf("prefix = %q, want %q", s.prefix, DefaultPrefix)
	}
}

// BenchmarkGetCAS measures one Get plus one CAS of a 1 KiB value against a local
// redis-server, over TCP loopback and over its Unix socket, and reports the test
// process's CPU per Get+CAS (cpu-ns/op: the client's side of two round trips, not
// redis-server's), which unlike ns/op does not depend on what else the machine runs.
func BenchmarkGetCAS(b *testing.B) {
	srv := testredis.Start(b)
	for _, conn := range []struct{ name, url string }{{"tcp", srv.URL()}, {"unix", srv.SocketURL()}} {
		for _, parallel := range []bool{false, true} {
			name := conn.name + "/serial"
			if parallel {
				name = conn.name + "/parallel"
			}
			b.Run(name, func(b *testing.B) {
				s, err := Open(conn.url, WithPrefix(uniquePrefix()))
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				if err := s.Ping(ctx); err != nil {
					b.Fatal(err)
				}
				report := cpubench.Start(b)
				storetest.BenchGetCAS(b, s, parallel)
				report()
			})
		}
	}
}

// TestArgs checks that the strings args hands out keep their bytes while the buffer
// grows past its capacity and moves, and that each is what its builder says.
func TestArgs(t *testing.T) {
	a := args{b: make([]byte, 0, 4)} // too small: every few appends move the buffer
	value := []byte("{\"v\":1}")
	type piece struct{ got, want string }
	var pieces []piece
	for i := range 50 {
		pieces = append(pieces,
			piece{a.key("arbor:", valueSpace, "flow:{"+strconv.Itoa(i)+"}"), "arbor:v:flow:{" + strconv.Itoa(i) + "}"},
			piece{a.value(value, uint64(i)), strconv.Itoa(i) + ":" + string(value)},
			piece{a.int(-int64(i)), strconv.Itoa(-i)},
			piece{a.uint(1 << 63), "9223372036854775808"},
			piece{a.ttl(time.Duration(i)*time.Millisecond + 1), strconv.Itoa(i + 1)},
			piece{a.bytes(nil), ""},
		)
		value[len(value)-2]++ // the caller's bytes change after the call: the copies do not
	}
	value = []byte("{\"v\":1}")
	for i, p := range pieces {
		want := p.want
		if i%6 == 1 { // the value as it was at its call
			v := append([]byte(nil), value...)
			v[len(v)-2] += byte(i / 6)
			want = strconv.Itoa(i/6) + ":" + string(v)
		}
		if p.got != want {
			t.Errorf("piece %d = %q, want %q", i, p.got, want)
		}
	}
}

// TestValueOwnedByCaller checks that a value the store returns without copying it
// (decode over the reply's own bytes) is the caller's: writing into it changes neither
// Redis nor a later read, nor a value read in the same batch, by every way a value
// comes back (Get, a batch's get, Take, a push's dropped members).
func TestValueOwnedByCaller(t *testing.T) {
	s := openTest(t, testredis.Start(t))
	defer s.Close()
	want := []byte(`{"user":"demo"}`)
	for _, key := range []string{"a", "b", "c"} {
		if _, err := s.Set(ctx, key, want, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	scribble := func(b []byte) {
		for i := range b {
			b[i] = 'X'
		}
	}
	check := func(how string) {
		t.Helper()
		item, err := s.Get(ctx, "a")
		if err != nil || !bytes.Equal(item.Value, want) {
			t.Errorf("after writing into the value from %s: Get = %q, %v; want %q", how, item.Value, err, want)
		}
	}

	item, err := s.Get(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	scribble(item.Value)
	check("Get")

	ops := []store.Op{store.GetOp("a"), store.GetOp("a")}
	if err := s.Do(ctx, ops); err != nil {
		t.Fatal(err)
	}
	scribble(ops[0].Item.Value)
	if !bytes.Equal(ops[1].Item.Value, want) {
		t.Errorf("the batch's second read of the key = %q after writing into the first, want %q", ops[1].Item.Value, want)
	}
	check("a batch")

	taken, err := s.Take(ctx, "b")
	if err != nil {
		t.Fatal(err)
	}
	scribble(taken)
	if item, err := s.Get(ctx, "c"); err != nil || !bytes.Equal(item.Value, want) {
		t.Errorf("Get(c) after writing into Take(b)'s value = %q, %v; want %q", item.Value, err, want)
	}

	now := time.Now()
	dropped := func(member string) [][]byte {
		t.Helper()
		ops := []store.Op{store.PushOp("list", []byte(member), now.Add(time.Hour), 1, now)}
		if err := s.Do(ctx, ops); err != nil {
			t.Fatal(err)
		}
		return ops[0].Dropped
	}
	dropped("m1 a")
	first := dropped("m2 a")
	if len(first) != 1 || string(first[0]) != "m1 a" {
		t.Fatalf("the second push dropped %q, want [m1 a]", first)
	}
	scribble(first[0])
	if got := dropped("m3 a"); len(got) != 1 || string(got[0]) != "m2 a" {
		t.Errorf("after writing into a dropped member, the next push dropped %q, want [m2 a]", got)
	}
	check("a push's dropped member")
}
