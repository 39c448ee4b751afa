package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// sharedSecret is the master secret every instance of one deployment shares.
const sharedSecret = "c2NhbGUtc2NhbGUtc2NhbGUtc2NhbGUtc2NhbGUtc2NhbGUtMTIzNDU2Nzg="

// fastHash makes password hashing cheap, so that tests with many logins spend their
// time on what they test.
var fastHash = []string{"--hash-memory-kib", "8", "--hash-iterations", "1"}

// instances is one deployment: several `arbor serve` on one store.
type instances struct {
	srv  []*server
	logs []*syncBuf
}

// startInstances starts n `arbor serve` processes on the Redis at redisURL, sharing
// one secret; the first imports users (a YAML users file body, "" for none), as an
// operator would do once. extra arguments go to every instance.
func startInstances(t *testing.T, n int, redisURL, users string, extra ...string) *instances {
	t.Helper()
	in := &instances{}
	for i := range n {
		args := append([]string{"--redis", redisURL, "--data", t.TempDir(), "--secret", sharedSecret}, fastHash...)
		if i == 0 && users != "" {
			args = append(args, "--users", writeFile(t, "users.yaml", users))
		}
		s, logs := startServer(t, append(args, extra...)...)
		in.srv = append(in.srv, s)
		in.logs = append(in.logs, logs)
	}
	return in
}

// url returns instance i's base URL, counting round the ring.
func (in *instances) url(i int) string { return in.srv[i%len(in.srv)].URL }

// authURL is the AM authenticate endpoint of journey on base.
func authURL(base, journey string) string {
	return base + "/json/realms/root/authenticate?authIndexType=service&authIndexValue=" + journey
}

// fillLogin puts username and password into a login step's Name and Password callbacks.
func fillLogin(t testing.TB, step map[string]any, username, password string) {
	t.Helper()
	cbs, ok := step["callbacks"].([]any)
	if !ok || len(cbs) != 2 {
		t.Fatalf("not a login step: %v", step)
	}
	for _, cb := range cbs {
		m := cb.(map[string]any)
		in := m["input"].([]any)[0].(map[string]any)
		switch m["type"] {
		case "NameCallback":
			in["value"] = username
		case "PasswordCallback":
			in["value"] = password
		default:
			t.Fatalf("unexpected callback %v in a login step", m["type"])
		}
	}
}

// post sends body as JSON and returns the status and decoded answer; unlike postJSON
// it reports a transport error instead of failing, for loops that tolerate outages.
func post(url string, body any) (int, map[string]any, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return 0, nil, err
	}
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer r.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return r.StatusCode, nil, err
	}
	var m map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &m); err != nil {
			return r.StatusCode, nil, fmt.Errorf("answer %q: %w", raw, err)
		}
	}
	return r.StatusCode, m, nil
}

// validate asks base whether tokenID is a valid session of user.
func validate(t testing.TB, base, tokenID, user string) {
	t.Helper()
	status, v := postJSON(t, base+"/json/realms/root/sessions/?_action=validate", map[string]any{"tokenId": tokenID})
	if status != 200 || v["valid"] != true || v["uid"] != user {
		t.Fatalf("session of %s does not validate on %s: %d %v", user, base, status, v)
	}
}

// ringProxy is a reverse proxy in front of several instances, as a load balancer
// without sticky sessions: every request goes to the next instance, except device
// requests (the push API), which go to the instance after the one that served the last
// authenticate request, that is, never to the instance that sent the push.
type ringProxy struct {
	URL string

	mu       sync.Mutex
	next     int
	lastAuth int
	served   []string // "<instance> <path>" of every request, in order
	targets  []*url.URL
}

// newRingProxy starts the proxy with no instances yet, so that its URL can be given to
// them as their public URL; add them with Route.
func newRingProxy(t *testing.T) *ringProxy {
	t.Helper()
	p := &ringProxy{lastAuth: -1}
	rp := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		p.mu.Lock()
		n := len(p.targets)
		var i int
		if strings.Contains(r.In.URL.Path, "/push/") && p.lastAuth >= 0 {
			i = (p.lastAuth + 1) % n
		} else {
			i = p.next % n
			p.next++
			if strings.HasSuffix(r.In.URL.Path, "/authenticate") {
				p.lastAuth = i
			}
		}
		p.served = append(p.served, fmt.Sprintf("%d %s", i, r.In.URL.Path))
		target := p.targets[i]
		p.mu.Unlock()
		r.SetURL(target)
		r.Out.Host = r.In.Host
	}}
	srv := &http.Server{Handler: rp, ReadHeaderTimeout: 5 * time.Second}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	p.URL = "http://" + ln.Addr().String()
	return p
}

// Route sends the proxy's requests to the instances of in.
func (p *ringProxy) Route(t *testing.T, in *instances) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range in.srv {
		u, err := url.Parse(s.URL)
		if err != nil {
			t.Fatal(err)
		}
		p.targets = append(p.targets, u)
	}
}

// Served returns which instance served which path, in order.
func (p *ringProxy) Served() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.served...)
}

// countKeys counts the keys matching pattern on every master of the Redis at addrs
// (one server, or the masters of a Cluster).
func countKeys(t testing.TB, addrs []string, pattern string) int {
	t.Helper()
	n := 0
	for _, a := range addrs {
		c := redis.NewClient(&redis.Options{Addr: a, MaxRetries: -1})
		var cursor uint64
		for {
			keys, next, err := c.Scan(context.Background(), cursor, pattern, 1000).Result()
			if err != nil {
				c.Close()
				t.Fatalf("SCAN %s on %s: %v", pattern, a, err)
			}
			n += len(keys)
			if cursor = next; cursor == 0 {
				break
			}
		}
		c.Close()
	}
	return n
}
