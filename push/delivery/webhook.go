package delivery

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// WebhookSignatureHeader is the request header carrying a webhook's signature.
const WebhookSignatureHeader = "Arbor-Signature"

// DefaultWebhookTolerance is the signature age VerifyWebhook accepts when given a
// non-positive tolerance.
const DefaultWebhookTolerance = 5 * time.Minute

// DefaultWebhookTimeout bounds each webhook attempt when no timeout is configured.
const DefaultWebhookTimeout = 5 * time.Second

// MinWebhookSecret is the shortest webhook signing secret accepted, in bytes.
const MinWebhookSecret = 16

// ErrWebhookSignature is wrapped by every VerifyWebhook failure.
var ErrWebhookSignature = errors.New("webhook signature invalid")

// WebhookConfig configures a webhook provider.
type WebhookConfig struct {
	// Name is the provider's name; it defaults to "webhook".
	Name string
	// URLs are tried in order until one answers 2xx.
	URLs []string
	// Secret is the HMAC-SHA256 signing key, at least MinWebhookSecret bytes.
	Secret []byte
	// Timeout bounds each attempt; it defaults to DefaultWebhookTimeout. When the
	// caller's deadline is shorter, what is left is shared fairly between the URLs not
	// yet tried, so a hung first URL cannot starve the failover.
	Timeout time.Duration
	// Communications are the device communication types this webhook serves; they
	// default to webhook, fcm and apns (the receiver gets the device token and can
	// relay the push itself).
	Communications []string
	// RootCAs, when set, replaces the system roots for https URLs.
	RootCAs *x509.CertPool
}

// Webhook posts each message as signed JSON to a list of URLs with failover. The body
// is signed Stripe-style in the Arbor-Signature header; receivers check it with
// VerifyWebhook and should use message_id to drop duplicates, since a URL that timed
// out may still have acted on the message.
type Webhook struct {
	failover
	secret []byte
	comms  []string
	now    func() time.Time
}

// NewWebhook returns a webhook provider after checking its URLs and secret.
func NewWebhook(cfg WebhookConfig) (*Webhook, error) {
	p, err := newWebhook(cfg)
	if err != nil {
		return nil, fmt.Errorf("delivery: webhook: %w", err)
	}
	return p, nil
}

// newWebhook is NewWebhook with errors that do not name the package, for Build.
func newWebhook(cfg WebhookConfig) (*Webhook, error) {
	var errs errorList
	urls := parseURLs("urls", cfg.URLs, false, &errs)
	if len(cfg.Secret) < MinWebhookSecret {
		errs = append(errs, fmt.Errorf("secret is %d bytes, need at least %d", len(cfg.Secret), MinWebhookSecret))
	}
	comms := parseCommunications(cfg.Communications, []string{CommWebhook, CommFCM, CommAPNS}, &errs)
	if len(errs) > 0 {
		return nil, errs.err()
	}
	name := cfg.Name
	if name == "" {
		name = "webhook"
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultWebhookTimeout
	}
	return &Webhook{
		failover: failover{name: name, urls: urls, timeout: timeout, client: noRedirects(newTransport(cfg.RootCAs)),
			userAgent: "arbor-push-webhook/1"},
		secret: bytes.Clone(cfg.Secret),
		comms:  comms,
		now:    time.Now,
	}, nil
}

// Name returns the provider's name.
func (w *Webhook) Name() string { return w.name }

// Supports reports whether communication is one the webhook was configured to serve.
func (w *Webhook) Supports(communication string) bool {
	return slices.Contains(w.comms, NormalizeCommunication(communication))
}

// Timeout returns the longest one Send may take: the per-URL timeout for every URL.
func (w *Webhook) Timeout() time.Duration { return w.maxTime() }

