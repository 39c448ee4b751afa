package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"
)

func TestEmitLogsAndFeedsSinks(t *testing.T) {
	var buf bytes.Buffer
	l := New(slog.New(slog.NewJSONHandler(&buf, nil)))
	var rec Recorder
	l.AddSink(rec.Sink())
	l.Emit(context.Background(), Event{Type: LoginSuccess, Realm: "/", User: "alice", FlowID: "f1", Details: map[string]any{"n": 1}})
	var got map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("log record %q: %v", buf.String(), err)
	}
	want := map[string]any{"audit": true, "event": LoginSuccess, "realm": "/", "user": "alice", "flow_id": "f1", "msg": "audit", "level": "INFO"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("log %s = %v, want %v", k, got[k], v)
		}
	}
	if _, ok := got["journey"]; ok {
		t.Error("empty field logged")
	}
	if d, _ := got["details"].(map[string]any); d["n"] != 1.0 {
		t.Errorf("details: %v", got["details"])
	}
	evs := rec.Events()
	if len(evs) != 1 || evs[0].User != "alice" || evs[0].Time.IsZero() {
		t.Fatalf("sink got %+v", evs)
	}
}

// With the log above Info, nothing is logged but every sink still gets every event.
func TestEmitReachesSinksWhenLogDisabled(t *testing.T) {
	var buf bytes.Buffer
	l := New(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn})))
	var rec Recorder
	l.AddSink(rec.Sink())
	for range 3 {
		l.Emit(context.Background(), Event{Type: LoginFailure, User: "bob"})
	}
	if buf.Len() != 0 {
		t.Fatalf("logged at warn level: %s", buf.String())
	}
	if n := rec.Count(LoginFailure); n != 3 {
		t.Fatalf("sink got %d events, want 3", n)
	}
	var nilLogger *Logger
	nilLogger.Emit(context.Background(), Event{Type: LoginFailure}) // discards, no panic
}
