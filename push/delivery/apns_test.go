package delivery

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	jwtv5 "github.com/golang-jwt/jwt/v5"
)

const (
	testKeyID  = "KEYID12345"
	testTeamID = "TEAMID6789"
	testTopic  = "com.example.arbor.authenticator"
	testAPNsTk = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"
)

// apnsPeer is an HTTP/2 TLS server playing APNs.
type apnsPeer struct {
	t   *testing.T
	srv *httptest.Server
	pub *ecdsa.PublicKey

	mu      sync.Mutex
	tokens  map[string]int // provider tokens seen, with use counts
	order   []string       // provider tokens in the order first seen
	sends   int
	payload []map[string]any
	respond func(w http.ResponseWriter, r *http.Request, n int, bearer string) bool
	clock   func() time.Time
}

// setClock makes the peer judge iat and apns-expiration by clock.
func (p *apnsPeer) setClock(clock func() time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clock = clock
}

func (p *apnsPeer) now() time.Time {
	p.mu.Lock()
	clock := p.clock
	p.mu.Unlock()
	if clock == nil {
		return time.Now()
	}
	return clock()
}

func newAPNsPeer(t *testing.T, pub *ecdsa.PublicKey) *apnsPeer {
	p := &apnsPeer{t: t, pub: pub, tokens: map[string]int{}}
	p.srv = httptest.NewUnstartedServer(http.HandlerFunc(p.handle))
	p.srv.EnableHTTP2 = true
	p.srv.StartTLS()
	t.Cleanup(p.srv.Close)
	return p
}

func (p *apnsPeer) handle(w http.ResponseWriter, r *http.Request) {
	t := p.t
	if r.ProtoMajor != 2 {
		t.Errorf("request over %s, APNs needs HTTP/2", r.Proto)
	}
	if r.Method != http.MethodPost {
		t.Errorf("method %s", r.Method)
	}
	if tok, ok := strings.CutPrefix(r.URL.Path, "/3/device/"); !ok || tok != testAPNsTk {
		t.Errorf("path %q, want /3/device/%s", r.URL.Path, testAPNsTk)
	}
	bearer, ok := strings.CutPrefix(r.Header.Get("authorization"), "bearer ")
	if !ok {
		t.Errorf("authorization %q is not a bearer token", r.Header.Get("authorization"))
	}
	var claims jwtv5.RegisteredClaims
	tok, err := jwtv5.ParseWithClaims(bearer, &claims, func(*jwtv5.Token) (any, error) { return p.pub, nil },
		jwtv5.WithValidMethods([]string{"ES256"}), jwtv5.WithIssuer(testTeamID), jwtv5.WithIssuedAt(), jwtv5.WithTimeFunc(p.now))
	if err != nil {
		t.Errorf("provider token does not verify: %v", err)
	} else {
		if kid := tok.Header["kid"]; kid != testKeyID {
			t.Errorf("kid = %v", kid)
		}
		if claims.IssuedAt == nil {
			t.Error("provider token has no iat")
		}
	}
	for h, want := range map[string]string{
		"apns-topic":     testTopic,
		"apns-push-type": "alert",
		"apns-priority":  "10",
	} {
		if got := r.Header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	if exp, err := strconv.ParseInt(r.Header.Get("apns-expiration"), 10, 64); err != nil || exp <= p.now().Unix() {
		t.Errorf("apns-expiration = %q", r.Header.Get("apns-expiration"))
	}
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		t.Errorf("body: %v", err)
	}
	p.mu.Lock()
	p.sends++
	n := p.sends
	if p.tokens[bearer] == 0 {
		p.order = append(p.order, bearer)
	}
	p.tokens[bearer]++
	p.payload = append(p.payload, body)
	p.mu.Unlock()
	w.Header().Set("apns-id", fmt.Sprintf("00000000-0000-0000-0000-%012d", n))
	if p.respond != nil && p.respond(w, r, n, bearer) {
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (p *apnsPeer) counts() (sends, distinctTokens int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sends, len(p.tokens)
}

func apnsReject(w http.ResponseWriter, status int, reason string, ts int64) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if ts > 0 {
		fmt.Fprintf(w, `{"reason":%q,"timestamp":%d}`, reason, ts)
		return
	}
	fmt.Fprintf(w, `{"reason":%q}`, reason)
}

// writeP8 generates a P-256 key and writes it as an Apple .p8 file.
func writeP8(t *testing.T) (string, *ecdsa.PrivateKey) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "AuthKey_"+testKeyID+".p8")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, k
}

// newTestAPNS returns a provider talking to a fresh peer.
func newTestAPNS(t *testing.T) (*APNS, *apnsPeer) {
	t.Helper()
	keyFile, key := writeP8(t)
	peer := newAPNsPeer(t, &key.PublicKey)
	roots := x509.NewCertPool()
	roots.AddCert(peer.srv.Certificate())
	a, err := NewAPNS(APNSConfig{
		Name:     "apns-test",
		KeyFile:  keyFile,
		KeyID:    testKeyID,
		TeamID:   testTeamID,
		Topic:    testTopic,
		Endpoint: peer.srv.URL,
		RootCAs:  roots,
	})
	if err != nil {
		t.Fatal(err)
	}
	return a, peer
}