// WebhookPayload is the JSON body a webhook receives.
type WebhookPayload struct {
	// MessageID is the push message id; receivers use it to drop duplicates.
	MessageID string `json:"message_id"`
	// JWT is the signed push message for the device.
	JWT string `json:"jwt"`
	// Title is the notification title.
	Title string `json:"title"`
	// Body is the notification body text.
	Body string `json:"body"`
	// Realm is the realm of the login.
	Realm string `json:"realm"`
	// User is the user the push is for.
	User string `json:"user"`
	// Device is the target device.
	Device WebhookDevice `json:"device"`
	// SentAt is when the message was signed, RFC 3339 in UTC.
	SentAt time.Time `json:"sent_at"`
}

// WebhookDevice describes the target device in a WebhookPayload.
type WebhookDevice struct {
	// ID is the device's mechanism uid.
	ID string `json:"id"`
	// Platform is the device platform ("android", "ios", ...).
	Platform string `json:"platform"`
	// Communication is the device's communication type.
	Communication string `json:"communication"`
	// Token is the device's push token, for receivers that relay to FCM or APNs.
	Token string `json:"token"`
}

// SignWebhook returns the Arbor-Signature header value for body signed at t:
// "t=<unix seconds>,v1=<hex HMAC-SHA256(secret, t + "." + body)>".
func SignWebhook(secret []byte, body []byte, t time.Time) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(webhookMAC(secret, ts, body))
}

// webhookMAC computes HMAC-SHA256(secret, ts + "." + body).
func webhookMAC(secret []byte, ts string, body []byte) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(ts))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// VerifyWebhook checks an Arbor-Signature header against body: one of its v1
// signatures must be the HMAC-SHA256 of "t.body" under secret, and t must be within
// tolerance of now (either way; DefaultWebhookTolerance when tolerance is not
// positive). Every failure wraps ErrWebhookSignature.
func VerifyWebhook(secret []byte, header string, body []byte, tolerance time.Duration, now time.Time) error {
	if tolerance <= 0 {
		tolerance = DefaultWebhookTolerance
	}
	var ts string
	var sigs [][]byte
	for part := range strings.SplitSeq(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		switch k {
		case "t":
			ts = v
		case "v1":
			if b, err := hex.DecodeString(v); err == nil {
				sigs = append(sigs, b)
			}
		}
	}
	if ts == "" {
		return fmt.Errorf("delivery: %w: header has no timestamp", ErrWebhookSignature)
	}
	if len(sigs) == 0 {
		return fmt.Errorf("delivery: %w: header has no v1 signature", ErrWebhookSignature)
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("delivery: %w: bad timestamp %q", ErrWebhookSignature, ts)
	}
	if age := now.Sub(time.Unix(sec, 0)); age > tolerance || age < -tolerance {
		return fmt.Errorf("delivery: %w: timestamp is %s from now, outside the %s tolerance", ErrWebhookSignature, age.Round(time.Second), tolerance)
	}
	want := webhookMAC(secret, ts, body)
	for _, s := range sigs {
		if hmac.Equal(s, want) {
			return nil
		}
	}
	return fmt.Errorf("delivery: %w: no signature matches", ErrWebhookSignature)
}

// Send posts m to each URL in turn until one answers 2xx. Any other answer, a
// connection error or a timeout moves on to the next URL; when all fail the error
// lists each failure.
func (w *Webhook) Send(ctx context.Context, m Message) error {
	now := w.now()
	body, err := payloadJSON(m, now)
	if err != nil {
		return transmissionError(w.name, "encode message", err)
	}
	return w.send(ctx, m.MessageID, body, http.Header{WebhookSignatureHeader: {SignWebhook(w.secret, body, now)}})
}

// payloadJSON is the WebhookPayload of m sent at now, as JSON.
func payloadJSON(m Message, now time.Time) ([]byte, error) {
	return json.Marshal(WebhookPayload{
		MessageID: m.MessageID,
		JWT:       m.JWT,
		Title:     m.Title,
		Body:      m.Body,
		Realm:     m.Realm,
		User:      m.User,
		Device: WebhookDevice{
			ID:            m.Device.ID,
			Platform:      m.Device.Platform,
			Communication: m.Device.Communication,
			Token:         m.Device.Token,
		},
		SentAt: now.UTC().Truncate(time.Second),
	})
}
