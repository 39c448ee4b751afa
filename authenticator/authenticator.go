// Package authenticator is Arbor's reference authenticator: it does what the ForgeRock
// Authenticator app does on a phone, so that push MFA and one-time codes can be tried,
// tested and even used without one. It registers from a pushauth:// URI, keeps its
// accounts (mechanism uid, shared secret, server URLs) in a local JSON file, receives
// pushes by polling the server (or from a webhook through Handle), verifies them with
// the shared secret, and approves or denies them with the signed replies AM's protocol
// defines. From an otpauth:// URI it makes TOTP or HOTP codes (Code).
//
// The `arbor device` command is RunCLI over this package. The account file holds the
// shared secrets in clear, as a phone's keystore would hold them for the app: it is
// written with mode 0600 in a 0700 directory.
package authenticator

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/arbor-auth/arbor/push"
)

// Errors callers branch on.
var (
	// ErrNoPending reports that no push is waiting for an answer.
	ErrNoPending = errors.New("authenticator: no pending push")
	// ErrUnknownMessage reports a message id that is not (or no longer) pending.
	ErrUnknownMessage = errors.New("authenticator: no pending push with that id")
	// ErrExpired reports a push whose time to live has passed.
	ErrExpired = errors.New("authenticator: push has expired")
	// ErrNumberRequired reports an approval of a number-matching push without a number.
	ErrNumberRequired = errors.New("authenticator: this push asks you to pick a number")
	// ErrWrongNumber reports a number that is not one of those the push offers.
	ErrWrongNumber = errors.New("authenticator: that number is not one of those offered")
	// ErrUnknownAccount reports a push for a device this authenticator does not hold.
	ErrUnknownAccount = errors.New("authenticator: push is for an unknown account")
	// ErrBadPush reports a push that does not verify with its account's secret or lacks
	// required claims; a real app silently drops these.
	ErrBadPush = errors.New("authenticator: push does not verify")
	// ErrNumberRejected reports an approval the server turned into a denial: the number
	// picked is not the one the login page shows, so that login fails.
	ErrNumberRejected = errors.New("authenticator: the server denied the login: that is not the number shown on the login page")
	// ErrDeviceRemoved reports an account whose device the server no longer knows (it
	// was removed there); Forget drops the account here.
	ErrDeviceRemoved = errors.New("authenticator: the server no longer knows this device (removed there)")
	// ErrServer is wrapped by *ServerError.
	ErrServer = errors.New("authenticator: server refused the request")
)

// ServerError is a non-200 answer from the server, with its AM-style message.
type ServerError struct {
	// Status is the HTTP status code.
	Status int
	// Message is the "message" of the server's JSON error, or the raw body's start.
	Message string
}

// Error implements error.
func (e *ServerError) Error() string {
	return fmt.Sprintf("authenticator: server answered %d: %s", e.Status, e.Message)
}

// Unwrap makes errors.Is(err, ErrServer) hold.
func (e *ServerError) Unwrap() error { return ErrServer }

// NumberError reports a number-matching problem together with the numbers offered, so
// the user can be told which to pick from.
type NumberError struct {
	// MessageID is the push concerned.
	MessageID string
	// Offered are the numbers the push shows.
	Offered []int
	// Err is ErrNumberRequired or ErrWrongNumber.
	Err error
}

// Error implements error.
func (e *NumberError) Error() string {
	return fmt.Sprintf("%v: choose one of %s", e.Err, joinInts(e.Offered, ", "))
}

// Unwrap returns Err.
func (e *NumberError) Unwrap() error { return e.Err }

func joinInts(ns []int, sep string) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, sep)
}

// Account is one registered push mechanism.
type Account struct {
	// ID is the mechanism uid this authenticator generated; the server names the device
	// by it.
	ID string `json:"id"`
	// Issuer and AccountName are the labels from the registration URI.
	Issuer      string `json:"issuer"`
	AccountName string `json:"account_name"`
	// Username is the user the account was registered for ("uid").
	Username string `json:"username,omitempty"`
	// Secret is the 32-byte shared secret.
	Secret []byte `json:"secret"`
	// RegisterURL and AuthenticateURL are the server endpoints from the URI.
	RegisterURL     string `json:"register_url"`
	AuthenticateURL string `json:"authenticate_url"`
	// LoadBalancerCookie is sent back as a Cookie, as the apps do.
	LoadBalancerCookie string `json:"lb_cookie,omitempty"`
	// Name, Platform, Communication and Token are what was registered.
	Name          string `json:"name"`
	Platform      string `json:"platform"`
	Communication string `json:"communication"`
	Token         string `json:"token,omitempty"`
	// Color and ImageURL are the display hints from the URI.
	Color    string `json:"color,omitempty"`
	ImageURL string `json:"image_url,omitempty"`
	// Created is when the account was registered.
	Created time.Time `json:"created"`
}

