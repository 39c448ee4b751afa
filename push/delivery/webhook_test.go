package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

var testWebhookSecret = []byte("whsec_0123456789abcdef0123456789")

// webhookPeer is a receiver that verifies what it gets.
type webhookPeer struct {
	srv  *httptest.Server
	hits atomic.Int32
	last atomic.Pointer[WebhookPayload]
}

// newWebhookPeer starts a receiver answering status (after verifying the signature
// when status is 2xx). hang makes it wait for the client to give up instead.
func newWebhookPeer(t *testing.T, status int, hang bool) *webhookPeer {
	p := &webhookPeer{}
	release := make(chan struct{})
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.hits.Add(1)
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("webhook body: %v", err)
		}
		if hang {
			select {
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		if status/100 == 2 {
			if err := VerifyWebhook(testWebhookSecret, r.Header.Get(WebhookSignatureHeader), body, time.Minute, time.Now()); err != nil {
				t.Errorf("webhook signature: %v", err)
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			if ct := r.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			var pl WebhookPayload
			if err := json.Unmarshal(body, &pl); err != nil {
				t.Errorf("webhook body is not a payload: %v", err)
			}
			p.last.Store(&pl)
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(func() {
		close(release)
		p.srv.Close()
	})
	return p
}

// closedURL returns the URL of a listener that has been closed: connections to it are
// refused.
func closedURL(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + l.Addr().String() + "/hook"
	l.Close()
	return u
}

func TestWebhookFailover(t *testing.T) {
	for _, tc := range []struct {
		name     string
		first    func(t *testing.T) (url string, hits func() int32)
		deadline time.Duration
		maxTook  time.Duration
	}{
		{name: "first answers 500", first: func(t *testing.T) (string, func() int32) {
			p := newWebhookPeer(t, http.StatusInternalServerError, false)
			return p.srv.URL, p.hits.Load
		}},
		{name: "first refuses connections", first: func(t *testing.T) (string, func() int32) {
			return closedURL(t), nil
		}},
		{name: "first redirects", first: func(t *testing.T) (string, func() int32) {
			p := newWebhookPeer(t, http.StatusTemporaryRedirect, false)
			return p.srv.URL, p.hits.Load
		}},
		{name: "first hangs; the deadline is shared", deadline: time.Second, maxTook: 900 * time.Millisecond, first: func(t *testing.T) (string, func() int32) {
			p := newWebhookPeer(t, 0, true)
			return p.srv.URL, p.hits.Load
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			firstURL, firstHits := tc.first(t)
			second := newWebhookPeer(t, http.StatusAccepted, false)
			w, err := NewWebhook(WebhookConfig{
				Name:    "hook",
				URLs:    []string{firstURL, second.srv.URL + "/push"},
				Secret:  testWebhookSecret,
				Timeout: 5 * time.Second,
			})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if tc.deadline > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.deadline)
				defer cancel()
			}
			m := testMessage("fcm", "fcm-token")
			start := time.Now()
			if err := w.Send(ctx, m); err != nil {
				t.Fatalf("Send: %v", err)
			}
			if tc.maxTook > 0 && time.Since(start) > tc.maxTook {
				t.Errorf("Send took %s", time.Since(start))
			}
			if firstHits != nil && firstHits() != 1 {
				t.Errorf("first URL hit %d times", firstHits())
			}
			if second.hits.Load() != 1 {
				t.Fatalf("second URL hit %d times", second.hits.Load())
			}
			got := second.last.Load()
			want := WebhookPayload{
				MessageID: m.MessageID, JWT: m.JWT, Title: m.Title, Body: m.Body, Realm: m.Realm, User: m.User,
				Device: WebhookDevice{ID: m.Device.ID, Platform: m.Device.Platform, Communication: m.Device.Communication, Token: m.Device.Token},
				SentAt: got.SentAt,
			}
			if *got != want {
				t.Errorf("payload = %+v, want %+v", *got, want)
			}
			if d := time.Since(got.SentAt); d < 0 || d > time.Minute {
				t.Errorf("sent_at = %s", got.SentAt)
			}
		})
	}
}

func TestWebhookAllFail(t *testing.T) {
	bad := newWebhookPeer(t, http.StatusServiceUnavailable, false)
	reject := newWebhookPeer(t, http.StatusBadRequest, false)
	w, err := NewWebhook(WebhookConfig{
		URLs:   []string{bad.srv.URL + "/a?key=very-secret-query", closedURL(t), reject.srv.URL + "/c"},
		Secret: testWebhookSecret,
	})
	if err != nil {
		t.Fatal(err)
	}
	err = w.Send(context.Background(), testMessage("webhook", ""))
	if !errors.Is(err, ErrTransmission) {
		t.Fatalf("Send: %v does not wrap ErrTransmission", err)
	}
	t.Logf("error: %v", err)
	for _, s := range []string{"all 3 URLs failed", bad.srv.URL + "/a: HTTP 503", "connection refused", "/c: HTTP 400"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q lacks %q", err, s)
		}
	}
	if strings.Contains(err.Error(), "very-secret-query") {
		t.Errorf("error %q shows a URL's query", err)
	}
	if bad.hits.Load() != 1 || reject.hits.Load() != 1 {
		t.Errorf("hits %d, %d; want 1 each", bad.hits.Load(), reject.hits.Load())
	}
}

