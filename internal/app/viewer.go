package app

import (
	"context"
	"fmt"

	"github.com/arbor-auth/arbor/journeys"
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

// journeyDiff is the unified diff between versions from and to of the journey name
// (journeys.DiffVersions, as the admin API answers it).
func (a *App) journeyDiff(ctx context.Context, name string, from, to int) (string, error) {
	var vs [2]*journeys.Version
	for i, n := range []int{from, to} {
		v, err := a.Journeys.Version(ctx, name, n)
		if err != nil {
			return "", err
		}
		vs[i] = v
	}
	return journeys.DiffVersions(vs[0], vs[1]), nil
}
