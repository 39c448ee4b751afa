package app

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/arbor-auth/arbor/devices"
	"github.com/arbor-auth/arbor/push"
	"github.com/arbor-auth/arbor/push/delivery"
)

// PushConfig is the "push" section of the config file.
type PushConfig struct {
	// PublicURL is where devices reply; default: the server's public_url, else
	// http://<listen>. Set it when devices reach Arbor at another address (NAT, proxy),
	// as FortiGate's ftm-push server-ip/port.
	PublicURL string `yaml:"public_url"`
	// DeviceListen serves the device API (and only it) on a second address as well.
	DeviceListen string `yaml:"device_listen"`
	// RateLimit bounds pushes per user (default 5 per 10 minutes; count < 0 disables).
	RateLimit struct {
		Count  int               `yaml:"count"`
		Window delivery.Duration `yaml:"window"`
	} `yaml:"rate_limit"`
	// RegistrationTimeout is the default life of a registration QR code.
	RegistrationTimeout delivery.Duration `yaml:"registration_timeout"`
	// Delivery configures providers and the policy that picks one.
	Delivery delivery.Config `yaml:"delivery"`
}

// DemoPushRateCount is the per-user push limit under --demo when the config sets none:
// looser than push.DefaultRateCount, so that trying things out does not lock the demo
// user out of pushes.
const DemoPushRateCount = 30

// Listener is an extra address the server listens on, with its own handler.
type Listener struct {
	Name, Addr string
	Handler    http.Handler
}

func setupPush(ctx context.Context, a *App) error {
	var pc PushConfig
	if n, ok := a.Config.Extra["push"]; ok {
		if err := decodeStrict(&n, &pc); err != nil {
			return fmt.Errorf("config push: %w", err)
		}
	}
	router, err := delivery.Build(pc.Delivery, a.Log)
	if err != nil {
		return fmt.Errorf("config push.delivery: %w", err)
	}
	public := pc.PublicURL
	if public == "" {
		public = a.Config.PublicURL
	}
	if public == "" {
		// Devices are then told the address each login came in on, which works where
		// "http://" + the listen address would not (0.0.0.0 in a container).
		a.Log.Warn("push: no --public-url: QR codes send devices to the address the login page or API was reached at; " +
			"set --public-url when phones reach Arbor at another address (a container, NAT, a proxy)")
	}
	rate := push.RateLimit{Count: pc.RateLimit.Count, Window: time.Duration(pc.RateLimit.Window)}
	if a.Config.Demo && rate.Count == 0 {
		// Trying approve, deny and a wrong number a few times must not end the demo.
		rate.Count = DemoPushRateCount
	}
	a.Devices = devices.New(a.Store, a.Keys)
	// Token PINs are hashed like passwords, within the same bound on concurrent hashes.
	a.Devices.UsePINHasher(a.Users)
	a.Push = push.New(push.Config{
		PublicURL:           strings.TrimSuffix(public, "/"),
		RateLimit:           rate,
		RegistrationTimeout: time.Duration(pc.RegistrationTimeout),
		Now:                 a.now,
	}, a.Store, a.Devices, router, a.Keys, a.Audit, a.Log)
	a.Deps.Push, a.Deps.Devices = a.Push, a.Devices
	a.pushCfg = pc
	return nil
}

// mountDeviceAPI mounts the push device API on the REST door, and on its own listener
// when push.device_listen is set.
func mountDeviceAPI(a *App) {
	if a.Push == nil {
		return
	}
	a.API.Mount("push/sns/message", a.Push.Handler())
	if a.pushCfg.DeviceListen != "" {
		mux := http.NewServeMux()
		mux.Handle("/json/", a.Push.Handler())
		mux.HandleFunc("/health/live", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte(`{"status":"ok"}`)) })
		a.Listeners = append(a.Listeners, Listener{Name: "device API", Addr: a.pushCfg.DeviceListen, Handler: mux})
	}
}

func decodeStrict(n *yaml.Node, v any) error {
	b, err := yaml.Marshal(n)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	return dec.Decode(v)
}
