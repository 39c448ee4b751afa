package delivery

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	jwtv5 "github.com/golang-jwt/jwt/v5"
)

// APNs base URLs.
const (
	// APNSProduction is the production APNs endpoint.
	APNSProduction = "https://api.push.apple.com"
	// APNSSandbox is the development APNs endpoint, for apps signed with a
	// development provisioning profile.
	APNSSandbox = "https://api.sandbox.push.apple.com"
)

// apnsTokenLifetime is how long a provider token is reused. Apple rejects tokens older
// than an hour and refreshes more often than every 20 minutes.
const apnsTokenLifetime = 50 * time.Minute

// apnsMaxPayload is the largest alert payload APNs accepts, in bytes.
const apnsMaxPayload = 4096

// APNSConfig configures an APNs provider using token-based authentication.
type APNSConfig struct {
	// Name is the provider's name; it defaults to "apns".
	Name string
	// KeyFile is the path of the .p8 signing key (PKCS#8 EC P-256 PEM) downloaded from
	// the Apple developer account. It is ignored when Key is set.
	KeyFile string
	// Key is the .p8 key's PEM content.
	Key []byte
	// KeyID is the key's 10-character identifier (the JWT header "kid").
	KeyID string
	// TeamID is the developer team identifier (the JWT claim "iss").
	TeamID string
	// Topic is the app's bundle id, sent as apns-topic.
	Topic string
	// Endpoint is "production" (the default), "sandbox", or an https base URL.
	Endpoint string
	// Timeout bounds one Send; it defaults to DefaultTimeout.
	Timeout time.Duration
	// RootCAs, when set, replaces the system roots for the endpoint.
	RootCAs *x509.CertPool
}

// APNS sends alert notifications to iOS devices over HTTP/2 with an ES256 provider
// token. The payload carries messageId and data both at the top level and inside aps,
// where AM's iOS SDK reads them.
type APNS struct {
	name    string
	base    string
	keyID   string
	teamID  string
	topic   string
	key     *ecdsa.PrivateKey
	timeout time.Duration
	client  *http.Client
	now     func() time.Time

	mu    sync.Mutex
	tok   string
	tokAt time.Time
}

// NewAPNS returns an APNs provider, reading and checking the signing key.
func NewAPNS(cfg APNSConfig) (*APNS, error) {
	p, err := newAPNS(cfg)
	if err != nil {
		return nil, fmt.Errorf("delivery: apns: %w", err)
	}
	return p, nil
}

// newAPNS is NewAPNS with errors that do not name the package, for Build.
func newAPNS(cfg APNSConfig) (*APNS, error) {
	var errs errorList
	key, err := loadP8(cfg)
	if err != nil {
		errs = append(errs, err)
	}
	var missing []string
	if cfg.KeyID == "" {
		missing = append(missing, "key_id")
	}
	if cfg.TeamID == "" {
		missing = append(missing, "team_id")
	}
	if cfg.Topic == "" {
		missing = append(missing, "topic")
	}
	if len(missing) > 0 {
		errs = append(errs, fmt.Errorf("missing %s", strings.Join(missing, ", ")))
	}
	endpoint := cfg.Endpoint
	switch endpoint {
	case "", "production":
		endpoint = APNSProduction
	case "sandbox", "development":
		endpoint = APNSSandbox
	}
	base, err := parseEndpoint(endpoint, true)
	if err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, errs.err()
	}
	name := cfg.Name
	if name == "" {
		name = "apns"
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	// APNs speaks HTTP/2 only; refuse to fall back to HTTP/1.1.
	tr := newTransport(cfg.RootCAs)
	var protos http.Protocols
	protos.SetHTTP2(true)
	tr.Protocols = &protos
	return &APNS{
		name:    name,
		base:    base.String(),
		keyID:   cfg.KeyID,
		teamID:  cfg.TeamID,
		topic:   cfg.Topic,
		key:     key,
		timeout: timeout,
		client:  noRedirects(tr),
		now:     time.Now,
	}, nil
}

// loadP8 reads and parses the configured signing key.
func loadP8(cfg APNSConfig) (*ecdsa.PrivateKey, error) {
	pemKey := cfg.Key
	if len(pemKey) == 0 {
		if cfg.KeyFile == "" {
			return nil, errors.New("key_file is required")
		}
		b, err := os.ReadFile(cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("read key: %w", err)
		}
		pemKey = b
	}
	key, err := parseP8(pemKey)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	return key, nil
}

// parseP8 parses an Apple .p8 key: a PEM PKCS#8 EC private key on P-256.
func parseP8(b []byte) (*ecdsa.PrivateKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, errors.New("no PEM block (want a .p8 PKCS#8 key)")
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("not a PKCS#8 key: %w", err)
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("key is %T, want an EC P-256 key", k)
	}
	if ek.Curve != elliptic.P256() {
		return nil, fmt.Errorf("key is on %s, want P-256", ek.Curve.Params().Name)
	}
	return ek, nil
}

// Name returns the provider's name.
func (a *APNS) Name() string { return a.name }

