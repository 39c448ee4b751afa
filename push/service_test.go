package push_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/authenticator"
	"github.com/arbor-auth/arbor/authenticator/authtest"
	"github.com/arbor-auth/arbor/devices"
	"github.com/arbor-auth/arbor/push"
	"github.com/arbor-auth/arbor/push/delivery"
	"github.com/arbor-auth/arbor/store"
	"github.com/arbor-auth/arbor/store/embedded"
)

var (
	ctx   = context.Background()
	quiet = slog.New(slog.DiscardHandler)
)

// send pushes to user with sensible defaults, failing the test on error.
func send(t *testing.T, env *authtest.Env, req push.SendRequest) *push.Sent {
	t.Helper()
	if req.Realm == "" {
		req.Realm = "/"
	}
	if req.FlowID == "" {
		req.FlowID = "flow-1"
	}
	s, err := env.Push.Send(ctx, req)
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	return s
}

func result(t *testing.T, env *authtest.Env, id, flow string) *push.Result {
	t.Helper()
	r, err := env.Push.Result(ctx, id, flow)
	if err != nil {
		t.Fatalf("Result: %v", err)
	}
	return r
}

func TestRegistrationEndToEnd(t *testing.T) {
	env := authtest.New(t, authtest.Options{})
	reg, err := env.Push.BeginRegistration(ctx, push.RegistrationRequest{
		Realm: "/alpha", Username: "Alice", FlowID: "f1", Issuer: "Acme", Color: "#ff0000", ImageURL: "https://acme.example/logo.png",
	})
	if err != nil {
		t.Fatalf("BeginRegistration: %v", err)
	}
	u, err := push.ParseURI(reg.URI)
	if err != nil {
		t.Fatalf("ParseURI(our own URI): %v", err)
	}
	wantReg := env.Server.URL + "/json/realms/root/realms/alpha/push/sns/message?_action=register"
	if u.RegisterURL != wantReg || u.AuthenticateURL != strings.Replace(wantReg, "register", "authenticate", 1) {
		t.Errorf("URLs = %q, %q", u.RegisterURL, u.AuthenticateURL)
	}
	if u.Issuer != "Acme" || u.AccountName != "Alice" || u.Username != "Alice" || u.Color != "ff0000" || u.MessageID != reg.MessageID {
		t.Errorf("URI = %+v", u)
	}
	if st, _ := env.Push.RegistrationResult(ctx, reg.MessageID, "f1"); st.Status != push.RegistrationPending {
		t.Fatalf("before the device answers: %v, want pending", st.Status)
	}

	a := env.Authenticator(t)
	acc, err := a.Register(ctx, reg.URI, authenticator.RegisterOptions{Name: "Pixel"})
	if err != nil {
		t.Fatalf("Register: %v", err)
	}
	st, err := env.Push.RegistrationResult(ctx, reg.MessageID, "f1")
	if err != nil || st.Status != push.RegistrationRegistered || st.DeviceID != acc.ID || st.DeviceName != "Pixel" {
		t.Fatalf("RegistrationResult = %+v, %v", st, err)
	}
	if st, _ := env.Push.RegistrationResult(ctx, reg.MessageID, "other-flow"); st.Status != push.RegistrationExpired {
		t.Errorf("another flow sees %v, want expired", st.Status)
	}
	list, err := env.Devices.Devices(ctx, "/alpha", "alice")
	if err != nil || len(list) != 1 || list[0].ID != acc.ID || list[0].Issuer != "Acme" || list[0].Communication != "poll" {
		t.Fatalf("registry = %+v, %v", list, err)
	}
	if env.Audit.Count(audit.DeviceRegistered) != 1 {
		t.Errorf("device.registered events = %d, want 1", env.Audit.Count(audit.DeviceRegistered))
	}
	fi, err := os.Stat(a.Path())
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("account file mode = %v, %v; want 0600", fi.Mode().Perm(), err)
	}

	// Registering again with the same URI is a replay.
	b := authtestAuthenticator(t, env)
	if _, err := b.Register(ctx, reg.URI, authenticator.RegisterOptions{}); !isStatus(err, 400) {
		t.Errorf("second registration: err = %v, want a 400", err)
	}
	if len(b.Accounts()) != 0 {
		t.Errorf("a refused registration was saved")
	}
}

func authtestAuthenticator(t *testing.T, env *authtest.Env) *authenticator.Authenticator {
	return env.Authenticator(t)
}

func isStatus(err error, status int) bool {
	var se *authenticator.ServerError
	return errors.As(err, &se) && se.Status == status
}

