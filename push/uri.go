package push

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// URIScheme is the scheme of push registration URIs, as the ForgeRock apps expect.
const URIScheme = "pushauth"

// Message id prefixes, as in AM: the prefix says which handler a reply is for.
const (
	RegisterPrefix     = "REGISTER:"
	AuthenticatePrefix = "AUTHENTICATE:"
)

// ErrMalformedURI is wrapped by every error ParseURI returns, next to one of the
// specific ErrURI* errors below, so a caller can branch on either.
var ErrMalformedURI = errors.New("push: malformed registration URI")

// Specific ParseURI failures.
var (
	// ErrURIScheme reports a URI that is not pushauth://push/...
	ErrURIScheme = errors.New("not a pushauth://push/ URI")
	// ErrURIMissing reports a required parameter (m, r, a, s or c) that is absent or empty.
	ErrURIMissing = errors.New("required parameter missing")
	// ErrURIEncoding reports a parameter that is not valid base64 (or the label not
	// valid percent-encoding).
	ErrURIEncoding = errors.New("parameter is not valid base64")
	// ErrURISecret reports a shared secret that is not 32 bytes.
	ErrURISecret = errors.New("shared secret must be 32 bytes")
	// ErrURIChallenge reports a registration challenge that is not 32 bytes.
	ErrURIChallenge = errors.New("challenge must be 32 bytes")
	// ErrURIMessageID reports an m parameter that is not a REGISTER: message id.
	ErrURIMessageID = errors.New("message id is not a REGISTER: id")
	// ErrURIEndpoint reports an r or a parameter that is not an absolute http(s) URL.
	ErrURIEndpoint = errors.New("endpoint is not an absolute http(s) URL")
	// ErrURIColor reports a b parameter that is not a hex colour.
	ErrURIColor = errors.New("background colour is not hex")
)

// URIError is the error ParseURI returns: which part of the URI is wrong and how.
type URIError struct {
	// Param is the query parameter at fault, or "scheme" or "label".
	Param string
	// Err is one of the ErrURI* errors.
	Err error
}

// Error implements error.
func (e *URIError) Error() string {
	return fmt.Sprintf("push: malformed registration URI: %s: %v", e.Param, e.Err)
}

// Unwrap lets errors.Is match both ErrMalformedURI and the specific error.
func (e *URIError) Unwrap() []error { return []error{ErrMalformedURI, e.Err} }

// RegistrationURI is the content of a pushauth:// registration URI (AM's
// MultiFactorRegistrationUtilities.createUri with PushRegistrationHelper's parameters).
type RegistrationURI struct {
	// Issuer names the service in the app ("issuer", and the label before ':').
	Issuer string
	// AccountName is the label after ':' (the account name shown in the app).
	AccountName string
	// MessageID is the registration message id ("m"), "REGISTER:<uuid><ms>".
	MessageID string
	// Secret is the 32-byte shared secret ("s").
	Secret []byte
	// Challenge is the 32-byte registration challenge ("c").
	Challenge []byte
	// RegisterURL is where the device POSTs its registration ("r").
	RegisterURL string
	// AuthenticateURL is where the device POSTs push replies ("a").
	AuthenticateURL string
	// Username is the user the device is registered for ("uid").
	Username string
	// LoadBalancerCookie is AM's load-balancer cookie ("l"); the apps send it back.
	LoadBalancerCookie string
	// ProfileID is AM's device profile id ("pid"); Arbor does not use it.
	ProfileID string
	// Color is the background colour in hex without '#' ("b").
	Color string
	// ImageURL is the logo URL ("image"), or empty.
	ImageURL string
}

var b64url = base64.RawURLEncoding

// String renders u as AM does: parameters in AM's order, values base64url without
// padding and not further URL-encoded (base64url needs no escaping), the label
// percent-escaped with ':' escaped too so that the app's split on the first ':' finds
// the issuer.
func (u *RegistrationURI) String() string {
	var b strings.Builder
	b.WriteString(URIScheme + "://push/")
	b.WriteString(escapeLabel(u.Issuer))
	b.WriteByte(':')
	b.WriteString(escapeLabel(u.AccountName))
	sep := byte('?')
	add := func(k, v string) {
		b.WriteByte(sep)
		sep = '&'
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(v)
	}
	add("l", b64url.EncodeToString([]byte(u.LoadBalancerCookie)))
	add("issuer", b64url.EncodeToString([]byte(u.Issuer)))
	add("m", u.MessageID)
	add("s", b64url.EncodeToString(u.Secret))
	add("c", b64url.EncodeToString(u.Challenge))
	add("r", b64url.EncodeToString([]byte(u.RegisterURL)))
	add("a", b64url.EncodeToString([]byte(u.AuthenticateURL)))
	if u.Username != "" {
		add("uid", b64url.EncodeToString([]byte(u.Username)))
	}
	if u.ProfileID != "" {
		add("pid", b64url.EncodeToString([]byte(u.ProfileID)))
	}
	if u.Color != "" {
		add("b", u.Color)
	}
	if u.ImageURL != "" {
		add("image", b64url.EncodeToString([]byte(u.ImageURL)))
	}
	return b.String()
}

