package delivery

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

// testJWT stands in for a signed push JWT; tests check it never reaches a log.
const testJWT = "eyJhbGciOiJIUzI1NiJ9.eyJjIjoic2VjcmV0LWNoYWxsZW5nZSJ9.c2lnbmF0dXJl"

// testMessage returns a message for a device with the given communication and token.
func testMessage(comm, token string) Message {
	return Message{
		MessageID: "AUTHENTICATE:0b8f1c1e-7d0a-4c8e-9b43-5d7b7c2f5a101700000000000",
		JWT:       testJWT,
		Title:     "Sign in to Arbor",
		Body:      "Approve the sign-in of alice?",
		Device: Device{
			ID:            "mech-1",
			Platform:      "android",
			Communication: comm,
			Token:         token,
		},
		Realm:    "/alpha",
		User:     "alice",
		ClientIP: "192.0.2.10",
		TTL:      120 * time.Second,
	}
}

func TestNormalizeCommunication(t *testing.T) {
	for in, want := range map[string]string{
		"fcm": "fcm", "GCM": "fcm", " gcm ": "fcm", "APNS": "apns", "poll": "poll", "": "",
	} {
		if got := NormalizeCommunication(in); got != want {
			t.Errorf("NormalizeCommunication(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		header string
		want   time.Duration
	}{
		{"", defaultRetryDelay},
		{"3", 3 * time.Second},
		{"-1", 0},
		{now.Add(10 * time.Second).Format(http.TimeFormat), 10 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{"soon", defaultRetryDelay},
	} {
		resp := &http.Response{Header: http.Header{}}
		if tc.header != "" {
			resp.Header.Set("Retry-After", tc.header)
		}
		if got := retryAfter(resp, now); got != tc.want {
			t.Errorf("Retry-After %q: got %s, want %s", tc.header, got, tc.want)
		}
	}
}

func TestSleepWithin(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if sleepWithin(ctx, time.Second) {
		t.Fatal("a pause longer than the deadline was accepted")
	}
	if time.Since(start) > 50*time.Millisecond {
		t.Fatal("a pause that cannot fit was waited for")
	}
	if !sleepWithin(ctx, time.Millisecond) {
		t.Fatal("a pause that fits was refused")
	}
}

func TestTransmissionErrorText(t *testing.T) {
	err := transmissionError("fcm-prod", "message X rejected: HTTP 404 UNREGISTERED", nil)
	if !strings.Contains(err.Error(), "fcm-prod") || !strings.Contains(err.Error(), "UNREGISTERED") {
		t.Fatalf("error lacks context: %v", err)
	}
}
