// Command floor is the least work a server can do for arbor bench's two-step password
// login, so that Arbor's CPU per login (issue 12, item 5) can be read against a floor
// measured on the same machine by the same client, instead of against a guess.
//
// It answers POST /json/realms/root/authenticate as arbor serve --demo does, with the
// same bodies and headers, and does only what no implementation can skip:
//
//   - step 1: a flow id sealed into the authId (an HMAC, so that step 2 can trust it
//     without a store read) and the two callbacks;
//   - step 2: the body decoded, the authId checked, the user record read (Redis: one
//     GET; embedded: a map), the password checked with argon2id at m=8 KiB, t=1 (the
//     cheapest hash arbor bench's README runs use), a session written (Redis: one SET
//     with a TTL; embedded: one append to a file, unsynced, as Arbor's sessions are) and
//     the token returned in the body and a cookie.
//
// No throttling, lockout, audit, session index, metrics or journey engine: those are
// what Arbor adds over the floor. GET /metrics reports process_cpu_seconds_total and
// process_resident_memory_bytes, which arbor bench reads.
//
//	go run . -listen 127.0.0.1:18080 [-redis 127.0.0.1:6379] [-http std|fast]
//	arbor bench --url http://127.0.0.1:18080 --concurrency 8 --duration 10s --logout=false
//
// It is a separate module so that fasthttp, which -http fast uses to measure what
// leaving net/http would buy, is not a dependency of Arbor.
package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis/rueidis"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"
	"golang.org/x/crypto/argon2"
)

const (
	authPath   = "/json/realms/root/authenticate"
	userName   = "demo"
	password   = "Ch4ng31t"
	sessionTTL = 2 * time.Hour
	flowTTL    = 5 * time.Minute
)

// user is the stored record: an argon2id hash and its salt.
type user struct {
	Salt []byte `json:"salt"`
	Hash []byte `json:"hash"`
}

func hashPassword(pw string, salt []byte) []byte {
	return argon2.IDKey([]byte(pw), salt, 1, 8, 1, 32)
}

// store is where the user record is read and the session written.
type store interface {
	user(ctx context.Context, name string) ([]byte, error)
	putSession(ctx context.Context, key string, val []byte) error
}

type redisStore struct{ c rueidis.Client }

func (s redisStore) user(ctx context.Context, name string) ([]byte, error) {
	return s.c.Do(ctx, s.c.B().Get().Key("user:"+name).Build()).AsBytes()
}

func (s redisStore) putSession(ctx context.Context, key string, val []byte) error {
	return s.c.Do(ctx, s.c.B().Set().Key("session:"+key).Value(rueidis.BinaryString(val)).Ex(sessionTTL).Build()).Error()
}

// fileStore keeps users in memory and appends sessions to a file, as the embedded
// store appends every write to its data file.
type fileStore struct {
	users map[string][]byte
	mu    sync.Mutex
	f     *os.File
	buf   []byte
}

func (s *fileStore) user(_ context.Context, name string) ([]byte, error) {
	u, ok := s.users[name]
	if !ok {
		return nil, errors.New("no such user")
	}
	return u, nil
}

func (s *fileStore) putSession(_ context.Context, key string, val []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf = append(s.buf[:0], key...)
	s.buf = append(s.buf, ' ')
	s.buf = append(s.buf, val...)
	s.buf = append(s.buf, '\n')
	_, err := s.f.Write(s.buf)
	return err
}

// floor holds the server's one key and store.
type floor struct {
	key   []byte
	store store
}

var b64 = base64.RawURLEncoding

// issue seals a new flow id and its expiry into an authId.
func (f *floor) issue() string {
	var id [16]byte
	rand.Read(id[:])
	payload := b64.EncodeToString(id[:]) + "." + strconv.FormatInt(time.Now().Add(flowTTL).Unix(), 10)
	m := hmac.New(sha256.New, f.key)
	m.Write([]byte(payload))
	return payload + "." + b64.EncodeToString(m.Sum(nil))
}

// check verifies an authId's seal and expiry.
func (f *floor) check(authID string) bool {
	i := strings.LastIndexByte(authID, '.')
	if i < 0 {
		return false
	}
	payload, sig := authID[:i], authID[i+1:]
	m := hmac.New(sha256.New, f.key)
	m.Write([]byte(payload))
	want := b64.EncodeToString(m.Sum(nil))
	if subtle.ConstantTimeCompare([]byte(sig), []byte(want)) != 1 {
		return false
	}
	j := strings.LastIndexByte(payload, '.')
	exp, err := strconv.ParseInt(payload[j+1:], 10, 64)
	return err == nil && time.Now().Unix() < exp
}

