package app

import (
	"context"
	"fmt"
	"net"
	"os"

	"github.com/arbor-auth/arbor/radius"
)

// PacketListener is a datagram door to serve besides HTTP (the RADIUS door): `arbor
// serve` listens on Network/Addr, calls Serve with the socket and Shutdown on exit.
type PacketListener struct {
	Name, Network, Addr string
	Serve               func(net.PacketConn) error
	Shutdown            func(context.Context) error
}

// setupRADIUS adds the RADIUS door when the config file has a radius section with a
// listen address.
func setupRADIUS(a *App) error {
	n, ok := a.Config.Extra["radius"]
	if !ok {
		return nil
	}
	var rc radius.Config
	if err := decodeStrict(&n, &rc); err != nil {
		return fmt.Errorf("config radius: %w", err)
	}
	if !rc.Enabled() {
		return nil
	}
	srv, err := radius.New(rc, radius.Deps{Core: a.Door, Users: a.Users, Keys: a.Keys, Audit: a.Audit, Log: a.Log,
		Metrics: a.Metrics, Getenv: os.Getenv, Now: a.now})
	if err != nil {
		return fmt.Errorf("config %w", err)
	}
	a.RADIUS = srv
	a.PacketListeners = append(a.PacketListeners, PacketListener{Name: "RADIUS", Network: "udp", Addr: rc.Listen, Serve: srv.Serve, Shutdown: srv.Shutdown})
	return nil
}
