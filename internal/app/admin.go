package app

import (
	"fmt"

	"github.com/arbor-auth/arbor/admin"
)

// mountAdmin mounts the admin REST API (package admin) on the API server under
// admin.Prefix, with no CORS there whatever cors_origins says.
func mountAdmin(a *App) error {
	api, err := admin.New(admin.Config{CookieName: a.Config.CookieName, MaxBodyBytes: a.Config.MaxBodyBytes}, admin.Deps{
		Door: a.Door, Journeys: a.Journeys, Users: a.Users, Devices: a.Devices,
		Tokens: admin.NewTokens(a.Store, a.now), Cases: a.cases, Audit: a.Audit, Log: a.Log,
	})
	if err != nil {
		return fmt.Errorf("admin API: %w", err)
	}
	a.API.NoCORS(admin.Prefix + "/")
	api.Register(a.API.Echo())
	return nil
}