func TestRegistrationExpires(t *testing.T) {
	env := authtest.New(t, authtest.Options{})
	reg, err := env.Push.BeginRegistration(ctx, push.RegistrationRequest{Realm: "/", Username: "bob", FlowID: "f", TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	env.Clock.Advance(time.Minute)
	if st, _ := env.Push.RegistrationResult(ctx, reg.MessageID, "f"); st.Status != push.RegistrationExpired {
		t.Errorf("after the TTL: %v, want expired", st.Status)
	}
	a := env.Authenticator(t)
	if _, err := a.Register(ctx, reg.URI, authenticator.RegisterOptions{}); !isStatus(err, 400) {
		t.Errorf("late registration: err = %v, want a 400", err)
	}
	if n, _ := env.Devices.Devices(ctx, "/", "bob"); len(n) != 0 {
		t.Errorf("a late registration stored a device")
	}
}

func TestRegistrationRequestErrors(t *testing.T) {
	env := authtest.New(t, authtest.Options{})
	for _, req := range []push.RegistrationRequest{
		{Realm: "/", Username: "", FlowID: "f"},
		{Realm: "/", Username: "x", FlowID: ""},
		{Realm: "alpha", Username: "x", FlowID: "f"},
		{Realm: "/", Username: "x", FlowID: "f", Color: "purple"},
	} {
		if _, err := env.Push.BeginRegistration(ctx, req); !errors.Is(err, push.ErrInvalidRequest) {
			t.Errorf("BeginRegistration(%+v): err = %v, want ErrInvalidRequest", req, err)
		}
	}
}

func TestApproveTap(t *testing.T) {
	env := authtest.New(t, authtest.Options{})
	a, acc := env.Register(t, "/", "alice")
	sent := send(t, env, push.SendRequest{Username: "alice", Message: "Login attempt from {{user}} at {{issuer}}",
		ContextInfo: map[string]any{"remoteIp": "203.0.113.9", "userAgent": "Firefox"}, Payload: map[string]any{"k": "v"}, ClientIP: "203.0.113.9"})
	if sent.Number != 0 || sent.DeviceID != acc.ID {
		t.Errorf("Sent = %+v", sent)
	}
	m, ok := env.Deliverer.Last()
	if !ok || m.MessageID != sent.MessageID || m.Title != "Login request" || m.Body != "Login attempt from alice at Arbor" ||
		m.Device.ID != acc.ID || m.Device.Communication != "poll" || m.ClientIP != "203.0.113.9" || !strings.Contains(m.AnswerCommand, sent.MessageID) {
		t.Errorf("delivered %+v", m)
	}
	checkClaims(t, m.JWT, acc.Secret, map[string]string{"u": acc.ID, "k": "default", "d": "alice", "t": "120", "m": "Login attempt from alice at Arbor", "p": `{"k":"v"}`})
	if r := result(t, env, sent.MessageID, "flow-1"); r.Status != push.StatusWaiting {
		t.Fatalf("before the answer: %v", r.Status)
	}

	list, err := a.Pending(ctx)
	if err != nil || len(list) != 1 {
		t.Fatalf("Pending = %+v, %v", list, err)
	}
	n := list[0]
	if n.MessageID != sent.MessageID || n.Message != "Login attempt from alice at Arbor" || n.Type != "default" ||
		n.ContextInfo["remoteIp"] != "203.0.113.9" || !n.Expires.Equal(sent.Expires.Truncate(time.Millisecond)) {
		t.Errorf("notification = %+v (sent expires %v)", n, sent.Expires)
	}
	env.Clock.Advance(5 * time.Second)
	if err := a.Approve(ctx, sent.MessageID, 0); err != nil {
		t.Fatalf("Approve: %v", err)
	}
	r := result(t, env, sent.MessageID, "flow-1")
	if r.Status != push.StatusApproved || r.DeviceID != acc.ID {
		t.Fatalf("Result = %+v, want approved", r)
	}
	if r := result(t, env, sent.MessageID, "flow-1"); r.Status != push.StatusExpired {
		t.Errorf("second Result = %v, want expired (single use)", r.Status)
	}
	d, _ := env.Devices.Device(ctx, acc.ID)
	if !d.LastUsed.Equal(env.Clock.Now()) {
		t.Errorf("LastUsed = %v, want %v", d.LastUsed, env.Clock.Now())
	}
	for typ, want := range map[string]int{audit.PushSent: 1, audit.PushApproved: 1, audit.PushRejected: 0} {
		if got := env.Audit.Count(typ); got != want {
			t.Errorf("%s events = %d, want %d", typ, got, want)
		}
	}
}

func checkClaims(t *testing.T, tok string, secret []byte, want map[string]string) jwt.MapClaims {
	t.Helper()
	claims := jwt.MapClaims{}
	if _, err := jwt.ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return secret, nil }, jwt.WithValidMethods([]string{"HS256"})); err != nil {
		t.Fatalf("push JWT does not verify with the device secret: %v", err)
	}
	for k, v := range want {
		if claims[k] != v {
			t.Errorf("claim %s = %#v, want %q", k, claims[k], v)
		}
	}
	for _, k := range []string{"l", "c", "i"} {
		if s, _ := claims[k].(string); s == "" {
			t.Errorf("claim %s missing", k)
		}
	}
	return claims
}

func TestDeny(t *testing.T) {
	env := authtest.New(t, authtest.Options{})
	a, _ := env.Register(t, "/", "alice")
	sent := send(t, env, push.SendRequest{Username: "alice"})
	if _, err := a.DenyLatest(ctx); err != nil {
		t.Fatalf("DenyLatest: %v", err)
	}
	if r := result(t, env, sent.MessageID, "flow-1"); r.Status != push.StatusDenied {
		t.Fatalf("Result = %v, want denied", r.Status)
	}
	if r := result(t, env, sent.MessageID, "flow-1"); r.Status != push.StatusExpired {
		t.Errorf("second Result = %v, want expired", r.Status)
	}
	if env.Audit.Count(audit.PushDenied) != 1 {
		t.Errorf("push.denied events = %d", env.Audit.Count(audit.PushDenied))
	}
}

func TestNumberMatching(t *testing.T) {
	tests := []struct {
		name  string
		right bool
		want  push.Status
	}{
		{"right number", true, push.StatusApproved},
		{"wrong number", false, push.StatusDenied},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := authtest.New(t, authtest.Options{})
			a, acc := env.Register(t, "/", "carol")
			sent := send(t, env, push.SendRequest{Username: "carol", PushType: push.TypeChallenge})
			if sent.Number < 10 || sent.Number > 99 {
				t.Fatalf("Number = %d, want 10..99", sent.Number)
			}
			m, _ := env.Deliverer.Last()
			claims := checkClaims(t, m.JWT, acc.Secret, map[string]string{"k": "challenge"})
			list, _ := a.Pending(ctx)
			if len(list) != 1 || len(list[0].Numbers) != 3 {
				t.Fatalf("Pending = %+v", list)
			}
			nums := list[0].Numbers
			if claims["n"] != fmt.Sprintf("%d,%d,%d", nums[0], nums[1], nums[2]) || !(nums[0] < nums[1] && nums[1] < nums[2]) {
				t.Errorf("n = %v, numbers %v: want three sorted unique", claims["n"], nums)
			}
			pick := sent.Number
			if !tt.right {
				for _, n := range nums {
					if n != sent.Number {
						pick = n
						break
					}
				}
			}
			if err := a.Approve(ctx, sent.MessageID, 0); !errors.Is(err, authenticator.ErrNumberRequired) {
				t.Errorf("Approve without a number: err = %v, want ErrNumberRequired", err)
			}
			if err := a.Approve(ctx, sent.MessageID, 100); !errors.Is(err, authenticator.ErrWrongNumber) {
				t.Errorf("Approve(100): err = %v, want ErrWrongNumber", err)
			}
			// The server says what the approval did: a wrong number denied the login.
			if err := a.Approve(ctx, sent.MessageID, pick); tt.right && err != nil {
				t.Fatalf("Approve(%d): %v", pick, err)
			} else if !tt.right && !errors.Is(err, authenticator.ErrNumberRejected) {
				t.Fatalf("Approve(%d) of a wrong number: err = %v, want ErrNumberRejected", pick, err)
			}
			r := result(t, env, sent.MessageID, "flow-1")
			if r.Status != tt.want || r.Number != pick {
				t.Fatalf("Result = %+v, want %v with number %d", r, tt.want, pick)
			}
			wantMismatch := 0
			if !tt.right {
				wantMismatch = 1
			}
			if got := env.Audit.Count(audit.PushMismatch); got != wantMismatch {
				t.Errorf("push.number_mismatch events = %d, want %d", got, wantMismatch)
			}
		})
	}
}

