package app

import (
	"fmt"

	"github.com/labstack/echo/v4"

	"github.com/arbor-auth/arbor/oidc"
)

// setupOIDC mounts the OpenID Connect door at /oauth2/ when the config file's oidc
// section declares a client.
func setupOIDC(a *App) error {
	n, ok := a.Config.Extra["oidc"]
	if !ok {
		return nil
	}
	var oc oidc.Config
	if err := decodeStrict(&n, &oc); err != nil {
		return fmt.Errorf("config oidc: %w", err)
	}
	if !oc.Enabled() {
		return nil
	}
	var pages oidc.SignOutPages // a nil *web.Server must stay a nil interface
	if a.pages != nil {
		pages = a.pages
	}
	srv, err := oidc.New(oc, oidc.Options{PublicURL: a.Config.PublicURL, CookieName: a.Config.CookieName,
		MaxBodyBytes: a.Config.MaxBodyBytes, CORSOrigins: a.Config.CORSOrigins},
		oidc.Deps{Core: a.Door, Store: a.Store, Keys: a.Keys, Users: a.Users, Audit: a.Audit, Log: a.Log, Now: a.now,
			SignOut: pages})
	if err != nil {
		return fmt.Errorf("config %w", err)
	}
	a.OIDC = srv
	// The door answers its own CORS (its clients' origins, the Authorization header).
	a.API.NoCORS("/oauth2/")
	a.API.Echo().Any("/oauth2/*", echo.WrapHandler(srv))
	return nil
}
