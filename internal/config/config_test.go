package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "arbor.yaml")
	os.WriteFile(file, []byte("listen: 0.0.0.0:1\nredis: redis://file\nsession_idle: 5m\nrealms: [alpha, beta]\npush:\n  rate_limit: 3\n"), 0o600)
	env := map[string]string{"ARBOR_REDIS": "redis://env", "ARBOR_DATA": "/env/data"}
	c, err := Load([]string{"--config", file, "--data", "/flag/data", "--demo"}, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct{ got, want any }{
		"file beats default": {c.Listen, "0.0.0.0:1"},
		"env beats file":     {c.Redis, "redis://env"},
		"flag beats env":     {c.Data, "/flag/data"},
		"bare bool flag":     {c.Demo, true},
		"duration from file": {c.SessionIdle, 5 * time.Minute},
		"default":            {c.CookieName, "iPlanetDirectoryPro"},
		"list from file":     {strings.Join(c.Realms, ","), "alpha,beta"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: got %v, want %v", name, tc.got, tc.want)
		}
	}
	if _, ok := c.Extra["push"]; !ok {
		t.Error("push section not kept for its owner")
	}
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("lisen: x\n"), 0o600)
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"unknown flag":     {[]string{"--nope"}, "not defined"},
		"bad duration":     {[]string{"--session-idle", "soon"}, "not a duration"},
		"bad bool":         {[]string{"--demo=maybe"}, "true or false"},
		"bad level":        {[]string{"--log-level", "loud"}, "log_level"},
		"unknown file key": {[]string{"--config", bad}, `unknown config key "lisen"`},
		"missing file":     {[]string{"--config", filepath.Join(dir, "none.yaml")}, "read config file"},
		"stray argument":   {[]string{"extra"}, "unexpected argument"},
	} {
		_, err := Load(tc.args, func(string) string { return "" })
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to mention %q", name, err, tc.want)
		}
	}
}

func TestTableListsEverySetting(t *testing.T) {
	tab := Table()
	for _, f := range Fields() {
		if !strings.Contains(tab, f.Env) {
			t.Errorf("table lacks %s", f.Env)
		}
	}
}

// TestReadmeTableIsCurrent keeps the README's configuration table generated from the
// declaration: regenerate it with `go run . config table`.
func TestReadmeTableIsCurrent(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), Table()) {
		t.Fatal("README.md's configuration table is stale: paste the output of `go run . config table`")
	}
}