type callbackIO struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type callback struct {
	Type   string       `json:"type"`
	Output []callbackIO `json:"output"`
	Input  []callbackIO `json:"input"`
	ID     int          `json:"_id"`
}

type stepBody struct {
	AuthID    string     `json:"authId"`
	Callbacks []callback `json:"callbacks"`
	Header    string     `json:"header,omitempty"`
	Stage     string     `json:"stage,omitempty"`
}

type success struct {
	TokenID    string `json:"tokenId"`
	SuccessURL string `json:"successUrl"`
	Realm      string `json:"realm"`
}

type failure struct {
	Code    int    `json:"code"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

// step runs one request; it returns the status, the body and, on success, the token.
func (f *floor) step(ctx context.Context, body []byte) (int, []byte, string) {
	if len(bytes.TrimSpace(body)) == 0 {
		out, _ := json.Marshal(stepBody{
			AuthID: f.issue(),
			Callbacks: []callback{
				{Type: "NameCallback", Output: []callbackIO{{"prompt", "User Name"}}, Input: []callbackIO{{"IDToken1", ""}}, ID: 0},
				{Type: "PasswordCallback", Output: []callbackIO{{"prompt", "Password"}}, Input: []callbackIO{{"IDToken2", ""}}, ID: 1},
			},
			Header: "Sign in", Stage: "UsernamePassword",
		})
		return http.StatusOK, out, ""
	}
	fail := func(code int, reason, msg string) (int, []byte, string) {
		out, _ := json.Marshal(failure{code, reason, msg})
		return code, out, ""
	}
	var in stepBody
	if err := json.Unmarshal(body, &in); err != nil || len(in.Callbacks) != 2 ||
		len(in.Callbacks[0].Input) != 1 || len(in.Callbacks[1].Input) != 1 {
		return fail(http.StatusBadRequest, "Bad Request", "malformed step")
	}
	if !f.check(in.AuthID) {
		return fail(http.StatusUnauthorized, "Unauthorized", "Login failure")
	}
	raw, err := f.store.user(ctx, in.Callbacks[0].Input[0].Value)
	var u user
	if err == nil {
		err = json.Unmarshal(raw, &u)
	}
	if err != nil || subtle.ConstantTimeCompare(hashPassword(in.Callbacks[1].Input[0].Value, u.Salt), u.Hash) != 1 {
		return fail(http.StatusUnauthorized, "Unauthorized", "Login failure")
	}
	var tok [32]byte
	rand.Read(tok[:])
	token := b64.EncodeToString(tok[:])
	sum := sha256.Sum256(tok[:])
	rec, _ := json.Marshal(struct {
		User    string `json:"user"`
		Expires int64  `json:"exp"`
	}{in.Callbacks[0].Input[0].Value, time.Now().Add(sessionTTL).Unix()})
	if err := f.store.putSession(ctx, b64.EncodeToString(sum[:]), rec); err != nil {
		return fail(http.StatusServiceUnavailable, "Service Unavailable", "store unavailable")
	}
	out, _ := json.Marshal(success{token, "/", "/"})
	return http.StatusOK, out, token
}

// metrics is the two gauges arbor bench reads.
func metrics() []byte {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	rss := 0
	if b, err := os.ReadFile("/proc/self/statm"); err == nil {
		if fs := strings.Fields(string(b)); len(fs) > 1 {
			pages, _ := strconv.Atoi(fs[1])
			rss = pages * os.Getpagesize()
		}
	}
	return fmt.Appendf(nil, "process_cpu_seconds_total %g\nprocess_resident_memory_bytes %d\n", cpu, rss)
}

const maxBody = 64 << 10

func (f *floor) serveStd(ln net.Listener) error {
	srv := &http.Server{Handler: f.mux(), ReadHeaderTimeout: 10 * time.Second}
	return srv.Serve(ln)
}

// serveAdapted runs the net/http handler on fasthttp's connection loop through its
// adaptor, which builds a net/http request for each call.
func (f *floor) serveAdapted(ln net.Listener) error {
	srv := &fasthttp.Server{MaxRequestBodySize: maxBody, ReadTimeout: 10 * time.Second, Handler: fasthttpadaptor.NewFastHTTPHandler(f.mux())}
	return srv.Serve(ln)
}

// mux is the net/http handler of -http std and adapt.
func (f *floor) mux() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write(metrics())
	})
	mux.HandleFunc("POST "+authPath, func(w http.ResponseWriter, r *http.Request) {
		body, err := readAll(http.MaxBytesReader(w, r.Body, maxBody))
		if err != nil {
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
			return
		}
		code, out, token := f.step(r.Context(), body)
		h := w.Header()
		h.Set("Cache-Control", "no-cache, no-store, must-revalidate")
		h.Set("Content-Type", "application/json")
		h.Set("Expires", "0")
		h.Set("Pragma", "no-cache")
		if token != "" {
			http.SetCookie(w, &http.Cookie{Name: "iPlanetDirectoryPro", Value: token, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
		}
		w.WriteHeader(code)
		w.Write(out)
	})
	return mux
}

var bufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// readAll reads r through a pooled buffer and returns a copy of what it read.
func readAll(r io.Reader) ([]byte, error) {
	b := bufs.Get().(*bytes.Buffer)
	defer bufs.Put(b)
	b.Reset()
	if _, err := b.ReadFrom(r); err != nil {
		return nil, err
	}
	return bytes.Clone(b.Bytes()), nil
}

func (f *floor) serveFast(ln net.Listener) error {
	srv := &fasthttp.Server{
		MaxRequestBodySize: maxBody,
		ReadTimeout:        10 * time.Second,
		Handler: func(c *fasthttp.RequestCtx) {
			switch {
			case c.IsGet() && string(c.Path()) == "/metrics":
				c.SetContentType("text/plain")
				c.SetBody(metrics())
			case c.IsPost() && string(c.Path()) == authPath:
				code, out, token := f.step(c, c.PostBody())
				h := &c.Response.Header
				h.Set("Cache-Control", "no-cache, no-store, must-revalidate")
				h.SetContentType("application/json")
				h.Set("Expires", "0")
				h.Set("Pragma", "no-cache")
				if token != "" {
					var ck fasthttp.Cookie
					ck.SetKey("iPlanetDirectoryPro")
					ck.SetValue(token)
					ck.SetPath("/")
					ck.SetHTTPOnly(true)
					ck.SetSameSite(fasthttp.CookieSameSiteLaxMode)
					h.SetCookie(&ck)
				}
				c.SetStatusCode(code)
				c.SetBody(out)
			default:
				c.SetStatusCode(http.StatusNotFound)
			}
		},
	}
	return srv.Serve(ln)
}

// userRecord is the demo user's stored record, hashed with a fresh salt.
func userRecord() []byte {
	salt := make([]byte, 16)
	rand.Read(salt)
	rec, _ := json.Marshal(user{Salt: salt, Hash: hashPassword(password, salt)})
	return rec
}

// serve runs the floor on ln with the named HTTP layer until ln is closed.
func (f *floor) serve(layer string, ln net.Listener) error {
	switch layer {
	case "std":
		return f.serveStd(ln)
	case "fast":
		return f.serveFast(ln)
	case "adapt":
		return f.serveAdapted(ln)
	}
	return fmt.Errorf("-http must be std, fast or adapt, not %q", layer)
}

func main() {
	listen := flag.String("listen", "127.0.0.1:18080", "address to listen on")
	redisAddr := flag.String("redis", "", "Redis address (host:port); empty: users in memory, sessions appended to a file in $TMPDIR, removed on exit")
	layer := flag.String("http", "std", "HTTP layer: std (net/http), fast (fasthttp) or adapt (fasthttp running the net/http handler through fasthttpadaptor)")
	flag.Parse()
	if err := run(*listen, *redisAddr, *layer); err != nil {
		log.Fatal(err)
	}
}

func run(listen, redisAddr, layer string) error {
	f := &floor{key: make([]byte, 32)}
	rand.Read(f.key)
	if redisAddr != "" {
		c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{redisAddr}, DisableCache: true, DisableRetry: true})
		if err != nil {
			return fmt.Errorf("connect to Redis at %s: %w", redisAddr, err)
		}
		defer c.Close()
		if err := c.Do(context.Background(), c.B().Set().Key("user:"+userName).Value(rueidis.BinaryString(userRecord())).Build()).Error(); err != nil {
			return fmt.Errorf("write the user to Redis: %w", err)
		}
		f.store = redisStore{c}
	} else {
		file, err := os.CreateTemp("", "floor-sessions-*")
		if err != nil {
			return fmt.Errorf("create the session file: %w", err)
		}
		defer os.Remove(file.Name())
		defer file.Close()
		f.store = &fileStore{users: map[string][]byte{userName: userRecord()}, f: file}
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", listen, err)
	}
	// SIGINT and SIGTERM close the listener, so that the deferred clean-up runs.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() { <-ctx.Done(); ln.Close() }()
	err = f.serve(layer, ln)
	if ctx.Err() != nil {
		return nil
	}
	return err
}
