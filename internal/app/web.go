package app

import (
	"fmt"

	"github.com/arbor-auth/arbor/web"
)

// setupWeb mounts the browser door (login pages and the devices page) on the API
// server's listener.
func setupWeb(a *App) error {
	w, err := web.New(web.Config{CookieName: a.Config.CookieName, MaxBodyBytes: a.Config.MaxBodyBytes,
		DeveloperHints: a.Config.Demo},
		web.Deps{Door: a.Door, Devices: a.Devices, Keys: a.Keys, Audit: a.Audit, Log: a.Log})
	if err != nil {
		return fmt.Errorf("web pages: %w", err)
	}
	w.Register(a.API.Echo())
	a.pages = w
	return nil
}
