package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/aymanbagabas/go-udiff"

	"github.com/arbor-auth/arbor/web/viewer"
)

// mountViewer mounts the journey viewer for admins (web/viewer) on the API server's
// echo instance, beside the login pages. It reads the same repository, registry and node
// services the engine runs with, so what it calls valid is exactly what would run.
func mountViewer(a *App) error {
	v, err := viewer.New(viewer.Config{CookieName: a.Config.CookieName, LoginURL: "/login"}, viewer.Deps{
		Journeys: a.Journeys, Registry: a.Registry, Nodes: a.Deps,
		Keys: a.Keys, Door: a.Door, Log: a.Log, Diff: a.journeyDiff,
	})
	if err != nil {
		return fmt.Errorf("journey viewer: %w", err)
	}
	v.Register(a.API.Echo())
	return nil
}

// journeyDiff is the unified diff between versions from and to of the journey name,
// over their documents pretty-printed with keys sorted, so that only what changed shows
// (a document saved by a tool that orders keys differently is not all changed).
func (a *App) journeyDiff(ctx context.Context, name string, from, to int) (string, error) {
	var docs [2]string
	for i, n := range []int{from, to} {
		v, err := a.Journeys.Version(ctx, name, n)
		if err != nil {
			return "", err
		}
		dec := json.NewDecoder(bytes.NewReader(v.Doc))
		dec.UseNumber() // numbers as written, not through float64
		var x any
		if err := dec.Decode(&x); err != nil {
			return "", fmt.Errorf("journey %q version %d: %w", name, n, err)
		}
		var b strings.Builder
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false) // "<" as written: the page escapes what it shows
		enc.SetIndent("", "  ")
		if err := enc.Encode(x); err != nil {
			return "", fmt.Errorf("journey %q version %d: %w", name, n, err)
		}
		docs[i] = b.String()
	}
	return udiff.Unified(name+" version "+strconv.Itoa(from), name+" version "+strconv.Itoa(to), docs[0], docs[1]), nil
}
