package radius

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/arbor-auth/arbor/door"
)

// Config is the "radius" section of the config file. The door is off unless it names
// a listen address and at least one client.
type Config struct {
	// Listen is the UDP address to serve (for example 0.0.0.0:1812).
	Listen string `yaml:"listen"`
	// RequireMessageAuthenticator refuses, without an answer, every Access-Request that
	// has no Message-Authenticator (default true: the BlastRADIUS mitigation). Set it to
	// false only for an old client that cannot send one; replies always carry one.
	RequireMessageAuthenticator *bool `yaml:"require_message_authenticator"`
	// MaxHold bounds how long one Access-Request is held while a push waits for the
	// device (default 2m). The clients' timeout must be longer than the push's.
	MaxHold time.Duration `yaml:"max_hold"`
	// DuplicateWindow is how long an answer is kept to resend to a retransmission of
	// its request (RFC 5080 §2.2.2; default 30s).
	DuplicateWindow time.Duration `yaml:"duplicate_window"`
	// Clients are the RADIUS clients (NAS, VPN gateways) allowed to ask, matched by
	// source address: the first client whose networks hold it.
	Clients []ClientConfig `yaml:"clients"`
}

// ClientConfig is one RADIUS client.
type ClientConfig struct {
	// Name identifies the client in logs, audit events and metrics.
	Name string `yaml:"name"`
	// Networks are the CIDR prefixes (or single addresses) requests may come from.
	Networks []string `yaml:"networks"`
	// Secret is the shared secret; SecretEnv names an environment variable holding it
	// instead (preferred: the config file then holds no secret).
	Secret    string `yaml:"secret"`
	SecretEnv string `yaml:"secret_env"`
	// Journey is the journey an Access-Request runs (default "radius").
	Journey string `yaml:"journey"`
	// Realm is the realm it runs in (default "/").
	Realm string `yaml:"realm"`
	// ReplyAttributes are added to every Access-Accept sent to this client.
	ReplyAttributes []ReplyAttribute `yaml:"reply_attributes"`
}

// ReplyAttribute is one attribute of an Access-Accept: a standard attribute (Type), or
// a vendor-specific one (Vendor and Type, for example Fortinet-Group-Name is vendor
// 12356 type 1). Its value is fixed (Value) or read from the user's attribute From; a
// list attribute gives one RADIUS attribute per element, and a user without it gets
// none.
type ReplyAttribute struct {
	// Type is the attribute's number, or with Vendor the vendor's attribute number.
	Type int `yaml:"type"`
	// Vendor is the IANA enterprise number of a Vendor-Specific attribute (0: none).
	Vendor uint32 `yaml:"vendor"`
	// Value is a fixed value.
	Value string `yaml:"value"`
	// From names the user attribute the value is read from.
	From string `yaml:"from"`
	// Integer encodes the value as a 32-bit integer (Session-Timeout) instead of text.
	Integer bool `yaml:"integer"`
}

// client is a ClientConfig ready to serve.
type client struct {
	name     string
	networks []netip.Prefix
	secret   []byte
	journey  string
	realm    string
	reply    []ReplyAttribute
}

// Enabled reports whether the section configures a listener.
func (c *Config) Enabled() bool { return c != nil && c.Listen != "" }

// resolve checks the config and returns its clients, reading secrets with getenv. It
// reports every problem at once.
func (c *Config) resolve(getenv func(string) string) ([]*client, error) {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if len(c.Clients) == 0 {
		bad("radius: listen is set but no clients are configured")
	}
	if c.MaxHold < 0 || c.DuplicateWindow < 0 {
		bad("radius: max_hold and duplicate_window must not be negative")
	}
	names := map[string]bool{}
	out := make([]*client, 0, len(c.Clients))
	for i, cc := range c.Clients {
		where := fmt.Sprintf("radius.clients[%d]", i)
		cl := &client{name: cc.Name, journey: cc.Journey, realm: cc.Realm, reply: cc.ReplyAttributes}
		switch {
		case cc.Name == "":
			bad("%s: name is required", where)
		case names[cc.Name]:
			bad("%s: name %q is used twice", where, cc.Name)
		}
		names[cc.Name] = true
		if cl.journey == "" {
			cl.journey = "radius"
		}
		if cl.realm == "" {
			cl.realm = "/"
		}
		if r, err := door.NormalizeRealm(cl.realm); err != nil {
			bad("%s (%s): realm: %w", where, cc.Name, err)
		} else {
			cl.realm = r
		}
		if len(cc.Networks) == 0 {
			bad("%s (%s): networks is required", where, cc.Name)
		}
		for _, n := range cc.Networks {
			p, err := parseNetwork(n)
			if err != nil {
				bad("%s (%s): %w", where, cc.Name, err)
				continue
			}
			cl.networks = append(cl.networks, p)
		}
		secret := cc.Secret
		switch {
		case cc.Secret != "" && cc.SecretEnv != "":
			bad("%s (%s): set secret or secret_env, not both", where, cc.Name)
		case cc.SecretEnv != "":
			if secret = getenv(cc.SecretEnv); secret == "" {
				bad("%s (%s): environment variable %s (secret_env) is empty or unset", where, cc.Name, cc.SecretEnv)
			}
		case secret == "":
			bad("%s (%s): secret or secret_env is required", where, cc.Name)
		}
		cl.secret = []byte(secret)
		for j, ra := range cc.ReplyAttributes {
			if err := ra.check(); err != nil {
				bad("%s (%s).reply_attributes[%d]: %w", where, cc.Name, j, err)
			}
		}
		out = append(out, cl)
	}
	return out, errors.Join(errs...)
}

func parseNetwork(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("network %q is not a CIDR prefix: %w", s, err)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("network %q is neither an address nor a CIDR prefix", s)
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}

func (r ReplyAttribute) check() error {
	switch {
	case r.Type < 1 || r.Type > 255:
		return fmt.Errorf("type %d is not an attribute number (1-255)", r.Type)
	case r.Vendor == 0 && (r.Type == 26 || r.Type == 80 || r.Type == 24 || r.Type == 18):
		return fmt.Errorf("type %d is set by the door itself", r.Type)
	case (r.Value == "") == (r.From == ""):
		return errors.New("set exactly one of value and from")
	case r.Value != "" && !utf8.ValidString(r.Value):
		return errors.New("value is not UTF-8 text")
	}
	return nil
}

// clientFor returns the client addr belongs to, or nil.
func clientFor(clients []*client, addr netip.Addr) *client {
	addr = addr.Unmap()
	for _, c := range clients {
		for _, p := range c.networks {
			if p.Contains(addr) {
				return c
			}
		}
	}
	return nil
}