func TestExpiry(t *testing.T) {
	env := authtest.New(t, authtest.Options{})
	a, _ := env.Register(t, "/", "dave")
	sent := send(t, env, push.SendRequest{Username: "dave", Timeout: 30 * time.Second})
	if _, err := a.Pending(ctx); err != nil {
		t.Fatal(err)
	}
	env.Clock.Advance(30 * time.Second)
	// The device answers too late.
	if err := a.Approve(ctx, sent.MessageID, 0); err == nil {
		t.Fatalf("a late approval was accepted")
	}
	for range 2 {
		if r := result(t, env, sent.MessageID, "flow-1"); r.Status != push.StatusExpired {
			t.Fatalf("Result = %v, want expired", r.Status)
		}
	}
	if got := env.Audit.Count(audit.PushExpired); got != 1 {
		t.Errorf("push.expired events = %d, want exactly 1", got)
	}
	if list, _ := a.Pending(ctx); len(list) != 0 {
		t.Errorf("an expired push is still offered: %+v", list)
	}
}

func TestOtherFlowSeesExpired(t *testing.T) {
	env := authtest.New(t, authtest.Options{})
	a, _ := env.Register(t, "/", "erin")
	sent := send(t, env, push.SendRequest{Username: "erin", FlowID: "mine"})
	if _, err := a.ApproveLatest(ctx, 0); err != nil {
		t.Fatal(err)
	}
	for _, flow := range []string{"theirs", "", "mine "} {
		if r := result(t, env, sent.MessageID, flow); r.Status != push.StatusExpired {
			t.Errorf("flow %q sees %v, want expired", flow, r.Status)
		}
	}
	// And asking did not consume it.
	if r := result(t, env, sent.MessageID, "mine"); r.Status != push.StatusApproved {
		t.Errorf("the right flow sees %v, want approved", r.Status)
	}
	if r := result(t, env, "AUTHENTICATE:nope", "mine"); r.Status != push.StatusExpired {
		t.Errorf("unknown id: %v", r.Status)
	}
}

func TestSendErrors(t *testing.T) {
	env := authtest.New(t, authtest.Options{})
	env.Register(t, "/", "frank")
	big := map[string]any{"blob": strings.Repeat("x", push.MaxPayload)}
	tests := []struct {
		name string
		req  push.SendRequest
		want error
	}{
		{"no device", push.SendRequest{Realm: "/", Username: "nobody", FlowID: "f"}, push.ErrNotRegistered},
		{"device in another realm", push.SendRequest{Realm: "/alpha", Username: "frank", FlowID: "f"}, push.ErrNotRegistered},
		{"payload over 3 KiB", push.SendRequest{Realm: "/", Username: "frank", FlowID: "f", Payload: big}, push.ErrPayloadTooLarge},
		{"no flow", push.SendRequest{Realm: "/", Username: "frank"}, push.ErrInvalidRequest},
		{"bad type", push.SendRequest{Realm: "/", Username: "frank", FlowID: "f", PushType: "smoke"}, push.ErrInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := env.Push.Send(ctx, tt.req); !errors.Is(err, tt.want) {
				t.Fatalf("Send: err = %v, want %v", err, tt.want)
			}
		})
	}
	if n := len(env.Deliverer.Messages()); n != 0 {
		t.Errorf("%d messages delivered by failed sends", n)
	}
}

func TestRateLimit(t *testing.T) {
	env := authtest.New(t, authtest.Options{})
	env.Register(t, "/", "grace")
	start := env.Now()
	for i := range 5 {
		send(t, env, push.SendRequest{Username: "grace", FlowID: "f" + strconv.Itoa(i)})
		env.Clock.Advance(time.Minute)
	}
	_, err := env.Push.Send(ctx, push.SendRequest{Realm: "/", Username: "GRACE", FlowID: "f6"})
	if !errors.Is(err, push.ErrRateLimited) {
		t.Fatalf("6th push: err = %v, want ErrRateLimited", err)
	}
	// The refusal says when the window that began with the first push ends.
	var rl *push.RateLimitError
	if !errors.As(err, &rl) || !rl.Until.Equal(start.Add(push.DefaultRateWindow)) {
		t.Fatalf("6th push: %#v, want allowed again at %s", err, start.Add(push.DefaultRateWindow))
	}
	env.Clock.Advance(push.DefaultRateWindow - 5*time.Minute - time.Second)
	if _, err := env.Push.Send(ctx, push.SendRequest{Realm: "/", Username: "grace", FlowID: "f6b"}); !errors.Is(err, push.ErrRateLimited) {
		t.Fatalf("a second before the window ends: err = %v, want ErrRateLimited", err)
	}
	env.Clock.Advance(time.Second)
	if env.Audit.Count(audit.PushRateLimited) != 2 {
		t.Errorf("push.rate_limited events = %d", env.Audit.Count(audit.PushRateLimited))
	}
	send(t, env, push.SendRequest{Username: "grace", FlowID: "f7"})
}

