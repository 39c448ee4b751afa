package linotp

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// OTPPin policies (LinOTP's otppin): what the start of pass is.
const (
	// PinPassword: pass starts with the user's password (LinOTP's otppin=1), checked by
	// the journey's password step. Default journey: linotp.
	PinPassword = "password"
	// PinToken: pass starts with the token's own PIN (otppin=0), which an administrator
	// sets per device; with content_type=0 pass is the PIN alone. The journey's
	// token_pin node checks it and binds the code or the push to that device. Default
	// journey: linotp-pin.
	PinToken = "token_pin"
	// PinNone: pass is the code alone (otppin=2); the calling gateway checks the
	// password itself. The door attests pwd (door.Start.Attested) for a flow without a
	// session, so its answer is a verdict for the gateway. Default journey: linotp-otp.
	PinNone = "none"
)

// defaultJourney is the journey each policy runs unless journey: names another.
var defaultJourney = map[string]string{PinPassword: "linotp", PinToken: "linotp-pin", PinNone: "linotp-otp"}

// Config is the config file's linotp section:
//
//	linotp: {enabled: true, journey: linotp, clients: [10.0.0.0/8], otppin: password}
type Config struct {
	// Enabled turns the door on; it is off by default.
	Enabled bool `yaml:"enabled"`
	// Journey is the journey every call runs (default: linotp for otppin password,
	// linotp-pin for token_pin, linotp-otp for none). It must fit the policy: New
	// refuses a journey that asks for a secret pass does not hold (see fits).
	Journey string `yaml:"journey"`
	// Clients are the networks (or addresses) allowed to call; required when enabled.
	// The address is the door core's client address (trusted proxies only).
	Clients []string `yaml:"clients"`
	// OTPPin is the otppin policy: password (the default), token_pin or none (see the
	// constants).
	OTPPin string `yaml:"otppin"`
	// OTPDigits is the length of the one-time code at the end of pass (default 6).
	OTPDigits int `yaml:"otp_digits"`
}

// networks is the parsed client list.
type networks []netip.Prefix

func (n networks) allow(ip string) bool {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range n {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// check fills defaults and returns the parsed client networks, or every problem.
func (c *Config) check() (networks, error) {
	var errs []error
	if c.OTPDigits == 0 {
		c.OTPDigits = 6
	}
	if c.OTPDigits < 6 || c.OTPDigits > 8 {
		errs = append(errs, fmt.Errorf("otp_digits %d is not 6, 7 or 8", c.OTPDigits))
	}
	switch c.OTPPin {
	case "":
		c.OTPPin = PinPassword
	case PinPassword, PinToken, PinNone:
	default:
		errs = append(errs, fmt.Errorf("otppin %q is not password, token_pin or none", c.OTPPin))
	}
	if c.Journey == "" {
		c.Journey = defaultJourney[c.OTPPin]
	}
	var nets networks
	for _, s := range c.Clients {
		s = strings.TrimSpace(s)
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				errs = append(errs, fmt.Errorf("clients: %q is not an address or a network (10.0.0.0/8)", s))
				continue
			}
			p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		nets = append(nets, p.Masked())
	}
	if len(c.Clients) == 0 {
		errs = append(errs, errors.New("clients is empty: list the networks allowed to call /validate (10.0.0.0/8)"))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("linotp: %w", errors.Join(errs...))
	}
	return nets, nil
}
