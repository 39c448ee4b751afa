package app

import (
	"context"
	"fmt"

	"github.com/arbor-auth/arbor/web"
	"github.com/arbor-auth/arbor/web/viewer"
)

// The browser door: login pages and the devices page, on the API server's listener.
func init() {
	doors = append(doors, setupWeb)
}

func setupWeb(_ context.Context, a *App) error {
	w, err := web.New(web.Config{
		Realms:           a.Config.Realms,
		CookieName:       a.Config.CookieName,
		SecureCookies:    a.Config.SecureCookies,
		AllowedRedirects: a.Config.AllowedRedirects,
		MaxBodyBytes:     a.Config.MaxBodyBytes,
		PublicURL:        a.Config.PublicURL,
		ReauthJourney:    a.Config.ReauthJourney,
		ReauthMaxAge:     a.Config.ReauthMaxAge,
	}, web.Deps{
		Engine: a.Engine, Sessions: a.Sessions, Devices: a.Devices, Keys: a.Keys,
		Audit: a.Audit, Log: a.Log, Now: a.now,
		IsAdmin: func(ctx context.Context, realm, username string) (bool, error) {
			return viewer.IsAdmin(ctx, a.Users, realm, username)
		},
	})
	if err != nil {
		return fmt.Errorf("web pages: %w", err)
	}
	w.Register(a.API.Echo())
	return nil
}