func TestDeliveryFailure(t *testing.T) {
	env := authtest.New(t, authtest.Options{})
	a, _ := env.Register(t, "/", "heidi")
	env.Deliverer.Fail(true)
	_, err := env.Push.Send(ctx, push.SendRequest{Realm: "/", Username: "heidi", FlowID: "f"})
	if !errors.Is(err, push.ErrTransmission) || !errors.Is(err, delivery.ErrTransmission) {
		t.Fatalf("Send: err = %v, want ErrTransmission", err)
	}
	if env.Audit.Count(audit.PushFailed) != 1 || env.Audit.Count(audit.PushSent) != 0 {
		t.Errorf("events: send_failed %d, sent %d", env.Audit.Count(audit.PushFailed), env.Audit.Count(audit.PushSent))
	}
	if list, _ := a.Pending(ctx); len(list) != 0 {
		t.Errorf("an undelivered push is offered by poll: %+v", list)
	}
}

// A Deliverer that does not wrap ErrTransmission still yields it from Send.
type rudeDeliverer struct{}

func (rudeDeliverer) Deliver(context.Context, delivery.Message) error { return errors.New("boom") }

func TestDeliveryFailureUnwrapped(t *testing.T) {
	env := authtest.New(t, authtest.Options{})
	env.Register(t, "/", "ivan")
	svc := push.New(push.Config{PublicURL: env.Server.URL, Now: env.Now}, env.Store, env.Devices, rudeDeliverer{}, env.Ring, nil, quiet)
	if _, err := svc.Send(ctx, push.SendRequest{Realm: "/", Username: "ivan", FlowID: "f"}); !errors.Is(err, push.ErrTransmission) {
		t.Fatalf("err = %v, want ErrTransmission", err)
	}
}

// downStore fails every call as an unreachable backend does.
type downStore struct{ store.Store }

func (downStore) Get(context.Context, string) (store.Item, error) {
	return store.Item{}, fmt.Errorf("dial: %w", store.ErrUnavailable)
}

func TestStoreUnavailable(t *testing.T) {
	env := authtest.New(t, authtest.Options{})
	down := downStore{env.Store}
	svc := push.New(push.Config{PublicURL: env.Server.URL}, down, devices.New(down, env.Ring), env.Deliverer, env.Ring, nil, quiet)
	if _, err := svc.Send(ctx, push.SendRequest{Realm: "/", Username: "judy", FlowID: "f"}); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Send: err = %v, want store.ErrUnavailable", err)
	}
	if _, err := svc.Result(ctx, "AUTHENTICATE:x", "f"); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Result: err = %v, want store.ErrUnavailable", err)
	}
	if _, err := svc.RegistrationResult(ctx, "REGISTER:x", "f"); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("RegistrationResult: err = %v, want store.ErrUnavailable", err)
	}
}

func TestPollReturnsOnlyOwnPushes(t *testing.T) {
	env := authtest.New(t, authtest.Options{})
	alice, _ := env.Register(t, "/", "alice")
	bob, _ := env.Register(t, "/", "bob")
	sa := send(t, env, push.SendRequest{Username: "alice", FlowID: "fa"})
	sb := send(t, env, push.SendRequest{Username: "bob", FlowID: "fb"})
	env.Clock.Advance(time.Millisecond) // pushes are ordered by their issue time
	sb2 := send(t, env, push.SendRequest{Username: "bob", FlowID: "fb2"})
	la, err := alice.Pending(ctx)
	if err != nil || len(la) != 1 || la[0].MessageID != sa.MessageID {
		t.Fatalf("alice's pending = %+v, %v", la, err)
	}
	lb, err := bob.Pending(ctx)
	if err != nil || len(lb) != 2 || lb[0].MessageID != sb.MessageID || lb[1].MessageID != sb2.MessageID {
		t.Fatalf("bob's pending = %+v, %v", lb, err)
	}
	// Answered pushes leave the list.
	if err := bob.Approve(ctx, sb.MessageID, 0); err != nil {
		t.Fatal(err)
	}
	if lb, _ := bob.Pending(ctx); len(lb) != 1 || lb[0].MessageID != sb2.MessageID {
		t.Errorf("after answering: %+v", lb)
	}
	// Alice cannot answer Bob's push, even knowing its id.
	if err := alice.Approve(ctx, sb2.MessageID, 0); !errors.Is(err, authenticator.ErrUnknownMessage) {
		t.Errorf("alice approving bob's push: err = %v", err)
	}
}