// Notification is one verified push waiting for an answer.
type Notification struct {
	// AccountID is the account (mechanism uid) the push is for.
	AccountID string
	// Issuer and Username say whose login it is.
	Issuer, Username string
	// MessageID is the push message id.
	MessageID string
	// Message is the text to show.
	Message string
	// Type is the push type: "default" (tap), "challenge" or "biometric".
	Type string
	// Numbers are the numbers to choose from (challenge pushes only).
	Numbers []int
	// ContextInfo is the login's context (remoteIp, userAgent, location), if shared.
	ContextInfo map[string]any
	// Payload is the custom payload, if any.
	Payload map[string]any
	// Issued and Expires bound the push's life.
	Issued, Expires time.Time
	// TransactionID is the transaction a transaction push is bound to (LinOTP's
	// transactionid), empty for a login push. Message is then the transaction's text,
	// shown verbatim; an approval counts only for this transaction and this text.
	TransactionID string

	challenge []byte
}

// fileFormat is the account file.
type fileFormat struct {
	Version  int           `json:"version"`
	Accounts []Account     `json:"accounts"`
	Codes    []CodeAccount `json:"codes,omitempty"`
}

// Authenticator holds accounts and the pushes seen but not yet answered. It is safe for
// concurrent use.
type Authenticator struct {
	// Client makes the HTTP requests; set it before use to change timeouts or TLS.
	Client *http.Client
	// Now is the clock; tests set it.
	Now func() time.Time

	path string

	mu       sync.Mutex
	accounts []Account
	codes    []CodeAccount
	pending  map[string]*Notification
}

// DefaultPlatform is the deviceType the reference authenticator reports.
const DefaultPlatform = "arbor-cli"

// Open loads the account file at path, or starts empty if it does not exist yet (it is
// created on the first registration).
func Open(path string) (*Authenticator, error) {
	if path == "" {
		return nil, errors.New("authenticator: no account file path")
	}
	a := &Authenticator{
		Client:  &http.Client{Timeout: 15 * time.Second},
		Now:     time.Now,
		path:    path,
		pending: map[string]*Notification{},
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return a, nil
	}
	if err != nil {
		return nil, fmt.Errorf("authenticator: read %s: %w", path, err)
	}
	var f fileFormat
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("authenticator: %s is not an account file: %w", path, err)
	}
	a.accounts, a.codes = f.Accounts, f.Codes
	return a, nil
}

// Path returns the account file's path.
func (a *Authenticator) Path() string { return a.path }

