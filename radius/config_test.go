package radius

import (
	"net/netip"
	"strings"
	"testing"
)

func TestConfigResolve(t *testing.T) {
	env := map[string]string{"RADIUS_SECRET": "from-env"}
	getenv := func(k string) string { return env[k] }
	tests := []struct {
		name string
		cfg  Config
		want []string // substrings of the error, every one; none for a good config
	}{
		{name: "good", cfg: Config{Listen: ":1812", Clients: []ClientConfig{
			{Name: "vpn-gw", Networks: []string{"10.0.0.0/8", "192.0.2.1"}, SecretEnv: "RADIUS_SECRET"},
			{Name: "fw", Networks: []string{"::1"}, Secret: "s", ReplyAttributes: []ReplyAttribute{{Vendor: 12356, Type: 1, From: "groups"}, {Type: 27, Value: "3600", Integer: true}}},
		}}},
		{name: "no clients", cfg: Config{Listen: ":1812"}, want: []string{"no clients"}},
		{name: "every problem at once", cfg: Config{Listen: ":1812", MaxHold: -1, Clients: []ClientConfig{
			{Networks: []string{"10.0.0.0/33"}, Secret: "s"},
			{Name: "a", Networks: []string{"nonsense"}, Secret: "s", SecretEnv: "RADIUS_SECRET"},
			{Name: "a", SecretEnv: "UNSET"},
			{Name: "b", Networks: []string{"10.0.0.0/8"}},
			{Name: "c", Networks: []string{"10.0.0.0/8"}, Secret: "s", ReplyAttributes: []ReplyAttribute{
				{Type: 0, Value: "x"}, {Type: 24, Value: "x"}, {Type: 1}, {Type: 1, Value: "x", From: "y"}}},
		}}, want: []string{
			"max_hold and duplicate_window", "radius.clients[0]: name is required", "10.0.0.0/33", `"nonsense"`,
			"set secret or secret_env, not both", `name "a" is used twice`, "UNSET (secret_env) is empty", "(a): networks is required",
			"(b): secret or secret_env is required", "reply_attributes[0]: type 0", "reply_attributes[1]: type 24 is set by the door",
			"reply_attributes[2]: set exactly one", "reply_attributes[3]: set exactly one",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clients, err := tc.cfg.resolve(getenv)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if string(clients[0].secret) != "from-env" || clients[0].journey != "radius" || clients[0].realm != "/" {
					t.Errorf("client %+v", clients[0])
				}
				for addr, want := range map[string]string{"10.1.2.3": "vpn-gw", "192.0.2.1": "vpn-gw", "::ffff:10.9.9.9": "vpn-gw", "::1": "fw", "192.0.2.2": "", "11.0.0.1": ""} {
					got := ""
					if c := clientFor(clients, netip.MustParseAddr(addr)); c != nil {
						got = c.name
					}
					if got != want {
						t.Errorf("%s belongs to %q, want %q", addr, got, want)
					}
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}
