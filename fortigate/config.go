package fortigate

import (
	"errors"
	"fmt"
	"time"

	"github.com/arbor-auth/arbor/door"
)

// Config is the "fortigate" section of the config file:
//
//	fortigate: {enabled: true, journey: fortigate, realm: /, timeout: 5m}
//
// The door is off unless Enabled.
type Config struct {
	// Enabled mounts POST|PUT|DELETE /api/v2/authentication.
	Enabled bool `yaml:"enabled"`
	// Journey is the journey a login runs (default "fortigate", shipped).
	Journey string `yaml:"journey"`
	// Realm is the realm it runs in (default "/").
	Realm string `yaml:"realm"`
	// Timeout is FortiOS's admintimeout: the fixed lifetime of a session key
	// (request_key true; its session_key_timeout in minutes) and the idle timeout of a
	// session cookie (request_key false). Whole minutes, default 5m; never past the
	// server's session lifetime.
	Timeout time.Duration `yaml:"timeout"`
}

// withDefaults checks c and fills in its defaults.
func (c Config) withDefaults() (Config, error) {
	if c.Journey == "" {
		c.Journey = "fortigate"
	}
	r, err := door.NormalizeRealm(c.Realm)
	if err != nil {
		return c, fmt.Errorf("fortigate: realm: %w", err)
	}
	c.Realm = r
	switch {
	case c.Timeout == 0:
		c.Timeout = 5 * time.Minute
	case c.Timeout < time.Minute || c.Timeout%time.Minute != 0:
		return c, errors.New("fortigate: timeout must be whole minutes, at least 1m (FortiOS's admintimeout)")
	}
	return c, nil
}
