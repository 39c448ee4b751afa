package engine

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"
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

type otherKey struct{}

func TestWalkContextCarriesStateAndParent(t *testing.T) {
	parent, cancel := context.WithCancel(context.WithValue(context.Background(), otherKey{}, "v"))
	b := &budget{flowSteps: new(int)}
	ctx := withWalk(parent, walkState{depth: 2, budget: b})
	if s := walkOf(ctx); s.depth != 2 || s.budget != b {
		t.Fatalf("walkOf = %+v, want depth 2 and the budget given", s)
	}
	if got := ctx.Value(otherKey{}); got != "v" {
		t.Fatalf("a parent's value through the walk context = %v, want v", got)
	}
	if s := walkOf(parent); s.depth != 0 || s.budget == nil {
		t.Fatalf("walkOf outside a walk = %+v, want depth 0 and a fresh budget", s)
	}
	child, stop := context.WithCancel(ctx)
	defer stop()
	cancel()
	select {
	case <-child.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("cancelling the parent did not reach a context derived from the walk context")
	}
	if ctx.Err() == nil {
		t.Fatal("the walk context is not cancelled with its parent")
	}
}

func TestVisitContextIsOneAllocation(t *testing.T) {
	w := &walker{log: lazyLogger(slog.New(slog.DiscardHandler))}
	n := testing.AllocsPerRun(100, func() {
		if c := w.visitContext("n1", "page"); c.Log == nil {
			t.Fatal("no logger")
		}
	})
	if n != 1 {
		t.Fatalf("a visit's context and logger take %v allocations, want 1", n)
	}
}
