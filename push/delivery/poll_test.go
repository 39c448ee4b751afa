package delivery

import (
	"context"
	"testing"
)

func TestPollProvider(t *testing.T) {
	p := NewPoll("")
	if p.Name() != "poll" {
		t.Errorf("Name = %q", p.Name())
	}
	for c, want := range map[string]bool{"poll": true, "POLL": true, "fcm": false, "apns": false, "log": false} {
		if p.Supports(c) != want {
			t.Errorf("Supports(%q) = %v", c, !want)
		}
	}
	if err := p.Send(context.Background(), testMessage("poll", "")); err != nil {
		t.Fatalf("Send: %v", err)
	}
}