// post sends a raw body to a device endpoint and decodes the JSON answer.
func post(t *testing.T, env *authtest.Env, path string, body []byte) (int, map[string]any) {
	t.Helper()
	resp, err := env.Server.Client().Post(env.Server.URL+path, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("answer is not JSON: %q", b)
	}
	return resp.StatusCode, out
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

func signClaims(t *testing.T, secret []byte, c jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(secret)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// answerFor computes the correct challenge response for a delivered push.
func answerFor(t *testing.T, m delivery.Message, secret []byte) string {
	t.Helper()
	c := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(m.JWT, c); err != nil {
		t.Fatal(err)
	}
	ch, _ := base64.StdEncoding.DecodeString(c["c"].(string))
	return hmacB64(secret, ch)
}

const authPath = "/json/realms/root/push/sns/message?_action=authenticate"

func TestReplyRejections(t *testing.T) {
	env := authtest.New(t, authtest.Options{Config: push.Config{RateLimit: push.RateLimit{Count: -1}}})
	_, acc := env.Register(t, "/", "alice")
	_, bobAcc := env.Register(t, "/", "bob")

	type sentPush struct {
		id  string
		msg delivery.Message
	}
	tests := []struct {
		name   string
		path   string
		status int
		reason string
		body   func(p sentPush) []byte
	}{
		{"malformed JSON", authPath, 400, "not valid JSON", func(sentPush) []byte { return []byte(`{"messageId":`) }},
		{"wrong JSON types", authPath, 400, "wrong type", func(sentPush) []byte { return []byte(`{"messageId":1,"jwt":2}`) }},
		{"missing fields", authPath, 400, "required", func(sentPush) []byte { return []byte(`{}`) }},
		{"unknown message", authPath, 404, "Unknown", func(p sentPush) []byte {
			return mustJSON(map[string]string{"messageId": "AUTHENTICATE:does-not-exist", "jwt": "x.y.z"})
		}},
		{"registration id on authenticate", authPath, 400, "not a AUTHENTICATE", func(p sentPush) []byte {
			return mustJSON(map[string]string{"messageId": "REGISTER:x", "jwt": "x.y.z"})
		}},
		{"malformed JWT", authPath, 400, "Malformed JWT", func(p sentPush) []byte {
			return mustJSON(map[string]string{"messageId": p.id, "jwt": "not-a-jwt"})
		}},
		{"forged: signed with another secret", authPath, 400, "signature", func(p sentPush) []byte {
			forged := bytes.Repeat([]byte{7}, 32)
			return mustJSON(map[string]string{"messageId": p.id, "jwt": signClaims(t, forged, jwt.MapClaims{"response": answerFor(t, p.msg, forged)})})
		}},
		{"signed by another user's device", authPath, 400, "signature", func(p sentPush) []byte {
			return mustJSON(map[string]string{"messageId": p.id, "jwt": signClaims(t, bobAcc.Secret, jwt.MapClaims{"response": answerFor(t, p.msg, bobAcc.Secret)})})
		}},
		{"alg none", authPath, 400, "JWT", func(p sentPush) []byte {
			tok, _ := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"response": answerFor(t, p.msg, acc.Secret)}).SignedString(jwt.UnsafeAllowNoneSignatureType)
			return mustJSON(map[string]string{"messageId": p.id, "jwt": tok})
		}},
		{"wrong challenge response", authPath, 400, "Challenge response", func(p sentPush) []byte {
			return mustJSON(map[string]string{"messageId": p.id, "jwt": signClaims(t, acc.Secret, jwt.MapClaims{"response": hmacB64(acc.Secret, []byte("other"))})})
		}},
		{"missing challenge response", authPath, 400, "Challenge response", func(p sentPush) []byte {
			return mustJSON(map[string]string{"messageId": p.id, "jwt": signClaims(t, acc.Secret, jwt.MapClaims{})})
		}},
		{"another realm", "/json/realms/root/realms/alpha/push/sns/message?_action=authenticate", 400, "another realm", func(p sentPush) []byte {
			return mustJSON(map[string]string{"messageId": p.id, "jwt": signClaims(t, acc.Secret, jwt.MapClaims{"response": answerFor(t, p.msg, acc.Secret)})})
		}},
		{"oversized body", authPath, 400, "larger than", func(p sentPush) []byte {
			return mustJSON(map[string]string{"messageId": p.id, "jwt": strings.Repeat("a", push.MaxBodyBytes)})
		}},
		{"unknown action", "/json/realms/root/push/sns/message?_action=explode", 400, "not supported", func(p sentPush) []byte { return []byte(`{}`) }},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			flow := "flow-" + strconv.Itoa(i)
			sent := send(t, env, push.SendRequest{Username: "alice", FlowID: flow})
			m, _ := env.Deliverer.Last()
			before := env.Audit.Count(audit.PushRejected)
			status, out := post(t, env, tt.path, tt.body(sentPush{id: sent.MessageID, msg: m}))
			if status != tt.status {
				t.Fatalf("status = %d (%v), want %d", status, out, tt.status)
			}
			if out["code"] != float64(tt.status) || out["reason"] != http.StatusText(tt.status) || !strings.Contains(fmt.Sprint(out["message"]), tt.reason) {
				t.Errorf("error body = %v, want code %d and a message containing %q", out, tt.status, tt.reason)
			}
			if got := env.Audit.Count(audit.PushRejected); got != before+1 {
				t.Errorf("push.reply_rejected events = %d, want %d", got, before+1)
			}
			// A rejected reply changes nothing.
			if r := result(t, env, sent.MessageID, flow); r.Status != push.StatusWaiting {
				t.Errorf("after the rejected reply: %v, want waiting", r.Status)
			}
		})
	}
	for _, e := range env.Audit.Events() {
		if e.Type == audit.PushRejected && strings.Contains(fmt.Sprint(e), base64.StdEncoding.EncodeToString(acc.Secret)) {
			t.Errorf("an audit event carries the device secret")
		}
	}
}

func TestReplayOfApproval(t *testing.T) {
	env := authtest.New(t, authtest.Options{})
	_, acc := env.Register(t, "/", "alice")
	sent := send(t, env, push.SendRequest{Username: "alice"})
	m, _ := env.Deliverer.Last()
	body := mustJSON(map[string]string{"messageId": sent.MessageID, "jwt": signClaims(t, acc.Secret, jwt.MapClaims{"response": answerFor(t, m, acc.Secret)})})
	if status, out := post(t, env, authPath, body); status != 200 || out["result"] != push.AnswerApproved {
		t.Fatalf("first reply: %d %v, want 200 {\"result\":\"approved\"}", status, out)
	}
	status, out := post(t, env, authPath, body)
	if status != 400 || !strings.Contains(fmt.Sprint(out["message"]), "already been answered") {
		t.Fatalf("replay: %d %v, want 400 already answered", status, out)
	}
	if env.Audit.Count(audit.PushRejected) != 1 || env.Audit.Count(audit.PushApproved) != 1 {
		t.Errorf("events: rejected %d approved %d", env.Audit.Count(audit.PushRejected), env.Audit.Count(audit.PushApproved))
	}
	if r := result(t, env, sent.MessageID, "flow-1"); r.Status != push.StatusApproved {
		t.Fatalf("Result = %v", r.Status)
	}
	// After consumption the id is unknown: 404.
	if status, _ := post(t, env, authPath, body); status != 404 {
		t.Errorf("reply after consumption: %d, want 404", status)
	}
}

