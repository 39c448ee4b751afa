package push

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/arbor-auth/arbor/store"
)

// RegistrationRequest asks for a new device registration (the push_registration node).
type RegistrationRequest struct {
	// Realm ("/" or "/alpha") and Username of the user registering a device.
	Realm, Username string
	// FlowID binds the registration to one journey flow: only that flow can read its
	// result.
	FlowID string
	// Issuer is shown in the app; empty means DefaultIssuer.
	Issuer string
	// AccountName is shown in the app; empty means Username.
	AccountName string
	// Color is the app's background colour in hex (with or without '#'); empty means
	// DefaultColor.
	Color string
	// ImageURL is the logo URL shown in the app, or empty.
	ImageURL string
	// TTL is how long the QR code stays valid; 0 means Config.RegistrationTimeout.
	TTL time.Duration
	// BaseURL is the base URL the registering user reached the server at (the login
	// request's). Devices are told to reply there when the service has no PublicURL,
	// so that a server listening on 0.0.0.0 still hands out an address that works.
	BaseURL string
}

// Registration is a started registration: show URI as a QR code (and in the
// "mfaDeviceRegistration" hidden value), and poll RegistrationResult with MessageID.
type Registration struct {
	// MessageID identifies the registration ("REGISTER:<uuid><ms>").
	MessageID string
	// URI is the pushauth:// registration URI.
	URI string
	// Expires is when the registration stops being accepted.
	Expires time.Time
}

// RegistrationStatus is where a registration stands.
type RegistrationStatus string

// Registration statuses (AM's UNKNOWN, SUCCESS, DENIED and null).
const (
	// RegistrationPending: the device has not answered yet; poll again.
	RegistrationPending RegistrationStatus = "pending"
	// RegistrationRegistered: the device answered and is saved in the registry.
	RegistrationRegistered RegistrationStatus = "registered"
	// RegistrationDenied: the device declined the registration.
	RegistrationDenied RegistrationStatus = "denied"
	// RegistrationExpired: the registration timed out, or is unknown to this flow.
	RegistrationExpired RegistrationStatus = "expired"
)

// RegistrationState is the answer to RegistrationResult.
type RegistrationState struct {
	// Status says where the registration stands.
	Status RegistrationStatus
	// DeviceID and DeviceName describe the registered device (RegistrationRegistered only).
	DeviceID, DeviceName string
}

func registrationSecretContext(id string) []byte {
	return []byte("arbor push registration secret\x00" + id)
}

// BeginRegistration starts a device registration: it draws a fresh 32-byte shared
// secret and challenge, stores the pending registration (secret sealed) under a new
// message id bound to req.FlowID, and returns the pushauth:// URI to show.
func (s *Service) BeginRegistration(ctx context.Context, req RegistrationRequest) (*Registration, error) {
	if !strings.HasPrefix(req.Realm, "/") || strings.TrimSpace(req.Username) == "" || req.FlowID == "" {
		return nil, fmt.Errorf("%w: registration needs a realm, a username and a flow id", ErrInvalidRequest)
	}
	base := s.cfg.PublicURL
	if base == "" {
		base = strings.TrimRight(req.BaseURL, "/")
	}
	if base == "" {
		return nil, fmt.Errorf("%w: push service has no public URL for devices to reply to", ErrInvalidRequest)
	}
	if req.TTL < 0 {
		return nil, fmt.Errorf("%w: negative registration ttl", ErrInvalidRequest)
	}
	ttl := req.TTL
	if ttl == 0 {
		ttl = s.cfg.RegistrationTimeout
	}
	issuer := req.Issuer
	if issuer == "" {
		issuer = DefaultIssuer
	}
	account := req.AccountName
	if account == "" {
		account = req.Username
	}
	color := strings.TrimPrefix(req.Color, "#")
	if color == "" {
		color = DefaultColor
	}
	if !isHex(color) || (len(color) != 3 && len(color) != 6) {
		return nil, fmt.Errorf("%w: colour %q is not hex", ErrInvalidRequest, req.Color)
	}

	now := s.now()
	id := newMessageID(RegisterPrefix, now)
	secret, challenge := randomBytes(32), randomBytes(32)
	rec := &message{
		Kind:         kindRegister,
		Realm:        req.Realm,
		User:         req.Username,
		FlowID:       req.FlowID,
		State:        statePending,
		Created:      now,
		Expires:      now.Add(ttl),
		Challenge:    base64.StdEncoding.EncodeToString(challenge),
		Issuer:       issuer,
		SecretSealed: s.sealer.Seal(secret, registrationSecretContext(id)),
	}
	if err := s.casMessage(ctx, id, rec, 0); err != nil {
		return nil, fmt.Errorf("push: begin registration: %w", err)
	}
	uri := &RegistrationURI{
		Issuer:             issuer,
		AccountName:        account,
		MessageID:          id,
		Secret:             secret,
		Challenge:          challenge,
		RegisterURL:        messageURL(base, req.Realm, "register"),
		AuthenticateURL:    messageURL(base, req.Realm, "authenticate"),
		Username:           req.Username,
		LoadBalancerCookie: s.cfg.LoadBalancerCookie,
		Color:              color,
		ImageURL:           req.ImageURL,
	}
	s.log.InfoContext(ctx, "push: registration started", "message_id", id, "flow_id", req.FlowID, "realm", req.Realm)
	return &Registration{MessageID: id, URI: uri.String(), Expires: rec.Expires}, nil
}

// RegistrationResult reports how the registration messageID started by flowID stands.
// An unknown id, one that expired, or one started by another flow all give
// RegistrationExpired, so a flow learns nothing about registrations that are not its
// own. Only store failures are errors.
func (s *Service) RegistrationResult(ctx context.Context, messageID, flowID string) (RegistrationState, error) {
	expired := RegistrationState{Status: RegistrationExpired}
	if !strings.HasPrefix(messageID, RegisterPrefix) {
		return expired, nil
	}
	m, _, err := s.getMessage(ctx, messageID)
	if errors.Is(err, store.ErrNotFound) {
		return expired, nil
	}
	if err != nil {
		return expired, err
	}
	if m.Kind != kindRegister || flowID == "" || !sameString(m.FlowID, flowID) {
		return expired, nil
	}
	switch m.State {
	case stateRegistered:
		return RegistrationState{Status: RegistrationRegistered, DeviceID: m.DeviceID, DeviceName: m.DeviceName}, nil
	case stateDenied:
		return RegistrationState{Status: RegistrationDenied}, nil
	case statePending:
		if s.now().Before(m.Expires) {
			return RegistrationState{Status: RegistrationPending}, nil
		}
	}
	return expired, nil
}
