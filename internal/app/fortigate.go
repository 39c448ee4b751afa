package app

import (
	"fmt"

	"github.com/arbor-auth/arbor/fortigate"
)

// setupFortiGate mounts the FortiGate-style door (/api/v2/authentication) when the
// config file's fortigate section enables it.
func setupFortiGate(a *App) error {
	n, ok := a.Config.Extra["fortigate"]
	if !ok {
		return nil
	}
	var fc fortigate.Config
	if err := decodeStrict(&n, &fc); err != nil {
		return fmt.Errorf("config fortigate: %w", err)
	}
	if !fc.Enabled {
		return nil
	}
	srv, err := fortigate.New(fc, fortigate.Deps{Core: a.Door, Keys: a.Keys, Log: a.Log, Now: a.now,
		CookieName: a.Config.CookieName, MaxBodyBytes: a.Config.MaxBodyBytes})
	if err != nil {
		return fmt.Errorf("config %w", err)
	}
	srv.Register(a.API.Echo())
	return nil
}