func TestConcurrentReplies(t *testing.T) {
	env := authtest.New(t, authtest.Options{})
	_, acc := env.Register(t, "/", "alice")
	sent := send(t, env, push.SendRequest{Username: "alice"})
	m, _ := env.Deliverer.Last()
	body := mustJSON(map[string]string{"messageId": sent.MessageID, "jwt": signClaims(t, acc.Secret, jwt.MapClaims{"response": answerFor(t, m, acc.Secret)})})
	const n = 8
	codes := make(chan int, n)
	for range n {
		go func() {
			resp, err := env.Server.Client().Post(env.Server.URL+authPath, "application/json", bytes.NewReader(body))
			if err != nil {
				codes <- 0
				return
			}
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	ok := 0
	for range n {
		if <-codes == 200 {
			ok++
		}
	}
	if ok != 1 {
		t.Fatalf("%d replies accepted, want exactly 1", ok)
	}
	if env.Audit.Count(audit.PushApproved) != 1 {
		t.Errorf("push.approved events = %d", env.Audit.Count(audit.PushApproved))
	}
}

func TestRevokedDeviceCannotAnswer(t *testing.T) {
	env := authtest.New(t, authtest.Options{})
	a, acc := env.Register(t, "/", "alice")
	sent := send(t, env, push.SendRequest{Username: "alice"})
	if _, err := a.Pending(ctx); err != nil {
		t.Fatal(err)
	}
	if err := env.Devices.Revoke(ctx, "/", "alice", acc.ID); err != nil {
		t.Fatal(err)
	}
	if err := a.Approve(ctx, sent.MessageID, 0); !isStatus(err, 400) {
		t.Errorf("approval from a revoked device: err = %v, want 400", err)
	}
}

func TestPollRejections(t *testing.T) {
	env := authtest.New(t, authtest.Options{})
	_, acc := env.Register(t, "/", "alice")
	_, bob := env.Register(t, "/", "bob")
	send(t, env, push.SendRequest{Username: "alice"})
	now := env.Clock.Now()
	pollPath := "/json/realms/root/push/sns/message?_action=poll"
	tok := func(secret []byte, c jwt.MapClaims) string { return signClaims(t, secret, c) }
	jtis := 0
	claims := func(u string, iat, exp time.Time) jwt.MapClaims {
		jtis++
		return jwt.MapClaims{"u": u, "jti": fmt.Sprintf("test-poll-token-%04d", jtis), "iat": iat.Unix(), "exp": exp.Unix()}
	}
	withJTI := func(jti any) jwt.MapClaims {
		c := claims(acc.ID, now, now.Add(time.Minute))
		c["jti"] = jti
		return c
	}
	tests := []struct {
		name   string
		path   string
		body   any
		status int
		reason string
	}{
		{"unknown device", pollPath, map[string]string{"mechanismUid": "nope", "jwt": "x"}, 400, "Unknown device"},
		{"other device's secret", pollPath, map[string]string{"mechanismUid": acc.ID, "jwt": tok(bob.Secret, claims(acc.ID, now, now.Add(time.Minute)))}, 400, "signature"},
		{"token for another device", pollPath, map[string]string{"mechanismUid": acc.ID, "jwt": tok(acc.Secret, claims(bob.ID, now, now.Add(time.Minute)))}, 400, "another device"},
		{"lives too long", pollPath, map[string]string{"mechanismUid": acc.ID, "jwt": tok(acc.Secret, claims(acc.ID, now, now.Add(time.Hour)))}, 400, "too long"},
		{"stale", pollPath, map[string]string{"mechanismUid": acc.ID, "jwt": tok(acc.Secret, claims(acc.ID, now.Add(-10*time.Minute), now.Add(-6*time.Minute)))}, 400, "JWT"},
		{"no exp", pollPath, map[string]string{"mechanismUid": acc.ID, "jwt": tok(acc.Secret, jwt.MapClaims{"u": acc.ID, "jti": "test-poll-token-noexp", "iat": now.Unix()})}, 400, "iat and exp"},
		{"no jti", pollPath, map[string]string{"mechanismUid": acc.ID, "jwt": tok(acc.Secret, jwt.MapClaims{"u": acc.ID, "iat": now.Unix(), "exp": now.Add(time.Minute).Unix()})}, 400, "jti"},
		{"short jti", pollPath, map[string]string{"mechanismUid": acc.ID, "jwt": tok(acc.Secret, withJTI("short"))}, 400, "jti"},
		{"long jti", pollPath, map[string]string{"mechanismUid": acc.ID, "jwt": tok(acc.Secret, withJTI(strings.Repeat("j", 129)))}, 400, "jti"},
		{"numeric jti", pollPath, map[string]string{"mechanismUid": acc.ID, "jwt": tok(acc.Secret, withJTI(12345678901234567890.0))}, 400, "jti"},
		{"from the future", pollPath, map[string]string{"mechanismUid": acc.ID, "jwt": tok(acc.Secret, claims(acc.ID, now.Add(time.Hour), now.Add(time.Hour+time.Minute)))}, 400, "future"},
		{"another realm", "/json/realms/root/realms/alpha/push/sns/message?_action=poll", map[string]string{"mechanismUid": acc.ID, "jwt": tok(acc.Secret, claims(acc.ID, now, now.Add(time.Minute)))}, 400, "another realm"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := env.Audit.Count(audit.PushRejected)
			status, out := post(t, env, tt.path, mustJSON(tt.body))
			if status != tt.status || !strings.Contains(fmt.Sprint(out["message"]), tt.reason) {
				t.Fatalf("got %d %v, want %d with %q", status, out, tt.status, tt.reason)
			}
			if env.Audit.Count(audit.PushRejected) != before+1 {
				t.Errorf("rejection not audited")
			}
		})
	}
	// And the good token works, once: a replay within its life is refused and audited,
	// while a fresh token of the same device still polls.
	good := mustJSON(map[string]string{"mechanismUid": acc.ID, "jwt": tok(acc.Secret, claims(acc.ID, now, now.Add(time.Minute)))})
	status, out := post(t, env, pollPath, good)
	if msgs, _ := out["messages"].([]any); status != 200 || len(msgs) != 1 {
		t.Fatalf("good poll: %d %v", status, out)
	}
	before := env.Audit.Count(audit.PushRejected)
	if status, out := post(t, env, pollPath, good); status != 400 || !strings.Contains(fmt.Sprint(out["message"]), "already used") {
		t.Errorf("replayed poll token: %d %v, want 400 already used", status, out)
	}
	if env.Audit.Count(audit.PushRejected) != before+1 {
		t.Errorf("replay not audited")
	}
	fresh := mustJSON(map[string]string{"mechanismUid": acc.ID, "jwt": tok(acc.Secret, claims(acc.ID, now, now.Add(time.Minute)))})
	if status, out := post(t, env, pollPath, fresh); status != 200 {
		t.Errorf("fresh poll after a replay: %d %v", status, out)
	}
}

// TestPollTokenSingleUseConcurrent: of concurrent uses of one poll token exactly one
// is answered; the used jti is claimed in the store with a create-only CAS, so this
// holds across instances sharing the store too.
func TestPollTokenSingleUseConcurrent(t *testing.T) {
	env := authtest.New(t, authtest.Options{})
	_, acc := env.Register(t, "/", "alice")
	now := env.Clock.Now()
	body := mustJSON(map[string]string{"mechanismUid": acc.ID, "jwt": signClaims(t, acc.Secret,
		jwt.MapClaims{"u": acc.ID, "jti": "concurrent-poll-token", "iat": now.Unix(), "exp": now.Add(time.Minute).Unix()})})
	const tries = 8
	statuses := make(chan int, tries)
	var wg sync.WaitGroup
	for range tries {
		wg.Go(func() {
			resp, err := env.Server.Client().Post(env.Server.URL+"/json/realms/root/push/sns/message?_action=poll", "application/json", bytes.NewReader(body))
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			statuses <- resp.StatusCode
		})
	}
	wg.Wait()
	close(statuses)
	ok := 0
	for st := range statuses {
		switch st {
		case 200:
			ok++
		case 400:
		default:
			t.Errorf("status %d, want 200 once and 400 for the replays", st)
		}
	}
	if ok != 1 {
		t.Errorf("%d of %d concurrent uses of one poll token succeeded, want 1", ok, tries)
	}
}

func TestHandlerRouting(t *testing.T) {
	env := authtest.New(t, authtest.Options{})
	tests := []struct {
		method, path string
		status       int
	}{
		{"POST", "/json/push/sns/message?_action=poll", 400},                               // root realm, short form
		{"POST", "/json/realms/root/realms/a/realms/b/push/sns/message?_action=poll", 400}, // nested realm
		{"POST", "/json/realms/alpha/push/sns/message?_action=poll", 404},                  // no root
		{"POST", "/json/realms/root/realms//push/sns/message?_action=poll", 404},
		{"POST", "/json/realms/root/realms/a%2Fb/push/sns/message?_action=poll", 404}, // no smuggled '/'
		{"POST", "/am/json/realms/root/push/sns/message?_action=poll", 400},           // mounted under a prefix
		{"POST", "/json/realms/root/push/sns/other", 404},
		{"GET", "/json/realms/root/push/sns/message?_action=poll", 405},
	}
	// Straight to the handler, not through the test server's /json/ mount, so that
	// any mount prefix can be tried.
	h := env.Push.Handler()
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, strings.NewReader(`{}`)))
		if rec.Code != tt.status {
			t.Errorf("%s %s = %d, want %d", tt.method, tt.path, rec.Code, tt.status)
		}
		var body map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body["code"] != float64(tt.status) {
			t.Errorf("%s %s: body %q is not an AM error", tt.method, tt.path, rec.Body.String())
		}
	}
}

