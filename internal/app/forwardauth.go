package app

import (
	"fmt"

	"github.com/arbor-auth/arbor/forwardauth"
)

// setupForwardAuth mounts the forward-auth door when the config file has a
// forward_auth section.
func setupForwardAuth(a *App) error {
	n, ok := a.Config.Extra["forward_auth"]
	if !ok {
		return nil
	}
	var fc forwardauth.Config
	if err := decodeStrict(&n, &fc); err != nil {
		return fmt.Errorf("config forward_auth: %w", err)
	}
	fa, err := forwardauth.New(fc, forwardauth.Deps{Door: a.Door, CookieName: a.Config.CookieName, Log: a.Log, Now: a.now})
	if err != nil {
		return fmt.Errorf("config %w", err)
	}
	if len(a.Config.TrustedProxies) == 0 {
		a.Log.Warn("forward_auth is on but trusted_proxies is empty: every check will be refused until the proxy's address is listed")
	}
	fa.Register(a.API.Echo())
	return nil
}
