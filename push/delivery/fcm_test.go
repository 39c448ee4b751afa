package delivery

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	jwtv5 "github.com/golang-jwt/jwt/v5"
)

const (
	testProject = "arbor-test"
	testSAEmail = "push@arbor-test.iam.gserviceaccount.com"
	testSAKeyID = "sa-key-1"
)

// testRSAKey is the service account's key pair, generated once per test binary.
var testRSAKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// fcmPeer plays both Google's OAuth token endpoint and the FCM v1 send endpoint.
type fcmPeer struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex
	issued   int             // access tokens issued
	valid    map[string]bool // access tokens the send endpoint accepts
	sends    int             // send requests received
	bodies   []fcmRequest
	onSend   func(w http.ResponseWriter, r *http.Request, n int) bool // true when it answered
	onToken  func(w http.ResponseWriter, r *http.Request) bool
	released chan struct{}
}

func newFCMPeer(t *testing.T) *fcmPeer {
	p := &fcmPeer{t: t, valid: map[string]bool{}, released: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", p.token)
	mux.HandleFunc("POST /v1/projects/{project}/messages:send", p.send)
	p.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		close(p.released)
		p.srv.Close()
	})
	return p
}

// token checks the RS256 JWT bearer assertion and issues an access token.
func (p *fcmPeer) token(w http.ResponseWriter, r *http.Request) {
	if p.onToken != nil && p.onToken(w, r) {
		return
	}
	if err := r.ParseForm(); err != nil {
		p.t.Errorf("token: form: %v", err)
	}
	if g := r.PostForm.Get("grant_type"); g != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		p.t.Errorf("token: grant_type = %q", g)
	}
	var claims struct {
		Scope string `json:"scope"`
		jwtv5.RegisteredClaims
	}
	tok, err := jwtv5.ParseWithClaims(r.PostForm.Get("assertion"), &claims, func(tok *jwtv5.Token) (any, error) {
		return &testRSAKey().PublicKey, nil
	}, jwtv5.WithValidMethods([]string{"RS256"}), jwtv5.WithIssuer(testSAEmail), jwtv5.WithAudience(p.srv.URL+"/token"), jwtv5.WithExpirationRequired())
	if err != nil {
		p.t.Errorf("token: assertion does not verify: %v", err)
		http.Error(w, `{"error":"invalid_grant"}`, http.StatusBadRequest)
		return
	}
	if kid := tok.Header["kid"]; kid != testSAKeyID {
		p.t.Errorf("token: kid = %v, want %s", kid, testSAKeyID)
	}
	if claims.Scope != FCMScope {
		p.t.Errorf("token: scope = %q, want %q", claims.Scope, FCMScope)
	}
	p.mu.Lock()
	p.issued++
	access := fmt.Sprintf("access-%d", p.issued)
	p.valid[access] = true
	p.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"access_token":%q,"expires_in":3600,"token_type":"Bearer"}`, access)
}

// send checks the bearer token, the project and the message shape.
func (p *fcmPeer) send(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.sends++
	n := p.sends
	bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	authorized := ok && p.valid[bearer]
	p.mu.Unlock()
	if project := r.PathValue("project"); project != testProject {
		p.t.Errorf("send: project = %q", project)
	}
	if !authorized {
		p.t.Errorf("send: bearer %q was never issued", bearer)
	}
	var body fcmRequest
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		p.t.Errorf("send: body: %v", err)
	}
	p.mu.Lock()
	p.bodies = append(p.bodies, body)
	p.mu.Unlock()
	if p.onSend != nil && p.onSend(w, r, n) {
		return
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"name":"projects/%s/messages/%d"}`, testProject, n)
}

// revoke makes the send endpoint reject every token issued so far.
func (p *fcmPeer) revoke() {
	p.mu.Lock()
	defer p.mu.Unlock()
	clear(p.valid)
}

func (p *fcmPeer) counts() (issued, sends int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.issued, p.sends
}

// writeServiceAccount writes a service account key whose token_uri is the peer's.
func writeServiceAccount(t *testing.T, tokenURI string) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(testRSAKey())
	if err != nil {
		t.Fatal(err)
	}
	sa := map[string]string{
		"type":           "service_account",
		"project_id":     testProject,
		"private_key_id": testSAKeyID,
		"private_key":    string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email":   testSAEmail,
		"client_id":      "1234567890",
		"token_uri":      tokenURI,
	}
	b, _ := json.Marshal(sa)
	path := filepath.Join(t.TempDir(), "service-account.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func writeFCMError(w http.ResponseWriter, status int, grpc, fcmCode, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	details := ""
	if fcmCode != "" {
		details = fmt.Sprintf(`,"details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":%q}]`, fcmCode)
	}
	fmt.Fprintf(w, `{"error":{"code":%d,"message":%q,"status":%q%s}}`, status, msg, grpc, details)
}

