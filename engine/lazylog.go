package engine

import (
	"context"
	"log/slog"
)

// lazyHandler is a slog.Handler whose With attributes are only applied to the handler
// it wraps when a record is actually written. The engine gives every step and every
// node visit a logger carrying the flow, journey and node ids; with slog's own handlers
// each With formats those attributes at once, on every step, even though almost no step
// logs anything at the usual levels. With lazyHandler a With is a slice append and the
// formatting happens only for the records that pass Enabled. What reaches the wrapped
// handler is exactly what Logger.With on it would have produced.
type lazyHandler struct {
	base   slog.Handler
	parent *lazyHandler // earlier With attributes, applied before attrs
	attrs  []slog.Attr  // owned: slog hands WithAttrs a slice the handler may keep
}

// lazyLogger returns a logger writing through l's handler with lazyHandler's deferred
// With.
func lazyLogger(l *slog.Logger) *slog.Logger {
	if _, ok := l.Handler().(*lazyHandler); ok {
		return l
	}
	return slog.New(&lazyHandler{base: l.Handler()})
}

// lazyLog is a logger and its lazyHandler in one allocation, for the loggers the
// engine derives on every step.
type lazyLog struct {
	logger  slog.Logger
	handler lazyHandler
	attrs   [3]slog.Attr
}

// withAttrs is l.With(attrs...) without boxing each attribute into an any first, and,
// when l is lazy, in a single allocation.
func withAttrs(l *slog.Logger, attrs ...slog.Attr) *slog.Logger {
	if _, ok := l.Handler().(*lazyHandler); !ok || len(attrs) > 3 {
		return slog.New(l.Handler().WithAttrs(append([]slog.Attr(nil), attrs...)))
	}
	return new(lazyLog).with(l, attrs...)
}

// with makes x l.With(attrs...) and returns its logger; l must be lazy and attrs at
// most 3 (see withAttrs). It lets a caller place x inside a larger allocation.
func (x *lazyLog) with(l *slog.Logger, attrs ...slog.Attr) *slog.Logger {
	parent := l.Handler().(*lazyHandler)
	n := copy(x.attrs[:], attrs)
	x.handler = lazyHandler{base: parent.base, parent: parent, attrs: x.attrs[:n:n]}
	x.logger = *slog.New(&x.handler)
	return &x.logger
}

// Enabled reports whether the wrapped handler handles records at level.
func (h *lazyHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.base.Enabled(ctx, level)
}

// Handle applies the deferred attributes and passes r on.
func (h *lazyHandler) Handle(ctx context.Context, r slog.Record) error {
	return h.materialize().Handle(ctx, r)
}

// WithAttrs defers attrs.
func (h *lazyHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	return &lazyHandler{base: h.base, parent: h, attrs: attrs}
}

// WithGroup applies the deferred attributes first: they belong outside the group.
func (h *lazyHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return &lazyHandler{base: h.materialize().WithGroup(name)}
}

// materialize returns the wrapped handler with every deferred attribute applied, oldest
// first.
func (h *lazyHandler) materialize() slog.Handler {
	n := 0
	for l := h; l != nil; l = l.parent {
		n += len(l.attrs)
	}
	if n == 0 {
		return h.base
	}
	all := make([]slog.Attr, n)
	for l := h; l != nil; l = l.parent {
		n -= len(l.attrs)
		copy(all[n:], l.attrs)
	}
	return h.base.WithAttrs(all)
}
