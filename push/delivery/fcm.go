package delivery

import (
	"context"
	"crypto/rsa"
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
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/jwt"
)

// FCMScope is the OAuth scope an FCM HTTP v1 access token needs.
const FCMScope = "https://www.googleapis.com/auth/firebase.messaging"

// FCMEndpoint is the production base URL of the FCM HTTP v1 API.
const FCMEndpoint = "https://fcm.googleapis.com"

// FCMConfig configures an FCM provider.
type FCMConfig struct {
	// Name is the provider's name; it defaults to "fcm".
	Name string
	// CredentialsFile is the path of the Firebase service account key (JSON). It is
	// ignored when CredentialsJSON is set.
	CredentialsFile string
	// CredentialsJSON is the service account key itself.
	CredentialsJSON []byte
	// ProjectID is the Firebase project; it defaults to the key's project_id.
	ProjectID string
	// Endpoint overrides FCMEndpoint (for tests or a proxy).
	Endpoint string
	// Timeout bounds one Send, token fetch included; it defaults to DefaultTimeout.
	Timeout time.Duration
	// RootCAs, when set, replaces the system roots for the FCM and token endpoints.
	RootCAs *x509.CertPool
}

// serviceAccount is the part of a Google service account key FCM needs.
type serviceAccount struct {
	Type         string `json:"type"`
	ProjectID    string `json:"project_id"`
	PrivateKeyID string `json:"private_key_id"`
	PrivateKey   string `json:"private_key"`
	ClientEmail  string `json:"client_email"`
	TokenURI     string `json:"token_uri"`
}

// googleTokenURI is the token endpoint used when a key names none.
const googleTokenURI = "https://oauth2.googleapis.com/token"

// FCM sends data messages through Firebase Cloud Messaging HTTP v1, authenticating
// with an OAuth access token obtained by the service-account JWT bearer flow
// (an RS256 assertion posted to the key's token_uri).
type FCM struct {
	name    string
	sendURL string
	timeout time.Duration
	client  *http.Client
	oauth   *jwt.Config

	// sem serialises token fetches; acquiring it honours the caller's context.
	sem   chan struct{}
	token *oauth2.Token
}

// NewFCM returns an FCM provider, reading and checking the service account key.
func NewFCM(cfg FCMConfig) (*FCM, error) {
	p, err := newFCM(cfg)
	if err != nil {
		return nil, fmt.Errorf("delivery: fcm: %w", err)
	}
	return p, nil
}

// newFCM is NewFCM with errors that do not name the package, for Build.
func newFCM(cfg FCMConfig) (*FCM, error) {
	var errs errorList
	sa, err := loadServiceAccount(cfg)
	if err != nil {
		errs = append(errs, err)
	}
	endpoint := cfg.Endpoint
	if endpoint == "" {
		endpoint = FCMEndpoint
	}
	base, err := parseEndpoint(endpoint, false)
	if err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, errs.err()
	}
	project := cfg.ProjectID
	if project == "" {
		project = sa.ProjectID
	}
	name := cfg.Name
	if name == "" {
		name = "fcm"
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &FCM{
		name:    name,
		sendURL: base.String() + "/v1/projects/" + url.PathEscape(project) + "/messages:send",
		timeout: timeout,
		client:  noRedirects(newTransport(cfg.RootCAs)),
		oauth: &jwt.Config{
			Email:        sa.ClientEmail,
			PrivateKey:   []byte(sa.PrivateKey),
			PrivateKeyID: sa.PrivateKeyID,
			Scopes:       []string{FCMScope},
			TokenURL:     sa.TokenURI,
		},
		sem: make(chan struct{}, 1),
	}, nil
}

// Name returns the provider's name.
func (f *FCM) Name() string { return f.name }

// Supports reports true for "fcm" and its alias "gcm".
func (f *FCM) Supports(communication string) bool {
	return NormalizeCommunication(communication) == CommFCM
}