func TestFCM(t *testing.T) {
	for _, tc := range []struct {
		name       string
		setup      func(p *fcmPeer)
		timeout    time.Duration // the caller's deadline
		sendsTwice bool          // send two messages with one provider
		platform   string
		wantErr    []string // substrings; nil means success
		wantIssued int
		wantSends  int
		maxTook    time.Duration
	}{
		{name: "success", wantIssued: 1, wantSends: 1},
		{name: "token reused across sends", sendsTwice: true, wantIssued: 1, wantSends: 2},
		{name: "ios gets an apns block", platform: "ios", wantIssued: 1, wantSends: 1},
		{
			name: "unregistered",
			setup: func(p *fcmPeer) {
				p.onSend = func(w http.ResponseWriter, _ *http.Request, _ int) bool {
					writeFCMError(w, http.StatusNotFound, "NOT_FOUND", "UNREGISTERED", "Requested entity was not found.")
					return true
				}
			},
			wantErr:    []string{"HTTP 404 UNREGISTERED", "Requested entity was not found."},
			wantIssued: 1, wantSends: 1,
		},
		{
			name: "invalid argument",
			setup: func(p *fcmPeer) {
				p.onSend = func(w http.ResponseWriter, _ *http.Request, _ int) bool {
					writeFCMError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "The registration token is not a valid FCM registration token")
					return true
				}
			},
			wantErr:    []string{"HTTP 400 INVALID_ARGUMENT"},
			wantIssued: 1, wantSends: 1,
		},
		{
			name: "401 once refreshes the token",
			setup: func(p *fcmPeer) {
				p.onSend = func(w http.ResponseWriter, _ *http.Request, n int) bool {
					if n == 1 {
						p.revoke()
						writeFCMError(w, http.StatusUnauthorized, "UNAUTHENTICATED", "THIRD_PARTY_AUTH_ERROR", "Request had invalid authentication credentials.")
						return true
					}
					return false
				}
			},
			wantIssued: 2, wantSends: 2,
		},
		{
			name: "401 twice gives up",
			setup: func(p *fcmPeer) {
				p.onSend = func(w http.ResponseWriter, _ *http.Request, _ int) bool {
					writeFCMError(w, http.StatusUnauthorized, "UNAUTHENTICATED", "", "Request had invalid authentication credentials.")
					return true
				}
			},
			wantErr:    []string{"HTTP 401 UNAUTHENTICATED", "after one retry"},
			wantIssued: 2, wantSends: 2,
		},
		{
			name: "503 with a short Retry-After is retried once",
			setup: func(p *fcmPeer) {
				p.onSend = func(w http.ResponseWriter, _ *http.Request, n int) bool {
					if n == 1 {
						w.Header().Set("Retry-After", "0")
						writeFCMError(w, http.StatusServiceUnavailable, "UNAVAILABLE", "UNAVAILABLE", "The service is currently unavailable.")
						return true
					}
					return false
				}
			},
			wantIssued: 1, wantSends: 2,
		},
		{
			name: "429 twice gives up after one retry",
			setup: func(p *fcmPeer) {
				p.onSend = func(w http.ResponseWriter, _ *http.Request, _ int) bool {
					w.Header().Set("Retry-After", "0")
					writeFCMError(w, http.StatusTooManyRequests, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED", "Quota exceeded.")
					return true
				}
			},
			wantErr:    []string{"HTTP 429 QUOTA_EXCEEDED", "after one retry"},
			wantIssued: 1, wantSends: 2,
		},
		{
			name:    "Retry-After beyond the deadline is not waited for",
			timeout: 2 * time.Second,
			setup: func(p *fcmPeer) {
				p.onSend = func(w http.ResponseWriter, _ *http.Request, _ int) bool {
					w.Header().Set("Retry-After", "30")
					writeFCMError(w, http.StatusServiceUnavailable, "UNAVAILABLE", "", "busy")
					return true
				}
			},
			wantErr:    []string{"HTTP 503 UNAVAILABLE", "does not fit the deadline"},
			wantIssued: 1, wantSends: 1, maxTook: time.Second,
		},
		{
			name:    "send endpoint hangs",
			timeout: 300 * time.Millisecond,
			setup: func(p *fcmPeer) {
				p.onSend = func(_ http.ResponseWriter, r *http.Request, _ int) bool {
					select {
					case <-r.Context().Done():
					case <-p.released:
					}
					return true
				}
			},
			wantErr:    []string{"context deadline exceeded"},
			wantIssued: 1, wantSends: 1, maxTook: 2 * time.Second,
		},
		{
			name:    "token endpoint hangs",
			timeout: 300 * time.Millisecond,
			setup: func(p *fcmPeer) {
				p.onToken = func(_ http.ResponseWriter, r *http.Request) bool {
					select {
					case <-r.Context().Done():
					case <-p.released:
					}
					return true
				}
			},
			wantErr:    []string{"get access token", "context deadline exceeded"},
			wantIssued: 0, wantSends: 0, maxTook: 2 * time.Second,
		},
		{
			name: "token endpoint refuses",
			setup: func(p *fcmPeer) {
				p.onToken = func(w http.ResponseWriter, _ *http.Request) bool {
					http.Error(w, `{"error":"invalid_grant","error_description":"Invalid JWT Signature."}`, http.StatusBadRequest)
					return true
				}
			},
			wantErr:    []string{"get access token", "invalid_grant"},
			wantIssued: 0, wantSends: 0,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			peer := newFCMPeer(t)
			if tc.setup != nil {
				tc.setup(peer)
			}
			f, err := NewFCM(FCMConfig{
				Name:            "fcm-test",
				CredentialsFile: writeServiceAccount(t, peer.srv.URL+"/token"),
				Endpoint:        peer.srv.URL,
			})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if tc.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.timeout)
				defer cancel()
			}
			m := testMessage("gcm", "fcm-registration-token")
			if tc.platform != "" {
				m.Device.Platform = tc.platform
			}
			start := time.Now()
			err = f.Send(ctx, m)
			took := time.Since(start)
			if err == nil && tc.sendsTwice {
				err = f.Send(ctx, m)
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
				if !strings.Contains(err.Error(), "fcm-test") {
					t.Errorf("error %q does not name the provider", err)
				}
			}
			if tc.maxTook > 0 && took > tc.maxTook {
				t.Errorf("Send took %s, want under %s", took, tc.maxTook)
			}
			issued, sends := peer.counts()
			if issued != tc.wantIssued || sends != tc.wantSends {
				t.Errorf("tokens issued %d, sends %d; want %d, %d", issued, sends, tc.wantIssued, tc.wantSends)
			}
			peer.mu.Lock()
			defer peer.mu.Unlock()
			for _, b := range peer.bodies {
				checkFCMBody(t, b, m)
			}
		})
	}
}

