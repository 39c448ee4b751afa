package delivery

import (
	"context"
	"log/slog"
)

// Log is a development provider: it writes each message to a structured log instead
// of sending it, with the command that answers it when the push core provides one. It
// logs the JWT's length only, never the JWT, which bears the challenge. It supports
// every communication type and never fails.
type Log struct {
	name string
	log  *slog.Logger
}

// NewLog returns a log provider called name ("log" when empty) writing to logger
// (slog.Default() when nil).
func NewLog(name string, logger *slog.Logger) *Log {
	if name == "" {
		name = "log"
	}
	if logger == nil {
		logger = slog.Default()
	}
	return &Log{name: name, log: logger}
}

// Name returns the provider's name.
func (l *Log) Name() string { return l.name }

// Supports reports true for every communication type.
func (l *Log) Supports(string) bool { return true }

// Send logs m and returns nil.
func (l *Log) Send(ctx context.Context, m Message) error {
	attrs := []slog.Attr{
		slog.String("provider", l.name),
		slog.String("message_id", m.MessageID),
		slog.Group("device",
			slog.String("id", m.Device.ID),
			slog.String("platform", m.Device.Platform),
			slog.String("communication", m.Device.Communication),
			slog.String("token", abbreviate(m.Device.Token)),
		),
		slog.String("realm", m.Realm),
		slog.String("user", m.User),
		slog.String("title", m.Title),
		slog.String("body", m.Body),
		slog.Int("jwt_len", len(m.JWT)),
		slog.Duration("ttl", ttlOf(m)),
	}
	if m.AnswerCommand != "" {
		attrs = append(attrs, slog.String("answer_command", m.AnswerCommand))
	}
	l.log.LogAttrs(ctx, slog.LevelInfo, "push message (log provider, not sent)", attrs...)
	return nil
}

// abbreviate shortens a device token to its first 8 characters for logs.
func abbreviate(s string) string {
	if len(s) <= 12 {
		return s
	}
	return s[:8] + "…"
}
