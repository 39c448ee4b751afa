package delivery

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// pki is a test CA that issues the client certificate Arbor presents.
type pki struct {
	ca     *x509.Certificate
	caKey  *ecdsa.PrivateKey
	caPool *x509.CertPool
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "challenge service client CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return &pki{ca: ca, caKey: key, caPool: pool}
}

// clientPEM writes a client certificate for cn and its key to one PEM file, as
// LinOTP's access_certificate holds them, and returns its path.
func (p *pki) clientPEM(t *testing.T, cn string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	out := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	out = append(out, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})...)
	path := filepath.Join(t.TempDir(), "cs_client.pem")
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// challengeService is a local challenge service that requires a client certificate
// from the test CA.
type challengeService struct {
	srv    *httptest.Server
	caFile string // its server certificate, for server_certificate
	mu     sync.Mutex
	got    []WebhookPayload
	peers  []string
}

func startChallengeService(t *testing.T, p *pki) *challengeService {
	t.Helper()
	cs := &challengeService{}
	cs.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body WebhookPayload
		if r.URL.Path != "/v1/challenge" || json.NewDecoder(r.Body).Decode(&body) != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		cs.mu.Lock()
		cs.got = append(cs.got, body)
		cs.peers = append(cs.peers, r.TLS.PeerCertificates[0].Subject.CommonName)
		cs.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	cs.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are the point of some tests
	cs.srv.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: p.caPool, MinVersion: tls.VersionTLS12}
	cs.srv.StartTLS()
	t.Cleanup(cs.srv.Close)
	cs.caFile = filepath.Join(t.TempDir(), "cs-ca-cert.pem")
	if err := os.WriteFile(cs.caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cs.srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return cs
}

func (cs *challengeService) url() string { return cs.srv.URL + "/v1/challenge" }

func (cs *challengeService) received() ([]WebhookPayload, []string) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return append([]WebhookPayload(nil), cs.got...), append([]string(nil), cs.peers...)
}

// deadURL is an https URL on a port nothing listens on.
func deadURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "https://" + addr + "/v1/challenge"
}

func csMessage(clientIP string) Message {
	return Message{MessageID: "AUTHENTICATE:cs-1", JWT: "header.payload.sig", Title: "Login request", Body: "Login to dc1.example.net",
		Device: Device{ID: "dev-1", Platform: "android", Communication: "fcm", Token: "fcm-token"},
		Realm:  "/", User: "tux", ClientIP: clientIP, TTL: time.Minute}
}

func TestChallengeServiceMutualTLSWithFailover(t *testing.T) {
	p := newPKI(t)
	cs := startChallengeService(t, p)
	client := p.clientPEM(t, "arbor.example.net")
	r, err := Build(Config{
		Providers: []ProviderConfig{{Name: "challenge", Type: TypeChallengeService, PushURLs: []string{deadURL(t), cs.url()},
			AccessCertificate: client, ServerCertificate: cs.caFile, Timeout: Duration(90 * time.Second)}},
		Rules: []Rule{{Name: "branches", Networks: []string{"10.20.0.0/16"}, Realms: []string{"/"}, Provider: "challenge"}},
	}, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	m := csMessage("10.20.1.1")
	if prov, rule, err := r.Route(m); err != nil || prov != "challenge" || rule != "branches" {
		t.Fatalf("route %q %q %v", prov, rule, err)
	}
	// The provider's timeout is the push's validity; a message the rule does not pick
	// gets none.
	if v := r.Validity(m); v != 90*time.Second {
		t.Errorf("validity %s, want 90s", v)
	}
	if v := r.Validity(csMessage("192.0.2.1")); v != 0 {
		t.Errorf("validity outside the rule %s, want 0", v)
	}
	if err := r.Deliver(context.Background(), m); err != nil {
		t.Fatalf("deliver with a dead first URL: %v", err)
	}
	got, peers := cs.received()
	if len(got) != 1 || got[0].MessageID != m.MessageID || got[0].JWT != m.JWT || got[0].Device.Token != "fcm-token" || got[0].Body != m.Body {
		t.Fatalf("service got %+v", got)
	}
	if peers[0] != "arbor.example.net" {
		t.Errorf("service saw client %q", peers[0])
	}
}

func TestChallengeServiceDefaultValidity(t *testing.T) {
	c, err := NewChallengeService(ChallengeServiceConfig{URLs: []string{"https://cs.example.com/v1/challenge"}})
	if err != nil {
		t.Fatal(err)
	}
	if c.Validity() != 120*time.Second || c.Name() != TypeChallengeService || !c.Supports("gcm") || c.Supports("poll") {
		t.Errorf("validity %s, name %q", c.Validity(), c.Name())
	}
}

func TestChallengeServiceRefusals(t *testing.T) {
	p := newPKI(t)
	cs := startChallengeService(t, p)
	stranger := newPKI(t).clientPEM(t, "stranger")
	tests := []struct {
		name string
		pc   ProviderConfig
		want string
	}{
		{"no client certificate", ProviderConfig{PushURLs: []string{cs.url()}, ServerCertificate: cs.caFile}, "certificate"},
		{"certificate of another CA", ProviderConfig{PushURLs: []string{cs.url()}, ServerCertificate: cs.caFile, AccessCertificate: stranger}, "certificate"},
		{"server not trusted", ProviderConfig{PushURLs: []string{cs.url()}, AccessCertificate: p.clientPEM(t, "arbor")}, "certificate"},
		{"every URL dead", ProviderConfig{PushURLs: []string{deadURL(t), deadURL(t)}, AccessCertificate: p.clientPEM(t, "arbor")}, "all 2 URLs failed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.pc.Name, tc.pc.Type = "challenge", TypeChallengeService
			r, err := Build(Config{Providers: []ProviderConfig{tc.pc}, Defaults: map[string]string{CommFCM: "challenge"}}, quietLogger())
			if err != nil {
				t.Fatal(err)
			}
			err = r.Deliver(context.Background(), csMessage("10.0.0.1"))
			if !errors.Is(err, ErrTransmission) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("deliver: %v, want ErrTransmission mentioning %q", err, tc.want)
			}
		})
	}
	if got, _ := cs.received(); len(got) != 0 {
		t.Errorf("the service accepted %d messages", len(got))
	}
}

func TestChallengeServiceConfigErrors(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.pem")
	os.WriteFile(bad, []byte("not pem"), 0o600)
	tests := []struct {
		name string
		pc   ProviderConfig
		want []string
	}{
		{"no urls", ProviderConfig{Type: TypeChallengeService}, []string{"push_urls is empty"}},
		{"plain http", ProviderConfig{Type: TypeChallengeService, PushURLs: []string{"http://cs.example.com/v1/challenge"}}, []string{"want an absolute https URL"}},
		{"unreadable files", ProviderConfig{Type: TypeChallengeService, PushURLs: []string{"https://cs.example.com/"}, AccessCertificate: bad, ServerCertificate: bad},
			[]string{"access_certificate", "server_certificate"}},
		{"fields of another type", ProviderConfig{Type: TypeWebhook, URLs: []string{"https://x.example/"}, Secret: string(testWebhookSecret), PushURLs: []string{"https://x.example/"}},
			[]string{"push_urls not valid for type webhook"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Build(Config{Providers: []ProviderConfig{tc.pc}}, quietLogger())
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("err %v, want a *ConfigError", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%v does not mention %q", err, w)
				}
			}
		})
	}
}