func TestAPNS(t *testing.T) {
	for _, tc := range []struct {
		name       string
		respond    func(w http.ResponseWriter, r *http.Request, n int, bearer string) bool
		messages   int
		wantErr    []string
		wantSends  int
		wantTokens int
	}{
		{name: "success", messages: 1, wantSends: 1, wantTokens: 1},
		{name: "token cached across sends", messages: 3, wantSends: 3, wantTokens: 1},
		{
			name: "bad device token",
			respond: func(w http.ResponseWriter, _ *http.Request, _ int, _ string) bool {
				apnsReject(w, http.StatusBadRequest, "BadDeviceToken", 0)
				return true
			},
			messages: 1, wantErr: []string{"HTTP 400 BadDeviceToken", "apns-id 00000000-0000-0000-0000-000000000001"},
			wantSends: 1, wantTokens: 1,
		},
		{
			name: "unregistered",
			respond: func(w http.ResponseWriter, _ *http.Request, _ int, _ string) bool {
				apnsReject(w, http.StatusGone, "Unregistered", time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).UnixMilli())
				return true
			},
			messages: 1, wantErr: []string{"HTTP 410 Unregistered", "inactive since 2026-03-01T00:00:00Z"},
			wantSends: 1, wantTokens: 1,
		},
		{
			name: "expired provider token is renewed once",
			respond: func(w http.ResponseWriter, _ *http.Request, n int, _ string) bool {
				if n == 1 {
					apnsReject(w, http.StatusForbidden, "ExpiredProviderToken", 0)
					return true
				}
				return false
			},
			messages: 1, wantSends: 2, wantTokens: 2,
		},
		{
			name: "invalid provider token is not retried",
			respond: func(w http.ResponseWriter, _ *http.Request, _ int, _ string) bool {
				apnsReject(w, http.StatusForbidden, "InvalidProviderToken", 0)
				return true
			},
			messages: 1, wantErr: []string{"HTTP 403 InvalidProviderToken"},
			wantSends: 1, wantTokens: 1,
		},
		{
			name: "503 retried once then given up",
			respond: func(w http.ResponseWriter, _ *http.Request, _ int, _ string) bool {
				w.Header().Set("Retry-After", "0")
				apnsReject(w, http.StatusServiceUnavailable, "ServiceUnavailable", 0)
				return true
			},
			messages: 1, wantErr: []string{"HTTP 503 ServiceUnavailable", "after one retry"},
			wantSends: 2, wantTokens: 1,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, peer := newTestAPNS(t)
			peer.respond = tc.respond
			m := testMessage("apns", testAPNsTk)
			m.Device.Platform = "ios"
			var err error
			for range tc.messages {
				if err = a.Send(context.Background(), m); err != nil {
					break
				}
			}
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("Send: %v", err)
				}
			} else {
				if !errors.Is(err, ErrTransmission) {
					t.Fatalf("Send error %v does not wrap ErrTransmission", err)
				}
				t.Logf("error: %v", err)
				for _, s := range tc.wantErr {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q lacks %q", err, s)
					}
				}
			}
			sends, tokens := peer.counts()
			if sends != tc.wantSends || tokens != tc.wantTokens {
				t.Errorf("sends %d with %d distinct provider tokens; want %d with %d", sends, tokens, tc.wantSends, tc.wantTokens)
			}
			peer.mu.Lock()
			defer peer.mu.Unlock()
			for _, body := range peer.payload {
				checkAPNSBody(t, body, m)
			}
		})
	}
}

// checkAPNSBody checks the payload: alert text, and messageId and data both inside aps
// (read by AM's iOS SDK) and at the top level.
func checkAPNSBody(t *testing.T, body map[string]any, m Message) {
	t.Helper()
	aps, _ := body["aps"].(map[string]any)
	alert, _ := aps["alert"].(map[string]any)
	if alert["title"] != m.Title || alert["body"] != m.Body {
		t.Errorf("aps.alert = %v", aps["alert"])
	}
	if aps["sound"] != "default" || aps["content-available"] != float64(1) {
		t.Errorf("aps = %v", aps)
	}
	if aps["messageId"] != m.MessageID || aps["data"] != m.JWT {
		t.Errorf("aps.messageId/aps.data = %v / %v", aps["messageId"], aps["data"])
	}
	if body["messageId"] != m.MessageID || body["data"] != m.JWT {
		t.Errorf("messageId/data = %v / %v", body["messageId"], body["data"])
	}
}