// Timeout returns the longest one Send may take.
func (f *FCM) Timeout() time.Duration { return f.timeout }

// loadServiceAccount reads and checks the service account key; the project id must
// come from the key or the configuration.
func loadServiceAccount(cfg FCMConfig) (*serviceAccount, error) {
	raw := cfg.CredentialsJSON
	if len(raw) == 0 {
		if cfg.CredentialsFile == "" {
			return nil, errors.New("credentials_file is required")
		}
		b, err := os.ReadFile(cfg.CredentialsFile)
		if err != nil {
			return nil, fmt.Errorf("read credentials: %w", err)
		}
		raw = b
	}
	var sa serviceAccount
	if err := json.Unmarshal(raw, &sa); err != nil {
		return nil, fmt.Errorf("credentials are not a service account key: %w", err)
	}
	if sa.Type != "service_account" {
		return nil, fmt.Errorf("credentials type is %q, want \"service_account\"", sa.Type)
	}
	var missing []string
	if sa.ClientEmail == "" {
		missing = append(missing, "client_email")
	}
	if sa.PrivateKey == "" {
		missing = append(missing, "private_key")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("service account key lacks %s", strings.Join(missing, ", "))
	}
	if _, err := parseRSAKey([]byte(sa.PrivateKey)); err != nil {
		return nil, fmt.Errorf("service account private_key: %w", err)
	}
	if sa.TokenURI == "" {
		sa.TokenURI = googleTokenURI
	}
	if _, err := parseEndpoint(sa.TokenURI, false); err != nil {
		return nil, fmt.Errorf("service account token_uri: %w", err)
	}
	if cfg.ProjectID == "" && sa.ProjectID == "" {
		return nil, errors.New("no project_id in the configuration or the service account key")
	}
	return &sa, nil
}

// fcmRequest is the FCM HTTP v1 send request.
type fcmRequest struct {
	Message fcmMessage `json:"message"`
}

type fcmMessage struct {
	Token   string            `json:"token"`
	Data    map[string]string `json:"data"`
	Android fcmAndroid        `json:"android"`
	APNS    *fcmAPNS          `json:"apns,omitempty"`
}

type fcmAndroid struct {
	Priority string `json:"priority"`
	TTL      string `json:"ttl"`
}

type fcmAPNS struct {
	Headers map[string]string `json:"headers"`
	Payload apnsPayload       `json:"payload"`
}

// fcmBody builds the FCM request for m: a data message carrying data.messageId and
// data.message as AM's Android SDK reads them. For iOS devices registered through FCM
// it adds an APNs block with aps.messageId and aps.data, which the iOS SDK reads.
func fcmBody(m Message) ([]byte, error) {
	ttl := ttlOf(m)
	msg := fcmMessage{
		Token:   m.Device.Token,
		Data:    map[string]string{"messageId": m.MessageID, "message": m.JWT},
		Android: fcmAndroid{Priority: "high", TTL: strconv.FormatInt(int64(ttl.Seconds()), 10) + "s"},
	}
	if strings.EqualFold(m.Device.Platform, "ios") {
		msg.APNS = &fcmAPNS{
			Headers: map[string]string{
				"apns-priority":   "10",
				"apns-push-type":  "alert",
				"apns-expiration": strconv.FormatInt(time.Now().Add(ttl).Unix(), 10),
			},
			Payload: newAPNSPayload(m),
		}
	}
	return json.Marshal(fcmRequest{Message: msg})
}

// fcmError is FCM's error answer.
type fcmError struct {
	Error struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Status  string `json:"status"`
		Details []struct {
			Type      string `json:"@type"`
			ErrorCode string `json:"errorCode"`
		} `json:"details"`
	} `json:"error"`
}

