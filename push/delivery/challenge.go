package delivery

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"slices"
	"time"
)

// DefaultChallengeValidity is how long a push sent through a challenge service stays
// valid when its provider sets no timeout: LinOTP's 120 seconds.
const DefaultChallengeValidity = 120 * time.Second

// ChallengeServiceConfig configures a challenge_service provider, LinOTP's push
// provider: a list of challenge-service URLs tried in order, reached over mutual TLS.
type ChallengeServiceConfig struct {
	// Name is the provider's name; it defaults to "challenge_service".
	Name string
	// URLs are the challenge-service endpoints (https), tried in order until one
	// answers 2xx (LinOTP's push_url list).
	URLs []string
	// ClientCertificate, when set, is presented to the service (access_certificate).
	ClientCertificate *tls.Certificate
	// RootCAs, when set, replaces the system roots for the service's certificate
	// (server_certificate).
	RootCAs *x509.CertPool
	// Validity is how long a push sent through this provider stays valid (timeout);
	// it defaults to DefaultChallengeValidity.
	Validity time.Duration
	// AttemptTimeout bounds each URL's attempt; it defaults to DefaultWebhookTimeout.
	AttemptTimeout time.Duration
	// Communications are the device communication types served; they default to fcm
	// and apns (the service relays to the phone).
	Communications []string
}

// ChallengeService posts each message, as the JSON a webhook receives
// (WebhookPayload), to a challenge service that relays it to the phone. The service
// knows Arbor by its client certificate; Arbor knows the service by its server
// certificate. Its Validity is the life of the pushes it carries: the push service
// asks the router for it before it signs a message, so the challenge expires after the
// provider's timeout, as in LinOTP.
type ChallengeService struct {
	failover
	validity time.Duration
	comms    []string
	now      func() time.Time
}

// NewChallengeService returns a challenge_service provider after checking its URLs.
func NewChallengeService(cfg ChallengeServiceConfig) (*ChallengeService, error) {
	p, err := newChallengeService(cfg)
	if err != nil {
		return nil, fmt.Errorf("delivery: challenge_service: %w", err)
	}
	return p, nil
}

func newChallengeService(cfg ChallengeServiceConfig) (*ChallengeService, error) {
	var errs errorList
	// The push carries a signed challenge and the client certificate proves who sends
	// it: neither means anything over plain http.
	urls := parseURLs("push_urls", cfg.URLs, true, &errs)
	comms := parseCommunications(cfg.Communications, []string{CommFCM, CommAPNS}, &errs)
	if len(errs) > 0 {
		return nil, errs.err()
	}
	name := cfg.Name
	if name == "" {
		name = TypeChallengeService
	}
	attempt := cfg.AttemptTimeout
	if attempt <= 0 {
		attempt = DefaultWebhookTimeout
	}
	validity := cfg.Validity
	if validity <= 0 {
		validity = DefaultChallengeValidity
	}
	tr := newTransport(cfg.RootCAs)
	if cfg.ClientCertificate != nil {
		tr.TLSClientConfig.Certificates = []tls.Certificate{*cfg.ClientCertificate}
	}
	return &ChallengeService{
		failover: failover{name: name, urls: urls, timeout: attempt, client: noRedirects(tr), userAgent: "arbor-push-challenge/1"},
		validity: validity,
		comms:    comms,
		now:      time.Now,
	}, nil
}

// Name returns the provider's name.
func (c *ChallengeService) Name() string { return c.name }

// Supports reports whether communication is one the provider serves.
func (c *ChallengeService) Supports(communication string) bool {
	return slices.Contains(c.comms, NormalizeCommunication(communication))
}

// Timeout returns the longest one Send may take: the attempt timeout for every URL.
func (c *ChallengeService) Timeout() time.Duration { return c.maxTime() }

// Validity returns how long the pushes this provider carries stay valid.
func (c *ChallengeService) Validity() time.Duration { return c.validity }

// Send posts m to each URL in turn until one answers 2xx.
func (c *ChallengeService) Send(ctx context.Context, m Message) error {
	body, err := payloadJSON(m, c.now())
	if err != nil {
		return transmissionError(c.name, "encode message", err)
	}
	return c.send(ctx, m.MessageID, body, nil)
}

// loadKeyPair reads a client certificate and its key from one PEM file (LinOTP's
// access_certificate holds both), or from the file and a second one.
func loadKeyPair(file string) (*tls.Certificate, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read access_certificate: %w", err)
	}
	cert, err := tls.X509KeyPair(b, b)
	if err != nil {
		return nil, fmt.Errorf("access_certificate %s must hold a PEM certificate and its private key: %w", file, err)
	}
	return &cert, nil
}