func escapeLabel(s string) string {
	return strings.ReplaceAll(url.PathEscape(s), ":", "%3A")
}

// decodeB64 accepts every base64 flavour seen in the wild: the apps themselves accept
// standard and URL alphabets, padded or not.
func decodeB64(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.RawURLEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.StdEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("invalid base64")
}

// ParseURI parses a pushauth:// registration URI the way the ForgeRock apps do and
// checks everything a device needs to register. Every failure is a *URIError wrapping
// ErrMalformedURI and one specific ErrURI* error.
func ParseURI(raw string) (*RegistrationURI, error) {
	bad := func(param string, err error) error { return &URIError{Param: param, Err: err} }
	raw = strings.TrimSpace(raw)
	pu, err := url.Parse(raw)
	if err != nil {
		return nil, bad("scheme", ErrURIScheme)
	}
	if !strings.EqualFold(pu.Scheme, URIScheme) || pu.Host != "push" {
		return nil, bad("scheme", ErrURIScheme)
	}
	q, err := parseQuery(pu.RawQuery)
	if err != nil {
		return nil, bad("query", ErrURIEncoding)
	}
	u := &RegistrationURI{}

	// The label is issuer:account, split on the first ':' as the apps do.
	label := strings.TrimPrefix(pu.EscapedPath(), "/")
	iss, acct, found := strings.Cut(label, ":")
	if !found {
		iss, acct = "", label
	}
	if u.Issuer, err = url.PathUnescape(iss); err != nil {
		return nil, bad("label", ErrURIEncoding)
	}
	if u.AccountName, err = url.PathUnescape(acct); err != nil {
		return nil, bad("label", ErrURIEncoding)
	}

	for _, p := range []string{"m", "s", "c", "r", "a"} {
		if q.Get(p) == "" {
			return nil, bad(p, ErrURIMissing)
		}
	}
	u.MessageID = q.Get("m")
	if !strings.HasPrefix(u.MessageID, RegisterPrefix) || len(u.MessageID) == len(RegisterPrefix) {
		return nil, bad("m", ErrURIMessageID)
	}
	if u.Secret, err = decodeB64(q.Get("s")); err != nil {
		return nil, bad("s", ErrURIEncoding)
	}
	if len(u.Secret) != 32 {
		return nil, bad("s", ErrURISecret)
	}
	if u.Challenge, err = decodeB64(q.Get("c")); err != nil {
		return nil, bad("c", ErrURIEncoding)
	}
	if len(u.Challenge) != 32 {
		return nil, bad("c", ErrURIChallenge)
	}
	text := func(p string, dst *string) error {
		v := q.Get(p)
		if v == "" {
			return nil
		}
		b, err := decodeB64(v)
		if err != nil {
			return bad(p, ErrURIEncoding)
		}
		*dst = string(b)
		return nil
	}
	for _, f := range []struct {
		p   string
		dst *string
	}{
		{"r", &u.RegisterURL}, {"a", &u.AuthenticateURL}, {"issuer", &u.Issuer},
		{"uid", &u.Username}, {"l", &u.LoadBalancerCookie}, {"pid", &u.ProfileID},
		{"image", &u.ImageURL},
	} {
		if err := text(f.p, f.dst); err != nil {
			return nil, err
		}
	}
	for _, ep := range []struct{ p, v string }{{"r", u.RegisterURL}, {"a", u.AuthenticateURL}} {
		e, err := url.Parse(ep.v)
		if err != nil || (e.Scheme != "http" && e.Scheme != "https") || e.Host == "" {
			return nil, bad(ep.p, ErrURIEndpoint)
		}
	}
	if c := strings.TrimPrefix(q.Get("b"), "#"); c != "" {
		if !isHex(c) || (len(c) != 3 && len(c) != 6) {
			return nil, bad("b", ErrURIColor)
		}
		u.Color = c
	}
	return u, nil
}

// parseQuery splits a query like url.ParseQuery but keeps '+' as is: AM does not
// URL-encode the values, so a '+' in standard base64 is a '+', not a space.
func parseQuery(raw string) (url.Values, error) {
	v := url.Values{}
	for _, part := range strings.Split(raw, "&") {
		if part == "" {
			continue
		}
		k, val, _ := strings.Cut(part, "=")
		k, err := url.PathUnescape(k)
		if err != nil {
			return nil, err
		}
		if val, err = url.PathUnescape(val); err != nil {
			return nil, err
		}
		v.Add(k, val)
	}
	return v, nil
}

func isHex(s string) bool {
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}