// Supports reports true for "apns".
func (a *APNS) Supports(communication string) bool {
	return NormalizeCommunication(communication) == CommAPNS
}

// Timeout returns the longest one Send may take.
func (a *APNS) Timeout() time.Duration { return a.timeout }

// apnsPayload is the notification body; AM's iOS SDK reads aps.messageId and aps.data.
type apnsPayload struct {
	APS       apsDict `json:"aps"`
	MessageID string  `json:"messageId"`
	Data      string  `json:"data"`
}

type apsDict struct {
	Alert            apsAlert `json:"alert"`
	Sound            string   `json:"sound"`
	ContentAvailable int      `json:"content-available"`
	MessageID        string   `json:"messageId"`
	Data             string   `json:"data"`
}

type apsAlert struct {
	Title string `json:"title,omitempty"`
	Body  string `json:"body,omitempty"`
}

// defaultAlertBody is shown when a message has neither title nor body.
const defaultAlertBody = "Sign-in request"

// newAPNSPayload builds the notification payload for m.
func newAPNSPayload(m Message) apnsPayload {
	alert := apsAlert{Title: m.Title, Body: m.Body}
	if alert.Title == "" && alert.Body == "" {
		alert.Body = defaultAlertBody
	}
	return apnsPayload{
		APS: apsDict{
			Alert:            alert,
			Sound:            "default",
			ContentAvailable: 1,
			MessageID:        m.MessageID,
			Data:             m.JWT,
		},
		MessageID: m.MessageID,
		Data:      m.JWT,
	}
}

// apnsError is APNs' error answer.
type apnsError struct {
	Reason    string `json:"reason"`
	Timestamp int64  `json:"timestamp"`
}

// describeAPNSError renders an APNs error answer: status, reason and apns-id.
func describeAPNSError(resp *http.Response, body []byte) (reason, desc string) {
	var e apnsError
	_ = json.Unmarshal(body, &e)
	reason = e.Reason
	desc = fmt.Sprintf("HTTP %d", resp.StatusCode)
	if reason != "" {
		desc += " " + reason
	} else if s := snippet(body); s != "" {
		desc += ": " + s
	}
	if e.Timestamp > 0 {
		desc += fmt.Sprintf(" (token inactive since %s)", time.UnixMilli(e.Timestamp).UTC().Format(time.RFC3339))
	}
	if id := resp.Header.Get("apns-id"); id != "" {
		desc += ", apns-id " + id
	}
	return reason, desc
}

// Send posts m to APNs. An ExpiredProviderToken answer renews the provider token and
// retries once; a 429 or 5xx answer is retried once after Retry-After when that fits in
// the deadline.
func (a *APNS) Send(ctx context.Context, m Message) error {
	if m.Device.Token == "" {
		return transmissionError(a.name, "device "+m.Device.ID+" has no APNs device token", nil)
	}
	ctx, cancel := withTimeout(ctx, a.timeout)
	defer cancel()
	body, err := json.Marshal(newAPNSPayload(m))
	if err != nil {
		return transmissionError(a.name, "encode message", err)
	}
	if len(body) > apnsMaxPayload {
		return transmissionError(a.name, fmt.Sprintf("payload of message %s is %d bytes, APNs accepts %d", m.MessageID, len(body), apnsMaxPayload), nil)
	}
	expiration := strconv.FormatInt(a.now().Add(ttlOf(m)).Unix(), 10)
	return vendorPost{
		provider: a.name, client: a.client, url: a.base + "/3/device/" + url.PathEscape(m.Device.Token), where: a.base,
		body: body, messageID: m.MessageID,
		credential:     func(_ context.Context, stale string) (string, error) { return a.providerToken(stale) },
		credentialWhat: "sign provider token",
		header: func(h http.Header, tok string) {
			h.Set("authorization", "bearer "+tok)
			h.Set("apns-topic", a.topic)
			h.Set("apns-push-type", "alert")
			h.Set("apns-priority", "10")
			h.Set("apns-expiration", expiration)
			h.Set("content-type", "application/json")
		},
		refused: func(resp *http.Response, body []byte) (string, bool) {
			reason, desc := describeAPNSError(resp, body)
			return desc, resp.StatusCode == http.StatusForbidden && reason == "ExpiredProviderToken"
		},
	}.send(ctx)
}

// providerToken returns the cached provider token, signing a new one when it is older
// than apnsTokenLifetime or equals stale (a token APNs just called expired).
func (a *APNS) providerToken(stale string) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	if a.tok != "" && a.tok != stale && now.Sub(a.tokAt) < apnsTokenLifetime {
		return a.tok, nil
	}
	t := jwtv5.NewWithClaims(jwtv5.SigningMethodES256, jwtv5.MapClaims{
		"iss": a.teamID,
		"iat": now.Unix(),
	})
	t.Header["kid"] = a.keyID
	s, err := t.SignedString(a.key)
	if err != nil {
		return "", err
	}
	a.tok, a.tokAt = s, now
	return s, nil
}
