package app

import (
	"fmt"

	"github.com/arbor-auth/arbor/linotp"
)

// setupLinOTP mounts the LinOTP-style door (/validate/check, /validate/check_status)
// when the config file's linotp section enables it.
func setupLinOTP(a *App) error {
	n, ok := a.Config.Extra["linotp"]
	if !ok {
		return nil
	}
	var lc linotp.Config
	if err := decodeStrict(&n, &lc); err != nil {
		return fmt.Errorf("config linotp: %w", err)
	}
	if !lc.Enabled {
		return nil
	}
	d, err := linotp.New(lc, linotp.Deps{Core: a.Door, Store: a.Store, Audit: a.Audit, Log: a.Log, Now: a.now, Journeys: a.Journeys})
	if err != nil {
		return fmt.Errorf("config %w", err)
	}
	d.Register(a.API.Echo())
	return nil
}
