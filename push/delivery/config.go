package delivery

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"time"
)

// Provider types a ProviderConfig can name.
const (
	TypeFCM     = "fcm"
	TypeAPNS    = "apns"
	TypeWebhook = "webhook"
	TypeLog     = "log"
	TypePoll    = "poll"
	// TypeChallengeService is LinOTP's push provider: challenge-service URLs with
	// failover, over mutual TLS.
	TypeChallengeService = "challenge_service"
)

// providerTypes lists the provider types in documentation order.
var providerTypes = []string{TypeFCM, TypeAPNS, TypeWebhook, TypeLog, TypePoll, TypeChallengeService}

// Config is the push delivery configuration: the providers, the rules that choose
// between them, and the provider per communication type when no rule applies.
//
// Defaults left unset are derived: a communication type gets the only provider of the
// matching type (fcm, apns, webhook, log, poll). A "log" and a "poll" provider are
// added when none is configured. With no providers at all, fcm, apns and webhook
// devices go to the log provider, so development works with no configuration.
//
// In YAML:
//
//	providers:
//	  - name: fcm-prod
//	    type: fcm
//	    credentials_file: /etc/arbor/firebase-service-account.json
//	    timeout: 5s
//	  - name: apns-prod
//	    type: apns
//	    key_file: /etc/arbor/AuthKey_ABC123DEFG.p8
//	    key_id: ABC123DEFG
//	    team_id: DEF123GHIJ
//	    topic: com.example.authenticator
//	    endpoint: production
//	  - name: challenge
//	    type: challenge_service
//	    push_urls: [https://cs1.example.com/v1/challenge, https://cs2.example.com/v1/challenge]
//	    access_certificate: /etc/arbor/cs_client.pem
//	    server_certificate: /etc/arbor/cs-ca-cert.pem
//	    timeout: 120s
//	  - name: dmz-relay
//	    type: webhook
//	    urls: [https://push1.dmz.example/arbor, https://push2.dmz.example/arbor]
//	    secret_env: ARBOR_PUSH_WEBHOOK_SECRET
//	    timeout: 3s
//	rules:
//	  - name: branch-offices
//	    networks: [10.20.0.0/16, "2001:db8:20::/48"]
//	    provider: dmz-relay
//	  - name: qa
//	    realms: [/staff]
//	    users: ["qa-*"]
//	    provider: log
//	defaults:
//	  fcm: fcm-prod
//	  apns: apns-prod
type Config struct {
	// Providers are the configured providers.
	Providers []ProviderConfig `yaml:"providers,omitempty" json:"providers,omitempty"`
	// Rules are tried in order; the first that matches and whose provider supports the
	// device's communication type wins.
	Rules []Rule `yaml:"rules,omitempty" json:"rules,omitempty"`
	// Defaults maps a communication type (fcm, apns, webhook, poll, log; gcm means
	// fcm) to the provider used when no rule applies.
	Defaults map[string]string `yaml:"defaults,omitempty" json:"defaults,omitempty"`
}

// ProviderConfig configures one provider. Name and Type are common; the other fields
// apply to the types listed on them, and setting one for another type is an error.
type ProviderConfig struct {
	// Name identifies the provider in rules, defaults and metrics; it defaults to the
	// type.
	Name string `yaml:"name,omitempty" json:"name,omitempty"`
	// Type is fcm, apns, webhook, log, poll or challenge_service.
	Type string `yaml:"type" json:"type"`
	// Timeout bounds one send (fcm, apns) or one attempt per URL (webhook); for
	// challenge_service it is how long its pushes stay valid (default 120s), as
	// LinOTP's push provider timeout.
	Timeout Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
	// CAFile is a PEM bundle trusted instead of the system roots (fcm, apns, webhook).
	CAFile string `yaml:"ca_file,omitempty" json:"ca_file,omitempty"`
	// Endpoint overrides the service's base URL (fcm); for apns it is "production"
	// (the default), "sandbox" or an https base URL.
	Endpoint string `yaml:"endpoint,omitempty" json:"endpoint,omitempty"`

	// CredentialsFile is the Firebase service account key, JSON (fcm).
	CredentialsFile string `yaml:"credentials_file,omitempty" json:"credentials_file,omitempty"`
	// ProjectID is the Firebase project; it defaults to the key's project_id (fcm).
	ProjectID string `yaml:"project_id,omitempty" json:"project_id,omitempty"`

	// KeyFile is the .p8 token signing key (apns).
	KeyFile string `yaml:"key_file,omitempty" json:"key_file,omitempty"`
	// KeyID is the signing key's id (apns).
	KeyID string `yaml:"key_id,omitempty" json:"key_id,omitempty"`
	// TeamID is the Apple developer team id (apns).
	TeamID string `yaml:"team_id,omitempty" json:"team_id,omitempty"`
	// Topic is the app's bundle id (apns).
	Topic string `yaml:"topic,omitempty" json:"topic,omitempty"`

	// URLs are tried in order until one answers 2xx (webhook).
	URLs []string `yaml:"urls,omitempty" json:"urls,omitempty"`
	// Secret is the HMAC signing secret (webhook); prefer SecretEnv.
	Secret string `yaml:"secret,omitempty" json:"secret,omitempty"`
	// SecretEnv names the environment variable holding the secret (webhook).
	SecretEnv string `yaml:"secret_env,omitempty" json:"secret_env,omitempty"`
	// Communications are the device communication types served (webhook: default
	// webhook, fcm and apns; challenge_service: default fcm and apns).
	Communications []string `yaml:"communications,omitempty" json:"communications,omitempty"`

	// PushURLs are the challenge-service URLs, https, tried in order until one answers
	// 2xx (challenge_service).
	PushURLs []string `yaml:"push_urls,omitempty" json:"push_urls,omitempty"`
	// AccessCertificate is a PEM file with the client certificate and its key that
	// Arbor presents to the service (challenge_service).
	AccessCertificate string `yaml:"access_certificate,omitempty" json:"access_certificate,omitempty"`
	// ServerCertificate is a PEM bundle trusted for the service's certificate instead
	// of the system roots (challenge_service).
	ServerCertificate string `yaml:"server_certificate,omitempty" json:"server_certificate,omitempty"`
}