func TestRealmsEndToEnd(t *testing.T) {
	env := authtest.New(t, authtest.Options{})
	for _, realm := range []string{"/", "/alpha", "/alpha/sub", "/my realm"} {
		t.Run(realm, func(t *testing.T) {
			a, _ := env.Register(t, realm, "kim")
			sent := send(t, env, push.SendRequest{Realm: realm, Username: "kim"})
			if _, err := a.ApproveLatest(ctx, 0); err != nil {
				t.Fatalf("ApproveLatest: %v", err)
			}
			if r := result(t, env, sent.MessageID, "flow-1"); r.Status != push.StatusApproved {
				t.Fatalf("Result = %v", r.Status)
			}
		})
	}
}

func TestFormatMessage(t *testing.T) {
	for _, tt := range []struct{ tmpl, want string }{
		{"", "Login attempt from bob at Acme"},
		{"{{user}}, is that you? ({{issuer}})", "bob, is that you? (Acme)"},
		{"no placeholders", "no placeholders"},
	} {
		if got := push.FormatMessage(tt.tmpl, "bob", "Acme"); got != tt.want {
			t.Errorf("FormatMessage(%q) = %q, want %q", tt.tmpl, got, tt.want)
		}
	}
}

func hmacB64(secret, msg []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(msg)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// recordingStore keeps a copy of everything written, to prove what never is.
type recordingStore struct {
	store.Store
	mu      sync.Mutex
	written bytes.Buffer
}

func (r *recordingStore) note(k string, v []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.written.WriteString(k)
	r.written.Write(v)
}

func (r *recordingStore) Set(c context.Context, k string, v []byte, ttl time.Duration) (uint64, error) {
	r.note(k, v)
	return r.Store.Set(c, k, v, ttl)
}

func (r *recordingStore) CAS(c context.Context, k string, v []byte, rev uint64, ttl time.Duration) (uint64, error) {
	r.note(k, v)
	return r.Store.CAS(c, k, v, rev, ttl)
}

func TestSecretsNeverStoredInClear(t *testing.T) {
	base, err := embedded.Open(embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { base.Close() })
	rec := &recordingStore{Store: base}
	env := authtest.New(t, authtest.Options{Store: rec, RealClock: true})
	a, acc := env.Register(t, "/", "alice")
	sent := send(t, env, push.SendRequest{Username: "alice"})
	if _, err := a.ApproveLatest(ctx, 0); err != nil {
		t.Fatal(err)
	}
	result(t, env, sent.MessageID, "flow-1")
	rec.mu.Lock()
	written := rec.written.Bytes()
	rec.mu.Unlock()
	for _, form := range []string{string(acc.Secret), base64.StdEncoding.EncodeToString(acc.Secret),
		base64.RawURLEncoding.EncodeToString(acc.Secret), base64.RawStdEncoding.EncodeToString(acc.Secret)} {
		if bytes.Contains(written, []byte(form)) {
			t.Fatalf("the device secret reached the store in clear (%q)", form)
		}
	}
}

func TestRegistrationReplies(t *testing.T) {
	env := authtest.New(t, authtest.Options{})
	const regPath = "/json/realms/root/push/sns/message?_action=register"
	good := func(u *push.RegistrationURI) jwt.MapClaims {
		return jwt.MapClaims{"response": hmacB64(u.Secret, u.Challenge), "mechanismUid": "mech-" + u.MessageID[len(u.MessageID)-8:],
			"deviceId": "fcm-token", "deviceName": "Pixel", "deviceType": "android", "communicationType": "gcm"}
	}
	tests := []struct {
		name   string
		path   string
		secret func(u *push.RegistrationURI) []byte
		edit   func(c jwt.MapClaims)
		status int
		reason string
		want   push.RegistrationStatus
	}{
		{name: "forged secret", secret: func(*push.RegistrationURI) []byte { return bytes.Repeat([]byte{1}, 32) }, status: 400, reason: "signature", want: push.RegistrationPending},
		{name: "wrong response", edit: func(c jwt.MapClaims) { c["response"] = "AAAA" }, status: 400, reason: "Challenge response", want: push.RegistrationPending},
		{name: "no mechanism uid", edit: func(c jwt.MapClaims) { delete(c, "mechanismUid") }, status: 400, reason: "mechanismUid", want: push.RegistrationPending},
		{name: "unknown communication", edit: func(c jwt.MapClaims) { c["communicationType"] = "smoke" }, status: 400, reason: "communicationType", want: push.RegistrationPending},
		{name: "fcm without token", edit: func(c jwt.MapClaims) { delete(c, "deviceId") }, status: 400, reason: "push token", want: push.RegistrationPending},
		{name: "another realm", path: "/json/realms/root/realms/beta/push/sns/message?_action=register", status: 400, reason: "another realm", want: push.RegistrationPending},
		{name: "declined", edit: func(c jwt.MapClaims) { c["deny"] = true }, status: 200, want: push.RegistrationDenied},
		{name: "android app registration", status: 200, want: push.RegistrationRegistered},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			flow := "rf" + strconv.Itoa(i)
			user := "user" + strconv.Itoa(i)
			reg, err := env.Push.BeginRegistration(ctx, push.RegistrationRequest{Realm: "/", Username: user, FlowID: flow})
			if err != nil {
				t.Fatal(err)
			}
			u, _ := push.ParseURI(reg.URI)
			c := good(u)
			if tt.edit != nil {
				tt.edit(c)
			}
			secret := u.Secret
			if tt.secret != nil {
				secret = tt.secret(u)
			}
			path := regPath
			if tt.path != "" {
				path = tt.path
			}
			status, out := post(t, env, path, mustJSON(map[string]string{"messageId": reg.MessageID, "jwt": signClaims(t, secret, c)}))
			if status != tt.status || !strings.Contains(fmt.Sprint(out["message"]), tt.reason) {
				t.Fatalf("got %d %v, want %d with %q", status, out, tt.status, tt.reason)
			}
			st, err := env.Push.RegistrationResult(ctx, reg.MessageID, flow)
			if err != nil || st.Status != tt.want {
				t.Fatalf("RegistrationResult = %+v, %v; want %v", st, err, tt.want)
			}
			list, _ := env.Devices.Devices(ctx, "/", user)
			if (tt.want == push.RegistrationRegistered) != (len(list) == 1) {
				t.Fatalf("devices = %+v", list)
			}
			if tt.want == push.RegistrationRegistered && (list[0].Communication != "fcm" || list[0].Token != "fcm-token" || list[0].Platform != "android") {
				t.Errorf("device = %+v", list[0])
			}
		})
	}
}