func TestAPNSTokenRenewedAfterFiftyMinutes(t *testing.T) {
	a, peer := newTestAPNS(t)
	var mu sync.Mutex
	now := time.Now()
	a.now = func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}
	peer.setClock(a.now)
	advance := func(d time.Duration) {
		mu.Lock()
		now = now.Add(d)
		mu.Unlock()
	}
	m := testMessage("apns", testAPNsTk)
	for _, step := range []time.Duration{0, 20 * time.Minute, 29 * time.Minute, 2 * time.Minute} {
		advance(step)
		if err := a.Send(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	// Sent at 0, 20m and 49m with the first token; at 51m with a second.
	peer.mu.Lock()
	defer peer.mu.Unlock()
	if len(peer.order) != 2 || peer.tokens[peer.order[0]] != 3 || peer.tokens[peer.order[1]] != 1 {
		t.Errorf("token use = %v over %d tokens, want 3 then 1", peer.tokens, len(peer.order))
	}
}

func TestAPNSRefusesHTTP1(t *testing.T) {
	keyFile, _ := writeP8(t)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("request reached an HTTP/1.1-only server over %s", r.Proto)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is expected
	srv.StartTLS()
	defer srv.Close()
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	a, err := NewAPNS(APNSConfig{KeyFile: keyFile, KeyID: testKeyID, TeamID: testTeamID, Topic: testTopic, Endpoint: srv.URL, RootCAs: roots})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Send(context.Background(), testMessage("apns", testAPNsTk)); !errors.Is(err, ErrTransmission) {
		t.Fatalf("Send to an HTTP/1.1 server: %v", err)
	}
}

func TestAPNSPayloadTooLarge(t *testing.T) {
	a, peer := newTestAPNS(t)
	m := testMessage("apns", testAPNsTk)
	m.JWT = strings.Repeat("x", 3000)
	err := a.Send(context.Background(), m)
	if !errors.Is(err, ErrTransmission) || !strings.Contains(err.Error(), "APNs accepts 4096") {
		t.Fatalf("Send of an oversized payload: %v", err)
	}
	if sends, _ := peer.counts(); sends != 0 {
		t.Error("an oversized payload was sent")
	}
}

func TestAPNSHangReturnsByDeadline(t *testing.T) {
	a, peer := newTestAPNS(t)
	release := make(chan struct{})
	defer close(release)
	peer.respond = func(_ http.ResponseWriter, r *http.Request, _ int, _ string) bool {
		select {
		case <-r.Context().Done():
		case <-release:
		}
		return true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := a.Send(ctx, testMessage("apns", testAPNsTk))
	if !errors.Is(err, ErrTransmission) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Send to a hung server: %v", err)
	}
	if strings.Contains(err.Error(), testAPNsTk) {
		t.Errorf("error %q shows the device token", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Send took %s", took)
	}
}

func TestNewAPNSRejects(t *testing.T) {
	good, _ := writeP8(t)
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	der384, _ := x509.MarshalPKCS8PrivateKey(p384)
	rsaDER, _ := x509.MarshalPKCS8PrivateKey(testRSAKey())
	rsaFile := write("r.p8", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: rsaDER}))
	p384File := write("e.p8", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der384}))
	ok := APNSConfig{KeyFile: good, KeyID: testKeyID, TeamID: testTeamID, Topic: testTopic}
	with := func(f func(*APNSConfig)) APNSConfig { c := ok; f(&c); return c }
	for _, tc := range []struct {
		name string
		cfg  APNSConfig
		want string
	}{
		{"no key", with(func(c *APNSConfig) { c.KeyFile = "" }), "key_file is required"},
		{"missing key file", with(func(c *APNSConfig) { c.KeyFile = filepath.Join(dir, "nope.p8") }), "no such file"},
		{"garbage key", with(func(c *APNSConfig) { c.KeyFile = write("g.p8", []byte("garbage")) }), "no PEM block"},
		{"rsa key", with(func(c *APNSConfig) { c.KeyFile = rsaFile }), "want an EC P-256 key"},
		{"p384 key", with(func(c *APNSConfig) { c.KeyFile = p384File }), "want P-256"},
		{"missing ids", with(func(c *APNSConfig) { c.KeyID, c.Topic = "", "" }), "missing key_id, topic"},
		{"every problem", with(func(c *APNSConfig) { c.KeyFile, c.TeamID, c.Endpoint = rsaFile, "", "ftp://x" }), "want an EC P-256 key; missing team_id; endpoint"},
		{"http endpoint", with(func(c *APNSConfig) { c.Endpoint = "http://127.0.0.1:1" }), "must be https"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewAPNS(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("NewAPNS error = %v, want one containing %q", err, tc.want)
			}
		})
	}
	for endpoint, want := range map[string]string{"": APNSProduction, "production": APNSProduction, "sandbox": APNSSandbox} {
		a, err := NewAPNS(with(func(c *APNSConfig) { c.Endpoint = endpoint }))
		if err != nil || a.base != want {
			t.Errorf("endpoint %q: base %v, err %v; want %s", endpoint, a, err, want)
		}
	}
}
