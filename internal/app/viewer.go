package app

import (
	"fmt"

	"github.com/arbor-auth/arbor/web/viewer"
)

// mountViewer mounts the journey viewer for admins (web/viewer) on the API server's
// echo instance, beside the login pages. It reads the same repository, registry and node
// services the engine runs with, so what it calls valid is exactly what would run.
func mountViewer(a *App) error {
	v, err := viewer.New(viewer.Config{CookieName: a.Config.CookieName, LoginURL: "/login"}, viewer.Deps{
		Journeys: a.Journeys, Registry: a.Registry, Nodes: a.Deps,
		Keys: a.Keys, Door: a.Door, Log: a.Log,
	})
	if err != nil {
		return fmt.Errorf("journey viewer: %w", err)
	}
	v.Register(a.API.Echo())
	return nil
}
