package delivery

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// ErrTransmission is wrapped by every delivery failure, whichever provider it comes
// from, so the push sender node can record TRANSMISSION_FAILURE with errors.Is.
var ErrTransmission = errors.New("push transmission failed")

// ErrNoProvider is wrapped (together with ErrTransmission) when no rule and no default
// names a provider that supports the device's communication type.
var ErrNoProvider = errors.New("no push provider for this device")

// Provider carries messages over one transport. Implementations must be safe for
// concurrent use and must honour the context's deadline and cancellation.
type Provider interface {
	// Name is the provider's configured name, used by rules, defaults and metrics.
	Name() string
	// Supports reports whether the provider can reach a device whose communication
	// type is communication ("fcm", "gcm", "apns", "webhook", "poll", "log", ...).
	Supports(communication string) bool
	// Send delivers m. Every error it returns wraps ErrTransmission.
	Send(ctx context.Context, m Message) error
}

// TimeoutProvider is implemented by providers that bound each Send themselves. The
// Router gives each message min(context deadline, Timeout()) when Timeout is positive,
// and DefaultTimeout otherwise.
type TimeoutProvider interface {
	// Timeout is the longest one Send may take.
	Timeout() time.Duration
}

// ValidityProvider is implemented by providers that decide how long the pushes they
// carry stay valid (challenge_service's timeout, as LinOTP's push providers do).
type ValidityProvider interface {
	// Validity is how long a push sent through the provider stays valid.
	Validity() time.Duration
}

// DefaultTimeout bounds a Send when neither the configuration nor the provider sets a
// timeout.
const DefaultTimeout = 10 * time.Second

// DefaultTTL is how long a message is worth delivering when Message.TTL is zero; it
// matches the 120 seconds the authenticator apps assume.
const DefaultTTL = 120 * time.Second

// Communication types a device can report. CommGCM is AM's historical name for FCM and
// is accepted as an alias.
const (
	CommFCM     = "fcm"
	CommGCM     = "gcm"
	CommAPNS    = "apns"
	CommWebhook = "webhook"
	CommPoll    = "poll"
	CommLog     = "log"
)

// communications lists the canonical communication types, in a stable order.
var communications = []string{CommFCM, CommAPNS, CommWebhook, CommPoll, CommLog}

// NormalizeCommunication returns the canonical form of a device communication type:
// lower case, trimmed, with "gcm" mapped to "fcm".
func NormalizeCommunication(c string) string {
	c = strings.ToLower(strings.TrimSpace(c))
	if c == CommGCM {
		return CommFCM
	}
	return c
}

// transmissionError wraps err (which may be nil) in ErrTransmission with context.
func transmissionError(provider, what string, err error) error {
	if err == nil {
		return fmt.Errorf("delivery: %s: %w: %s", provider, ErrTransmission, what)
	}
	return fmt.Errorf("delivery: %s: %w: %s: %w", provider, ErrTransmission, what, err)
}

// withTimeout bounds ctx by d when d is positive.
func withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}

// ttlOf returns m.TTL, or DefaultTTL when it is not positive.
func ttlOf(m Message) time.Duration {
	if m.TTL > 0 {
		return m.TTL
	}
	return DefaultTTL
}

// maxErrorBody is how much of an error response body is read.
const maxErrorBody = 64 << 10

// readBody reads at most maxErrorBody bytes of r and closes it.
func readBody(r io.ReadCloser) []byte {
	defer r.Close()
	b, _ := io.ReadAll(io.LimitReader(r, maxErrorBody))
	return b
}

// drain discards what is left of a response body and closes it, so the connection can
// be reused.
func drain(r io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(r, maxErrorBody))
	r.Close()
}

// defaultRetryDelay is the pause before the single retry of a 429 or 5xx answer that
// carries no Retry-After header.
const defaultRetryDelay = 500 * time.Millisecond

// retryAfter returns how long to wait before retrying resp, from its Retry-After header
// (seconds or HTTP date), or defaultRetryDelay when there is none.
func retryAfter(resp *http.Response, now time.Time) time.Duration {
	v := strings.TrimSpace(resp.Header.Get("Retry-After"))
	if v == "" {
		return defaultRetryDelay
	}
	if s, err := strconv.Atoi(v); err == nil {
		if s < 0 {
			return 0
		}
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
		return 0
	}
	return defaultRetryDelay
}

// retryable reports whether an HTTP status is worth one retry.
func retryable(status int) bool {
	return status == http.StatusTooManyRequests || status >= 500
}

// sleepWithin waits d unless that would end after ctx's deadline (it then returns
// false at once) or ctx ends first (false).
func sleepWithin(ctx context.Context, d time.Duration) bool {
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= d {
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// loadCertPool returns a pool holding the PEM certificates in file, for endpoints
// whose certificate the system roots do not vouch for.
func loadCertPool(file string) (*x509.CertPool, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("CA file %s holds no PEM certificate", file)
	}
	return pool, nil
}

// newTransport returns an HTTP transport trusting roots (the system pool when nil).
func newTransport(roots *x509.CertPool) *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	tr.ForceAttemptHTTP2 = true
	tr.MaxIdleConnsPerHost = 8
	return tr
}

// redactURL renders u without user info, query or fragment, for errors and logs.
func redactURL(u *url.URL) string {
	c := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}
	return c.String()
}

// parseEndpoint parses a base URL override and checks its scheme.
func parseEndpoint(raw string, httpsOnly bool) (*url.URL, error) {
	u, err := url.Parse(strings.TrimRight(raw, "/"))
	if err != nil {
		return nil, fmt.Errorf("endpoint %q: %w", raw, err)
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && !httpsOnly:
	case httpsOnly:
		return nil, fmt.Errorf("endpoint %q: scheme must be https", raw)
	default:
		return nil, fmt.Errorf("endpoint %q: scheme must be http or https", raw)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("endpoint %q: no host", raw)
	}
	return u, nil
}

// errorList is several errors shown on one line, separated by "; ".
type errorList []error

// Error joins the errors with "; ".
func (e errorList) Error() string {
	s := make([]string, len(e))
	for i, err := range e {
		s[i] = err.Error()
	}
	return strings.Join(s, "; ")
}

// Unwrap returns the errors, for errors.Is and errors.As.
func (e errorList) Unwrap() []error { return e }

// err returns e as an error: nil when empty, the error itself when single.
func (e errorList) err() error {
	switch len(e) {
	case 0:
		return nil
	case 1:
		return e[0]
	}
	return e
}

// withoutURL strips the *url.Error wrapper from an HTTP client error: its URL can hold
// a device token (APNs puts it in the path) or webhook credentials.
func withoutURL(err error) error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		return uerr.Err
	}
	return err
}

// snippet renders the start of a response body on one line, for error messages.
func snippet(b []byte) string {
	const max = 200
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > max {
		s = s[:max] + "…"
	}
	return s
}