// TestRegistrationURLsFromTheRequest: without a public URL (a server listening on
// 0.0.0.0), devices are sent where the registering user reached the server.
func TestRegistrationURLsFromTheRequest(t *testing.T) {
	env := authtest.New(t, authtest.Options{})
	svc := push.New(push.Config{Now: env.Now}, env.Store, env.Devices, env.Deliverer, env.Ring, nil, quiet)
	req := push.RegistrationRequest{Realm: "/alpha", Username: "judy", FlowID: "f"}
	if _, err := svc.BeginRegistration(ctx, req); !errors.Is(err, push.ErrInvalidRequest) {
		t.Fatalf("no address at all: err = %v, want ErrInvalidRequest", err)
	}
	req.BaseURL = "http://192.0.2.7:8080/"
	reg, err := svc.BeginRegistration(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	u, err := push.ParseURI(reg.URI)
	if err != nil {
		t.Fatal(err)
	}
	want := "http://192.0.2.7:8080/json/realms/root/realms/alpha/push/sns/message?_action="
	if u.RegisterURL != want+"register" || u.AuthenticateURL != want+"authenticate" {
		t.Fatalf("device URLs %q, %q; want them under %s", u.RegisterURL, u.AuthenticateURL, want)
	}
	// A configured public URL wins over the request's address.
	svc = push.New(push.Config{PublicURL: "https://id.example.com", Now: env.Now}, env.Store, env.Devices, env.Deliverer, env.Ring, nil, quiet)
	if reg, err = svc.BeginRegistration(ctx, req); err != nil {
		t.Fatal(err)
	}
	if u, _ := push.ParseURI(reg.URI); !strings.HasPrefix(u.RegisterURL, "https://id.example.com/json/") {
		t.Fatalf("register URL %q ignores the public URL", u.RegisterURL)
	}
}