// save writes the accounts atomically (temp file and rename) with mode 0600. The caller
// holds a.mu.
func (a *Authenticator) save() error {
	dir := filepath.Dir(a.path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("authenticator: create %s: %w", dir, err)
	}
	b, err := json.MarshalIndent(fileFormat{Version: 1, Accounts: a.accounts, Codes: a.codes}, "", "  ")
	if err != nil {
		return fmt.Errorf("authenticator: encode accounts: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".devices-*.json")
	if err != nil {
		return fmt.Errorf("authenticator: write %s: %w", a.path, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("authenticator: write %s: %w", a.path, err)
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("authenticator: write %s: %w", a.path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("authenticator: write %s: %w", a.path, err)
	}
	if err := os.Rename(tmp.Name(), a.path); err != nil {
		return fmt.Errorf("authenticator: write %s: %w", a.path, err)
	}
	return nil
}

// Forget removes the account of device id from this authenticator (and its file), for
// a device removed on the server. It does not tell the server anything.
func (a *Authenticator) Forget(id string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	i := slices.IndexFunc(a.accounts, func(acc Account) bool { return acc.ID == id })
	if i < 0 {
		return fmt.Errorf("%w: no account with device id %q", ErrUnknownAccount, id)
	}
	kept := slices.Delete(slices.Clone(a.accounts), i, i+1)
	old := a.accounts
	a.accounts = kept
	if err := a.save(); err != nil {
		a.accounts = old
		return err
	}
	for mid, n := range a.pending {
		if n.AccountID == id {
			delete(a.pending, mid)
		}
	}
	return nil
}

// Accounts returns the registered accounts, oldest first.
func (a *Authenticator) Accounts() []Account {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.accounts)
}

func (a *Authenticator) account(id string) (Account, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, acc := range a.accounts {
		if acc.ID == id {
			return acc, true
		}
	}
	return Account{}, false
}

// RegisterOptions describe the device being registered.
type RegisterOptions struct {
	// Name is the device name shown to the user; empty means the host name.
	Name string
	// Communication is how the server should reach the device: "poll" (default),
	// "webhook", "fcm", "apns" or "log".
	Communication string
	// Token is the push token (FCM/APNs) or webhook id, if any.
	Token string
	// Platform is the deviceType reported; empty means DefaultPlatform.
	Platform string
}

// Register registers this authenticator from a pushauth:// URI: it generates a
// mechanism uid, answers the challenge with HMAC-SHA256 under the shared secret, POSTs
// the signed registration to the URI's register URL and, only once the server has
// answered 200, saves the account.
func (a *Authenticator) Register(ctx context.Context, uri string, opts RegisterOptions) (*Account, error) {
	u, err := push.ParseURI(uri)
	if err != nil {
		return nil, err
	}
	if opts.Communication == "" {
		opts.Communication = "poll"
	}
	if opts.Platform == "" {
		opts.Platform = DefaultPlatform
	}
	if opts.Name == "" {
		opts.Name, _ = os.Hostname()
		if opts.Name == "" {
			opts.Name = DefaultPlatform
		}
	}
	acc := Account{
		ID:                 uuid.NewString(),
		Issuer:             u.Issuer,
		AccountName:        u.AccountName,
		Username:           u.Username,
		Secret:             u.Secret,
		RegisterURL:        u.RegisterURL,
		AuthenticateURL:    u.AuthenticateURL,
		LoadBalancerCookie: u.LoadBalancerCookie,
		Name:               opts.Name,
		Platform:           opts.Platform,
		Communication:      opts.Communication,
		Token:              opts.Token,
		Color:              u.Color,
		ImageURL:           u.ImageURL,
		Created:            a.Now(),
	}
	tok, err := sign(acc.Secret, jwt.MapClaims{
		"response":          respond(u.Secret, u.Challenge),
		"mechanismUid":      acc.ID,
		"deviceId":          acc.Token,
		"deviceName":        acc.Name,
		"deviceType":        acc.Platform,
		"communicationType": acc.Communication,
	})
	if err != nil {
		return nil, err
	}
	if _, err := a.post(ctx, acc, acc.RegisterURL, map[string]string{"messageId": u.MessageID, "jwt": tok}); err != nil {
		return nil, fmt.Errorf("authenticator: register: %w", err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.accounts = append(a.accounts, acc)
	if err := a.save(); err != nil {
		a.accounts = a.accounts[:len(a.accounts)-1]
		return nil, err
	}
	return &acc, nil
}

// respond is the challenge answer of AM's protocol.
func respond(secret, challenge []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(challenge)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func sign(secret []byte, claims jwt.MapClaims) (string, error) {
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
	if err != nil {
		return "", fmt.Errorf("authenticator: sign: %w", err)
	}
	return s, nil
}

// post sends body as JSON with the headers the ForgeRock apps send and returns the
// response body of a 200, or a *ServerError.
func (a *Authenticator) post(ctx context.Context, acc Account, target string, body any) ([]byte, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("encode request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Accept-API-Version", "resource=1.0, protocol=1.0")
	if acc.LoadBalancerCookie != "" {
		req.Header.Set("Cookie", acc.LoadBalancerCookie)
	}
	resp, err := a.Client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("reach %s: %w", redact(target), err)
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("read answer of %s: %w", redact(target), err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Message string `json:"message"`
		}
		msg := strings.TrimSpace(string(rb))
		if json.Unmarshal(rb, &e) == nil && e.Message != "" {
			msg = e.Message
		}
		if len(msg) > 200 {
			msg = msg[:200]
		}
		return nil, &ServerError{Status: resp.StatusCode, Message: msg}
	}
	return rb, nil
}

// redact drops the query from a URL for error messages.
func redact(s string) string {
	if u, err := url.Parse(s); err == nil {
		u.RawQuery = ""
		return u.String()
	}
	return s
}

// pollURL turns the authenticate URL into the poll URL: same endpoint, _action=poll.
func pollURL(authenticate string) (string, error) {
	u, err := url.Parse(authenticate)
	if err != nil {
		return "", fmt.Errorf("authenticator: bad authenticate URL: %w", err)
	}
	q := u.Query()
	q.Set("_action", "poll")
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// pollTokenLife is how long a poll token is valid; the server accepts at most five
// minutes.
const pollTokenLife = time.Minute

// Pending polls every account's server for its pending pushes, verifies each with the
// account's secret (dropping those that do not verify or have expired), and returns
// all pushes waiting for an answer, oldest first, including any received through
// Handle. If some servers could not be polled, the pushes from the others are still
// returned, together with an error naming the failures.
func (a *Authenticator) Pending(ctx context.Context) ([]Notification, error) {
	var errs []error
	for _, acc := range a.Accounts() {
		if err := a.poll(ctx, acc); err != nil {
			errs = append(errs, fmt.Errorf("%s:%s: %w", acc.Issuer, acc.AccountName, err))
		}
	}
	return a.cached(), errors.Join(errs...)
}

func (a *Authenticator) poll(ctx context.Context, acc Account) error {
	target, err := pollURL(acc.AuthenticateURL)
	if err != nil {
		return err
	}
	now := a.Now()
	// A fresh jti per poll: the server accepts each poll token once.
	var jti [16]byte
	rand.Read(jti[:])
	tok, err := sign(acc.Secret, jwt.MapClaims{"u": acc.ID, "jti": base64.RawURLEncoding.EncodeToString(jti[:]),
		"iat": now.Unix(), "exp": now.Add(pollTokenLife).Unix()})
	if err != nil {
		return err
	}
	b, err := a.post(ctx, acc, target, map[string]string{"mechanismUid": acc.ID, "jwt": tok})
	var se *ServerError
	if errors.As(err, &se) && se.Status == http.StatusBadRequest && se.Message == push.ReasonUnknownDevice {
		return fmt.Errorf("device %s: %w", acc.ID, ErrDeviceRemoved)
	}
	if err != nil {
		return err
	}
	var resp push.PollResponse
	if err := json.Unmarshal(b, &resp); err != nil {
		return fmt.Errorf("authenticator: poll answer is not JSON: %w", err)
	}
	fresh := map[string]*Notification{}
	for _, m := range resp.Messages {
		n, err := a.verify(acc, m.MessageID, m.Message)
		if err != nil {
			continue // as the apps do: a push that does not verify is dropped silently
		}
		fresh[n.MessageID] = n
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	// The server's answer is the truth for this account: pushes it no longer lists
	// were answered elsewhere or expired.
	for id, n := range a.pending {
		if n.AccountID == acc.ID {
			delete(a.pending, id)
		}
	}
	maps.Copy(a.pending, fresh)
	return nil
}

// Handle accepts a push delivered out of band (a webhook, or an FCM/APNs payload's
// messageId and message fields), verifies it and keeps it as pending. The message id
// travels next to the JWT, as in AM's envelopes, because the JWT does not carry it.
func (a *Authenticator) Handle(messageID, token string) (*Notification, error) {
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(token, claims); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadPush, err)
	}
	u, _ := claims["u"].(string)
	acc, ok := a.account(u)
	if !ok {
		return nil, ErrUnknownAccount
	}
	n, err := a.verify(acc, messageID, token)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	a.pending[n.MessageID] = n
	a.mu.Unlock()
	c := *n
	return &c, nil
}

// verify checks a push JWT against acc and turns it into a Notification.
func (a *Authenticator) verify(acc Account, messageID, token string) (*Notification, error) {
	if !strings.HasPrefix(messageID, push.AuthenticatePrefix) {
		return nil, fmt.Errorf("%w: message id %q", ErrBadPush, messageID)
	}
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(token, claims, func(*jwt.Token) (any, error) { return acc.Secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadPush, err)
	}
	str := func(k string) string { v, _ := claims[k].(string); return v }
	if str("u") != acc.ID || str("c") == "" {
		return nil, fmt.Errorf("%w: missing u or c, or for another account", ErrBadPush)
	}
	challenge, err := base64.StdEncoding.DecodeString(str("c"))
	if err != nil {
		return nil, fmt.Errorf("%w: challenge is not base64", ErrBadPush)
	}
	issuedMs, ok1 := number(claims["i"])
	ttl, ok2 := number(claims["t"])
	if !ok1 {
		issuedMs = a.Now().UnixMilli()
	}
	if !ok2 {
		ttl = 120 // the Android app's default
	}
	n := &Notification{
		AccountID: acc.ID,
		Issuer:    acc.Issuer,
		Username:  str("d"),
		MessageID: messageID,
		Message:   str("m"),
		Type:      str("k"),
		Issued:    time.UnixMilli(issuedMs),
		challenge: challenge,
	}
	if n.Username == "" {
		n.Username = acc.Username
	}
	if n.Type == "" {
		n.Type = "default"
	}
	n.Expires = n.Issued.Add(time.Duration(ttl) * time.Second)
	if !a.Now().Before(n.Expires) {
		return nil, ErrExpired
	}
	if n.Type == "challenge" {
		for _, f := range strings.Split(str("n"), ",") {
			v, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil {
				return nil, fmt.Errorf("%w: numbers claim %q", ErrBadPush, str("n"))
			}
			n.Numbers = append(n.Numbers, v)
		}
	}
	if tx := str("tx"); tx != "" {
		// The text shown must be the text the server bound: a hash that does not
		// match means the push was altered or is not what it claims.
		if th := str("th"); th == "" || th != push.TransactionHash(tx, n.Message) {
			return nil, fmt.Errorf("%w: transaction text does not match its hash", ErrBadPush)
		}
		n.TransactionID = tx
	}
	if x := str("x"); x != "" {
		_ = json.Unmarshal([]byte(x), &n.ContextInfo) // display only; ignore if malformed
	}
	if p := str("p"); p != "" {
		_ = json.Unmarshal([]byte(p), &n.Payload)
	}
	return n, nil
}

// number reads a claim that AM sends as a string of digits; a JSON number works too.
func number(v any) (int64, bool) {
	switch x := v.(type) {
	case string:
		n, err := strconv.ParseInt(x, 10, 64)
		return n, err == nil
	case float64:
		return int64(x), true
	}
	return 0, false
}

// cached returns the unexpired pending pushes, oldest first, dropping expired ones.
func (a *Authenticator) cached() []Notification {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.Now()
	out := make([]Notification, 0, len(a.pending))
	for id, n := range a.pending {
		if !now.Before(n.Expires) {
			delete(a.pending, id)
			continue
		}
		out = append(out, *n)
	}
	slices.SortFunc(out, func(x, y Notification) int {
		if c := x.Issued.Compare(y.Issued); c != 0 {
			return c
		}
		return strings.Compare(x.MessageID, y.MessageID)
	})
	return out
}

// find returns the pending push messageID, polling once if it is not known yet.
func (a *Authenticator) find(ctx context.Context, messageID string) (*Notification, error) {
	lookup := func() *Notification {
		a.mu.Lock()
		defer a.mu.Unlock()
		return a.pending[messageID]
	}
	n := lookup()
	if n == nil {
		_, perr := a.Pending(ctx)
		if n = lookup(); n == nil {
			if perr != nil {
				return nil, fmt.Errorf("%w: %s (%v)", ErrUnknownMessage, messageID, perr)
			}
			return nil, fmt.Errorf("%w: %s", ErrUnknownMessage, messageID)
		}
	}
	if !a.Now().Before(n.Expires) {
		return nil, fmt.Errorf("%w: %s", ErrExpired, messageID)
	}
	return n, nil
}

// Approve accepts the push messageID. For a number-matching push, number must be one of
// the numbers offered (a *NumberError otherwise, listing them); for other pushes it is
// ignored. Whether the number is the right one only the server knows: a wrong one
// makes the login fail.
func (a *Authenticator) Approve(ctx context.Context, messageID string, number int) error {
	n, err := a.find(ctx, messageID)
	if err != nil {
		return err
	}
	claims := jwt.MapClaims{}
	if n.Type == "challenge" {
		if number == 0 {
			return &NumberError{MessageID: messageID, Offered: n.Numbers, Err: ErrNumberRequired}
		}
		if !slices.Contains(n.Numbers, number) {
			return &NumberError{MessageID: messageID, Offered: n.Numbers, Err: ErrWrongNumber}
		}
		// The SDKs send the number as a string.
		claims["challengeResponse"] = strconv.Itoa(number)
	}
	return a.reply(ctx, n, claims)
}

// Deny rejects the push messageID.
func (a *Authenticator) Deny(ctx context.Context, messageID string) error {
	n, err := a.find(ctx, messageID)
	if err != nil {
		return err
	}
	return a.reply(ctx, n, jwt.MapClaims{"deny": true})
}

// reply signs claims plus the challenge response and POSTs them to the account's
// authenticate URL; the push is forgotten once the server has taken it.
func (a *Authenticator) reply(ctx context.Context, n *Notification, claims jwt.MapClaims) error {
	acc, ok := a.account(n.AccountID)
	if !ok {
		return ErrUnknownAccount
	}
	claims["response"] = respond(acc.Secret, n.challenge)
	if n.TransactionID != "" {
		// The reply names what the user saw, so the server can refuse an approval that
		// was meant for another transaction or for other text.
		claims["tx"] = n.TransactionID
		claims["th"] = push.TransactionHash(n.TransactionID, n.Message)
	}
	tok, err := sign(acc.Secret, claims)
	if err != nil {
		return err
	}
	body, err := a.post(ctx, acc, acc.AuthenticateURL, map[string]string{"messageId": n.MessageID, "jwt": tok})
	a.mu.Lock()
	defer a.mu.Unlock()
	var se *ServerError
	if err == nil || (errors.As(err, &se) && se.Status < 500) {
		// Answered, or refused for good (already answered, expired): either way it is
		// no longer something to act on.
		delete(a.pending, n.MessageID)
	}
	if err != nil {
		return fmt.Errorf("authenticator: answer %s: %w", n.MessageID, err)
	}
	// Arbor says what the answer did; a server that does not (AM) is taken at its 200.
	var ans push.AnswerResponse
	if json.Unmarshal(body, &ans) == nil && ans.Result == push.AnswerWrongNumber {
		return &NumberError{MessageID: n.MessageID, Offered: n.Numbers, Err: ErrNumberRejected}
	}
	return nil
}

// latest returns the newest pending push.
func (a *Authenticator) latest(ctx context.Context) (*Notification, error) {
	list, err := a.Pending(ctx)
	if len(list) == 0 {
		if err != nil {
			return nil, fmt.Errorf("%w (%v)", ErrNoPending, err)
		}
		return nil, ErrNoPending
	}
	n := list[len(list)-1]
	return &n, nil
}

// ApproveLatest approves the newest pending push (see Approve for number) and returns it.
func (a *Authenticator) ApproveLatest(ctx context.Context, number int) (*Notification, error) {
	n, err := a.latest(ctx)
	if err != nil {
		return nil, err
	}
	return n, a.Approve(ctx, n.MessageID, number)
}

// ErrUnknownTransaction reports that no pending push is bound to the transaction named.
var ErrUnknownTransaction = errors.New("no pending push for this transaction")

// ForTransaction returns the pending push bound to transaction id, polling once if it
// is not known yet; it returns an error wrapping ErrUnknownTransaction when none is.
func (a *Authenticator) ForTransaction(ctx context.Context, id string) (*Notification, error) {
	list, err := a.Pending(ctx)
	for _, n := range list {
		if n.TransactionID == id {
			return &n, nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s (%v)", ErrUnknownTransaction, id, err)
	}
	return nil, fmt.Errorf("%w: %s", ErrUnknownTransaction, id)
}

// DenyLatest denies the newest pending push and returns it.
func (a *Authenticator) DenyLatest(ctx context.Context) (*Notification, error) {
	n, err := a.latest(ctx)
	if err != nil {
		return nil, err
	}
	return n, a.Deny(ctx, n.MessageID)
}
