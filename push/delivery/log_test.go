package delivery

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

func TestLogProvider(t *testing.T) {
	var buf bytes.Buffer
	l := NewLog("", slog.New(slog.NewJSONHandler(&buf, nil)))
	if l.Name() != "log" {
		t.Errorf("Name = %q", l.Name())
	}
	for _, c := range []string{"fcm", "apns", "webhook", "poll", "log", "anything"} {
		if !l.Supports(c) {
			t.Errorf("Supports(%q) = false", c)
		}
	}
	m := testMessage("fcm", "dGhpcy1pcy1hLWxvbmctZmNtLXRva2Vu")
	m.AnswerCommand = "arbor-authenticator answer --message-id X"
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the log provider never fails, not even on a dead context
	if err := l.Send(ctx, m); err != nil {
		t.Fatalf("Send: %v", err)
	}
	out := buf.String()
	if strings.Contains(out, m.JWT) {
		t.Fatalf("the log holds the JWT: %s", out)
	}
	if strings.Contains(out, m.Device.Token) {
		t.Errorf("the log holds the whole device token: %s", out)
	}
	var rec struct {
		MessageID     string `json:"message_id"`
		JWTLen        int    `json:"jwt_len"`
		Title         string `json:"title"`
		Body          string `json:"body"`
		AnswerCommand string `json:"answer_command"`
		Device        struct {
			ID            string `json:"id"`
			Platform      string `json:"platform"`
			Communication string `json:"communication"`
		} `json:"device"`
	}
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("log line %q: %v", out, err)
	}
	if rec.MessageID != m.MessageID || rec.JWTLen != len(m.JWT) || rec.Title != m.Title || rec.Body != m.Body ||
		rec.AnswerCommand != m.AnswerCommand || rec.Device.ID != m.Device.ID || rec.Device.Platform != "android" || rec.Device.Communication != "fcm" {
		t.Errorf("log record = %+v", rec)
	}
}