func TestWebhookCancelledSkipsTheRest(t *testing.T) {
	p := newWebhookPeer(t, http.StatusOK, false)
	w, err := NewWebhook(WebhookConfig{URLs: []string{p.srv.URL, p.srv.URL}, Secret: testWebhookSecret})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := w.Send(ctx, testMessage("webhook", "")); !errors.Is(err, ErrTransmission) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Send with a cancelled context: %v", err)
	}
	if p.hits.Load() != 0 {
		t.Error("a cancelled send reached the network")
	}
}

func TestWebhookSupports(t *testing.T) {
	w, _ := NewWebhook(WebhookConfig{URLs: []string{"https://relay.example"}, Secret: testWebhookSecret})
	for comm, want := range map[string]bool{"webhook": true, "fcm": true, "gcm": true, "apns": true, "poll": false, "log": false} {
		if w.Supports(comm) != want {
			t.Errorf("default Supports(%q) = %v", comm, !want)
		}
	}
	w, _ = NewWebhook(WebhookConfig{URLs: []string{"https://relay.example"}, Secret: testWebhookSecret, Communications: []string{"webhook"}})
	if w.Supports("fcm") || !w.Supports("webhook") {
		t.Error("communications is not honoured")
	}
}

func TestVerifyWebhook(t *testing.T) {
	body := []byte(`{"message_id":"AUTHENTICATE:1","jwt":"x"}`)
	now := time.Unix(1_800_000_000, 0)
	good := SignWebhook(testWebhookSecret, body, now)
	other := SignWebhook([]byte("another-secret-0123456789"), body, now)
	otherSig := other[strings.Index(other, "v1="):]
	for _, tc := range []struct {
		name   string
		secret []byte
		header string
		body   []byte
		now    time.Time
		ok     bool
	}{
		{"valid", testWebhookSecret, good, body, now, true},
		{"valid within tolerance", testWebhookSecret, good, body, now.Add(4 * time.Minute), true},
		{"rotated: second signature matches", testWebhookSecret, "t=1800000000," + otherSig + "," + good[strings.Index(good, "v1="):], body, now, true},
		{"tampered body", testWebhookSecret, good, []byte(`{"message_id":"AUTHENTICATE:2","jwt":"x"}`), now, false},
		{"wrong secret", []byte("not-the-secret-0123456789"), good, body, now, false},
		{"old timestamp", testWebhookSecret, good, body, now.Add(6 * time.Minute), false},
		{"future timestamp", testWebhookSecret, good, body, now.Add(-6 * time.Minute), false},
		{"timestamp changed", testWebhookSecret, strings.Replace(good, "t=1800000000", "t=1800000001", 1), body, now, false},
		{"no timestamp", testWebhookSecret, good[strings.Index(good, "v1="):], body, now, false},
		{"no signature", testWebhookSecret, "t=1800000000", body, now, false},
		{"garbage", testWebhookSecret, "hello", body, now, false},
		{"empty", testWebhookSecret, "", body, now, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := VerifyWebhook(tc.secret, tc.header, tc.body, 5*time.Minute, tc.now)
			if tc.ok && err != nil {
				t.Fatalf("VerifyWebhook: %v", err)
			}
			if !tc.ok && !errors.Is(err, ErrWebhookSignature) {
				t.Fatalf("VerifyWebhook = %v, want ErrWebhookSignature", err)
			}
		})
	}
}

func TestSignWebhookFormat(t *testing.T) {
	// printf '1700000000.{}' | openssl dgst -sha256 -hmac secret
	got := SignWebhook([]byte("secret"), []byte("{}"), time.Unix(1700000000, 0))
	const want = "t=1700000000,v1=b8569b78799ff9e3cbff0fc2d63a33a2b57f3282abd07c37ae5e8e7d79a5f163"
	if got != want {
		t.Fatalf("SignWebhook = %q, want %q", got, want)
	}
}

func TestNewWebhookRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  WebhookConfig
		want string
	}{
		{"no urls", WebhookConfig{Secret: testWebhookSecret}, "urls is empty"},
		{"relative url", WebhookConfig{URLs: []string{"/hook"}, Secret: testWebhookSecret}, "absolute http or https"},
		{"ftp url", WebhookConfig{URLs: []string{"ftp://x/y"}, Secret: testWebhookSecret}, "absolute http or https"},
		{"short secret", WebhookConfig{URLs: []string{"https://x"}, Secret: []byte("short")}, "need at least 16"},
		{"bad communication", WebhookConfig{URLs: []string{"https://x"}, Secret: testWebhookSecret, Communications: []string{"sms"}}, `unknown communication "sms"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewWebhook(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("NewWebhook error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}
