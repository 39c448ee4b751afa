package engine

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
)

// A lazy logger writes exactly what the logger it wraps would, With and groups
// included, and formats nothing for records below the level.
func TestLazyLoggerWritesWhatWithWould(t *testing.T) {
	noTime := func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 && a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}
	var direct, lazy bytes.Buffer
	opts := &slog.HandlerOptions{Level: slog.LevelInfo, ReplaceAttr: noTime}
	use := func(l *slog.Logger) {
		l = l.With("flow_id", "f1", "version", 3)
		l.Info("one", "k", "v")
		n := withAttrs(l.With("node", "n1").With(), slog.String("node_type", "t"), slog.Int("i", 2))
		n.Debug("hidden", "k", "v")
		n.Error("two", "err", "boom")
		g := n.WithGroup("g").With("inner", true)
		g.Warn("three", "x", 1)
		l.WithGroup("").Info("four")
	}
	use(slog.New(slog.NewJSONHandler(&direct, opts)))
	use(lazyLogger(slog.New(slog.NewJSONHandler(&lazy, opts))))
	if direct.String() != lazy.String() {
		t.Fatalf("lazy logger wrote\n%s\nwant\n%s", lazy.String(), direct.String())
	}
	if bytes.Contains(lazy.Bytes(), []byte("hidden")) {
		t.Fatal("debug record written at info level")
	}
	l := lazyLogger(slog.Default())
	if lazyLogger(l) != l {
		t.Fatal("lazyLogger wrapped a lazy logger again")
	}
	if !l.Enabled(context.Background(), slog.LevelError) {
		t.Fatal("Enabled not passed through")
	}
}