// Duration is a time.Duration written as a Go duration string ("10s", "1m30s") in
// YAML and JSON.
type Duration time.Duration

// MarshalText renders d as a Go duration string.
func (d Duration) MarshalText() ([]byte, error) {
	return []byte(time.Duration(d).String()), nil
}

// UnmarshalText parses a Go duration string, which must not be negative.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(strings.TrimSpace(string(b)))
	if err != nil {
		return fmt.Errorf("duration %q: want a Go duration such as \"10s\"", b)
	}
	if v < 0 {
		return fmt.Errorf("duration %q is negative", b)
	}
	*d = Duration(v)
	return nil
}

// ConfigError lists every problem found in a configuration.
type ConfigError struct {
	// Problems are the individual problems, each naming where it is.
	Problems []error
}

// Error lists the problems, one per line.
func (e *ConfigError) Error() string {
	var b strings.Builder
	if len(e.Problems) == 1 {
		b.WriteString("delivery: invalid push configuration: ")
		b.WriteString(e.Problems[0].Error())
		return b.String()
	}
	fmt.Fprintf(&b, "delivery: invalid push configuration (%d problems):", len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  - ")
		b.WriteString(p.Error())
	}
	return b.String()
}

// Unwrap returns the problems, for errors.Is and errors.As.
func (e *ConfigError) Unwrap() []error { return e.Problems }

// fieldTypes says which provider types each type-specific field applies to.
var fieldTypes = []struct {
	name  string
	set   func(*ProviderConfig) bool
	types []string
}{
	{"timeout", func(p *ProviderConfig) bool { return p.Timeout != 0 }, []string{TypeFCM, TypeAPNS, TypeWebhook, TypeChallengeService}},
	{"ca_file", func(p *ProviderConfig) bool { return p.CAFile != "" }, []string{TypeFCM, TypeAPNS, TypeWebhook}},
	{"endpoint", func(p *ProviderConfig) bool { return p.Endpoint != "" }, []string{TypeFCM, TypeAPNS}},
	{"credentials_file", func(p *ProviderConfig) bool { return p.CredentialsFile != "" }, []string{TypeFCM}},
	{"project_id", func(p *ProviderConfig) bool { return p.ProjectID != "" }, []string{TypeFCM}},
	{"key_file", func(p *ProviderConfig) bool { return p.KeyFile != "" }, []string{TypeAPNS}},
	{"key_id", func(p *ProviderConfig) bool { return p.KeyID != "" }, []string{TypeAPNS}},
	{"team_id", func(p *ProviderConfig) bool { return p.TeamID != "" }, []string{TypeAPNS}},
	{"topic", func(p *ProviderConfig) bool { return p.Topic != "" }, []string{TypeAPNS}},
	{"urls", func(p *ProviderConfig) bool { return len(p.URLs) > 0 }, []string{TypeWebhook}},
	{"secret", func(p *ProviderConfig) bool { return p.Secret != "" }, []string{TypeWebhook}},
	{"secret_env", func(p *ProviderConfig) bool { return p.SecretEnv != "" }, []string{TypeWebhook}},
	{"communications", func(p *ProviderConfig) bool { return len(p.Communications) > 0 }, []string{TypeWebhook, TypeChallengeService}},
	{"push_urls", func(p *ProviderConfig) bool { return len(p.PushURLs) > 0 }, []string{TypeChallengeService}},
	{"access_certificate", func(p *ProviderConfig) bool { return p.AccessCertificate != "" }, []string{TypeChallengeService}},
	{"server_certificate", func(p *ProviderConfig) bool { return p.ServerCertificate != "" }, []string{TypeChallengeService}},
}