// describeFCMError renders an FCM error answer: the FCM error code (UNREGISTERED,
// INVALID_ARGUMENT, ...) and its message.
func describeFCMError(status int, body []byte) string {
	var e fcmError
	if err := json.Unmarshal(body, &e); err != nil || (e.Error.Status == "" && e.Error.Message == "") {
		if s := snippet(body); s != "" {
			return fmt.Sprintf("HTTP %d: %s", status, s)
		}
		return fmt.Sprintf("HTTP %d", status)
	}
	code := e.Error.Status
	for _, d := range e.Error.Details {
		if strings.HasSuffix(d.Type, "google.firebase.fcm.v1.FcmError") && d.ErrorCode != "" {
			code = d.ErrorCode
			break
		}
	}
	s := fmt.Sprintf("HTTP %d %s", status, code)
	if e.Error.Message != "" {
		s += ": " + e.Error.Message
	}
	return s
}

// Send posts m to FCM. A 401 answer refreshes the access token and retries once; a
// 429 or 5xx answer is retried once after Retry-After when that fits in the deadline.
func (f *FCM) Send(ctx context.Context, m Message) error {
	if m.Device.Token == "" {
		return transmissionError(f.name, "device "+m.Device.ID+" has no FCM registration token", nil)
	}
	ctx, cancel := withTimeout(ctx, f.timeout)
	defer cancel()
	body, err := fcmBody(m)
	if err != nil {
		return transmissionError(f.name, "encode message", err)
	}
	return vendorPost{
		provider: f.name, client: f.client, url: f.sendURL, where: f.sendURL, body: body, messageID: m.MessageID,
		credential: f.accessToken, credentialWhat: "get access token",
		header: func(h http.Header, tok string) {
			h.Set("Content-Type", "application/json; charset=utf-8")
			h.Set("Authorization", "Bearer "+tok)
		},
		refused: func(resp *http.Response, body []byte) (string, bool) {
			return describeFCMError(resp.StatusCode, body), resp.StatusCode == http.StatusUnauthorized
		},
	}.send(ctx)
}

// accessToken returns a valid access token, fetching a new one when there is none,
// it has expired, or it equals stale (a token the server just rejected).
func (f *FCM) accessToken(ctx context.Context, stale string) (string, error) {
	select {
	case f.sem <- struct{}{}:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	defer func() { <-f.sem }()
	if f.token.Valid() && f.token.AccessToken != stale {
		return f.token.AccessToken, nil
	}
	// x/oauth2/jwt posts with the client found in the context but does not bind the
	// request to it; the transport below does, so a hung token endpoint cannot outlive
	// the deadline.
	hc := &http.Client{Transport: ctxTransport{ctx: ctx, base: f.client.Transport}}
	tok, err := f.oauth.TokenSource(context.WithValue(ctx, oauth2.HTTPClient, hc)).Token()
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return "", fmt.Errorf("%w (%v)", cerr, err)
		}
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil {
			return "", fmt.Errorf("token endpoint %s answered %s: %s", f.oauth.TokenURL, re.Response.Status, snippet(re.Body))
		}
		return "", err
	}
	if tok.AccessToken == "" {
		return "", errors.New("token endpoint returned no access_token")
	}
	f.token = tok
	return tok.AccessToken, nil
}

// ctxTransport binds every request it carries to ctx.
type ctxTransport struct {
	ctx  context.Context
	base http.RoundTripper
}

// RoundTrip sends req under the transport's context.
func (t ctxTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	return t.base.RoundTrip(req.WithContext(t.ctx))
}

// parseRSAKey parses a PEM RSA private key in PKCS#8 or PKCS#1 form, as Google issues.
func parseRSAKey(b []byte) (*rsa.PrivateKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, errors.New("no PEM block")
	}
	if k, err := x509.ParsePKCS8PrivateKey(blk.Bytes); err == nil {
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("key is %T, want RSA", k)
		}
		return rk, nil
	}
	k, err := x509.ParsePKCS1PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("not a PKCS#8 or PKCS#1 RSA key: %w", err)
	}
	return k, nil
}