// checkFCMBody checks the message shape AM's SDKs read.
func checkFCMBody(t *testing.T, b fcmRequest, m Message) {
	t.Helper()
	got := b.Message
	if got.Token != m.Device.Token {
		t.Errorf("token = %q", got.Token)
	}
	if got.Data["messageId"] != m.MessageID || got.Data["message"] != m.JWT || len(got.Data) != 2 {
		t.Errorf("data = %v", got.Data)
	}
	if got.Android.Priority != "high" || got.Android.TTL != "120s" {
		t.Errorf("android = %+v", got.Android)
	}
	if m.Device.Platform == "ios" {
		if got.APNS == nil || got.APNS.Payload.APS.Data != m.JWT || got.APNS.Payload.APS.MessageID != m.MessageID || got.APNS.Headers["apns-push-type"] != "alert" {
			t.Errorf("apns block = %+v", got.APNS)
		}
	} else if got.APNS != nil {
		t.Errorf("android message has an apns block")
	}
}

func TestFCMRawBodyHasNoNotification(t *testing.T) {
	b, err := fcmBody(testMessage("fcm", "tok"))
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	if _, ok := raw["message"]["notification"]; ok {
		t.Errorf("FCM body has a notification block; AM sends data messages: %s", b)
	}
}

func TestFCMMissingToken(t *testing.T) {
	peer := newFCMPeer(t)
	f, err := NewFCM(FCMConfig{CredentialsFile: writeServiceAccount(t, peer.srv.URL+"/token"), Endpoint: peer.srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Send(context.Background(), testMessage("fcm", "")); !errors.Is(err, ErrTransmission) {
		t.Fatalf("Send with no token: %v", err)
	}
	if issued, sends := peer.counts(); issued+sends != 0 {
		t.Errorf("a message with no token reached the network")
	}
}

func TestFCMConcurrentSendsShareOneToken(t *testing.T) {
	peer := newFCMPeer(t)
	f, err := NewFCM(FCMConfig{CredentialsFile: writeServiceAccount(t, peer.srv.URL+"/token"), Endpoint: peer.srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if err := f.Send(context.Background(), testMessage("fcm", "tok")); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if issued, sends := peer.counts(); issued != 1 || sends != 8 {
		t.Errorf("issued %d tokens for %d sends, want 1 for 8", issued, sends)
	}
}

func TestNewFCMRejects(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := writeServiceAccount(t, "http://127.0.0.1:1/token")
	for _, tc := range []struct {
		name string
		cfg  FCMConfig
		want string
	}{
		{"no credentials", FCMConfig{}, "credentials_file is required"},
		{"missing file", FCMConfig{CredentialsFile: filepath.Join(dir, "nope.json")}, "no such file"},
		{"not json", FCMConfig{CredentialsFile: write("bad.json", "{")}, "not a service account key"},
		{"wrong type", FCMConfig{CredentialsFile: write("user.json", `{"type":"authorized_user"}`)}, `"authorized_user"`},
		{"no key", FCMConfig{CredentialsFile: write("nokey.json", `{"type":"service_account","client_email":"a@b"}`)}, "lacks private_key"},
		{"bad key", FCMConfig{CredentialsFile: write("badkey.json", `{"type":"service_account","client_email":"a@b","private_key":"xx"}`)}, "no PEM block"},
		{"bad endpoint", FCMConfig{CredentialsFile: good, Endpoint: "ftp://x"}, "scheme"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewFCM(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "delivery: fcm: ") {
				t.Fatalf("NewFCM error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}