// Build checks cfg and returns the Router it describes. Every problem is reported at
// once in a *ConfigError: unknown types, duplicate names, fields that do not apply,
// unreadable credentials or keys, bad URLs, CIDRs or user patterns, and rules or
// defaults naming unknown providers. logger receives the log provider's output and the
// router's logs; slog.Default() is used when it is nil.
func Build(cfg Config, logger *slog.Logger) (*Router, error) {
	if logger == nil {
		logger = slog.Default()
	}
	var errs []error
	var providers []Provider
	names := map[string]bool{}
	byType := map[string][]string{}
	for i, pc := range cfg.Providers {
		typ := strings.ToLower(strings.TrimSpace(pc.Type))
		name := strings.TrimSpace(pc.Name)
		if name == "" {
			name = typ
		}
		where := fmt.Sprintf("providers[%d] %q", i, name)
		if typ == "" {
			if name != "" {
				errs = append(errs, fmt.Errorf("%s: type is required (one of %s)", where, strings.Join(providerTypes, ", ")))
			} else {
				errs = append(errs, fmt.Errorf("providers[%d]: type is required (one of %s)", i, strings.Join(providerTypes, ", ")))
			}
			continue
		}
		if names[name] {
			errs = append(errs, fmt.Errorf("%s: duplicate provider name %q", where, name))
			continue
		}
		names[name] = true
		if !slices.Contains(providerTypes, typ) {
			errs = append(errs, fmt.Errorf("%s: unknown type %q (want one of %s)", where, pc.Type, strings.Join(providerTypes, ", ")))
			providers = append(providers, brokenProvider{name: name})
			continue
		}
		byType[typ] = append(byType[typ], name)
		var misplaced []string
		for _, f := range fieldTypes {
			if f.set(&pc) && !slices.Contains(f.types, typ) {
				misplaced = append(misplaced, f.name)
			}
		}
		if len(misplaced) > 0 {
			errs = append(errs, fmt.Errorf("%s: %s not valid for type %s", where, strings.Join(misplaced, ", "), typ))
		}
		p, err := buildProvider(typ, name, pc, logger)
		if err != nil {
			if list, ok := err.(errorList); ok {
				for _, e := range list {
					errs = append(errs, fmt.Errorf("%s: %w", where, e))
				}
			} else {
				errs = append(errs, fmt.Errorf("%s: %w", where, err))
			}
			p = brokenProvider{name: name}
		}
		providers = append(providers, p)
	}
	// Development needs no configuration: log and poll are always available.
	for _, typ := range []string{TypeLog, TypePoll} {
		if len(byType[typ]) == 0 && !names[typ] {
			if typ == TypeLog {
				providers = append(providers, NewLog(typ, logger))
			} else {
				providers = append(providers, NewPoll(typ))
			}
			names[typ] = true
			byType[typ] = []string{typ}
		}
	}
	defaults := map[string]string{}
	explicit := map[string]bool{}
	for k, v := range cfg.Defaults {
		defaults[k] = v
		explicit[NormalizeCommunication(k)] = true
	}
	for _, comm := range communications {
		if explicit[comm] {
			continue
		}
		switch native := byType[comm]; {
		case len(native) == 1:
			defaults[comm] = native[0]
		case len(native) > 1:
			errs = append(errs, fmt.Errorf("defaults.%s: %d providers of type %s (%s); name the default", comm, len(native), comm, strings.Join(native, ", ")))
		case len(cfg.Providers) == 0 && len(byType[TypeLog]) == 1:
			defaults[comm] = byType[TypeLog][0]
		}
	}
	r, err := newRouter(providers, cfg.Rules, defaults, logger)
	errs = append(errs, err...)
	if len(errs) > 0 {
		return nil, &ConfigError{Problems: errs}
	}
	if len(cfg.Providers) == 0 {
		logger.Warn("push delivery: no providers configured; fcm, apns and webhook pushes are logged, not sent (development mode)")
	}
	return r, nil
}

// buildProvider constructs one provider from its configuration.
func buildProvider(typ, name string, pc ProviderConfig, logger *slog.Logger) (Provider, error) {
	var roots *x509.CertPool
	if pc.CAFile != "" && typ != TypeLog && typ != TypePoll {
		p, err := loadCertPool(pc.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ca_file: %w", err)
		}
		roots = p
	}
	switch typ {
	case TypeFCM:
		return newFCM(FCMConfig{
			Name:            name,
			CredentialsFile: pc.CredentialsFile,
			ProjectID:       pc.ProjectID,
			Endpoint:        pc.Endpoint,
			Timeout:         time.Duration(pc.Timeout),
			RootCAs:         roots,
		})
	case TypeAPNS:
		return newAPNS(APNSConfig{
			Name:     name,
			KeyFile:  pc.KeyFile,
			KeyID:    pc.KeyID,
			TeamID:   pc.TeamID,
			Topic:    pc.Topic,
			Endpoint: pc.Endpoint,
			Timeout:  time.Duration(pc.Timeout),
			RootCAs:  roots,
		})
	case TypeWebhook:
		secret, err := webhookSecret(pc)
		if err != nil {
			return nil, err
		}
		w, err := newWebhook(WebhookConfig{
			Name:           name,
			URLs:           pc.URLs,
			Secret:         secret,
			Timeout:        time.Duration(pc.Timeout),
			Communications: pc.Communications,
			RootCAs:        roots,
		})
		if err != nil {
			return nil, err
		}
		for _, u := range w.urls {
			if u.Scheme == "http" && !isLoopback(u.Hostname()) {
				logger.Warn("push delivery: webhook URL is plain http; the push JWT will cross the network unencrypted",
					slog.String("provider", name), slog.String("url", redactURL(u)))
			}
		}
		return w, nil
	case TypeChallengeService:
		cfg := ChallengeServiceConfig{Name: name, URLs: pc.PushURLs, Validity: time.Duration(pc.Timeout), Communications: pc.Communications}
		var errs errorList
		if pc.AccessCertificate != "" {
			cert, err := loadKeyPair(pc.AccessCertificate)
			if err != nil {
				errs = append(errs, err)
			}
			cfg.ClientCertificate = cert
		}
		if pc.ServerCertificate != "" {
			pool, err := loadCertPool(pc.ServerCertificate)
			if err != nil {
				errs = append(errs, fmt.Errorf("server_certificate: %w", err))
			}
			cfg.RootCAs = pool
		}
		c, err := newChallengeService(cfg)
		if list, ok := err.(errorList); ok {
			errs = append(errs, list...)
		} else if err != nil {
			errs = append(errs, err)
		}
		if len(errs) > 0 {
			return nil, errs.err()
		}
		return c, nil
	case TypeLog:
		return NewLog(name, logger), nil
	case TypePoll:
		return NewPoll(name), nil
	}
	return nil, fmt.Errorf("unknown type %q", typ)
}

// webhookSecret resolves a webhook's secret from secret or secret_env (exactly one).
func webhookSecret(pc ProviderConfig) ([]byte, error) {
	switch {
	case pc.Secret != "" && pc.SecretEnv != "":
		return nil, errors.New("set secret or secret_env, not both")
	case pc.SecretEnv != "":
		v, ok := os.LookupEnv(pc.SecretEnv)
		if !ok || v == "" {
			return nil, fmt.Errorf("secret_env: environment variable %s is unset or empty", pc.SecretEnv)
		}
		return []byte(v), nil
	case pc.Secret != "":
		return []byte(pc.Secret), nil
	}
	return nil, errors.New("secret or secret_env is required")
}

// isLoopback reports whether host is localhost or a loopback address.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// brokenProvider stands in for a provider whose configuration failed, so that rules
// and defaults naming it are still checked; Build never returns a Router holding one.
type brokenProvider struct{ name string }

// Name returns the provider's name.
func (b brokenProvider) Name() string { return b.name }

// Supports reports true, so that nothing is reported twice.
func (b brokenProvider) Supports(string) bool { return true }

// Send always fails.
func (b brokenProvider) Send(context.Context, Message) error {
	return transmissionError(b.name, "provider is misconfigured", nil)
}

// ensure the built-in providers satisfy the interfaces.
var (
	_ Deliverer         = (*Router)(nil)
	_ ValidityDeliverer = (*Router)(nil)
	_ Provider          = (*FCM)(nil)
	_ Provider          = (*APNS)(nil)
	_ Provider          = (*Webhook)(nil)
	_ Provider          = (*Log)(nil)
	_ Provider          = (*Poll)(nil)
	_ TimeoutProvider   = (*FCM)(nil)
	_ TimeoutProvider   = (*APNS)(nil)
	_ TimeoutProvider   = (*Webhook)(nil)
	_ Provider          = (*ChallengeService)(nil)
	_ TimeoutProvider   = (*ChallengeService)(nil)
	_ ValidityProvider  = (*ChallengeService)(nil)
)
