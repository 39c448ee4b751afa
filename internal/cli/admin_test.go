package cli

import (
	"flag"
	"net"
	"slices"
	"strings"
	"testing"
)

// TestParseInterleaved: flags may come before, between or after the positional
// arguments; "--" ends the flags.
func TestParseInterleaved(t *testing.T) {
	for _, tc := range []struct {
		args []string
		pos  []string
		end  bool
		url  string
	}{
		{[]string{"alice"}, []string{"alice"}, false, ""},
		{[]string{"alice", "--end"}, []string{"alice"}, true, ""},
		{[]string{"--end", "alice", "h1"}, []string{"alice", "h1"}, true, ""},
		{[]string{"alice", "--url", "http://x", "h1", "--end"}, []string{"alice", "h1"}, true, "http://x"},
		{[]string{"--url=http://y", "--", "--end"}, []string{"--end"}, false, "http://y"},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		end := fs.Bool("end", false, "")
		url := fs.String("url", "", "")
		pos, err := parseInterleaved(fs, tc.args)
		if err != nil {
			t.Fatalf("%q: %v", tc.args, err)
		}
		if !slices.Equal(pos, tc.pos) || *end != tc.end || *url != tc.url {
			t.Errorf("%q: positional %q end %t url %q, want %q %t %q", tc.args, pos, *end, *url, tc.pos, tc.end, tc.url)
		}
	}
}

// TestAdminUsage: bad usage of an admin command exits 2 before any request, and the
// offline journeys validate is still the default without a server or token.
func TestAdminUsage(t *testing.T) {
	t.Setenv(envToken, "")
	t.Setenv(envURL, "http://127.0.0.1:1") // nothing listens: a request would fail with 1
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"users without command", []string{"users"}, 2, "arbor users COMMAND"},
		{"users unknown", []string{"users", "frob"}, 2, `unknown command "frob"`},
		{"users get without name", []string{"users", "get"}, 2, "usage: arbor users get USERNAME"},
		{"users disable two names", []string{"users", "disable", "a", "b"}, 2, "usage: arbor users disable USERNAME"},
		{"sessions handle without --end", []string{"users", "sessions", "alice", "h1"}, 2, "--end"},
		{"bad attr", []string{"users", "add", "bob", "--attr", "novalue"}, 2, "want KEY=VALUE"},
		{"journeys get without name", []string{"journeys", "get"}, 2, "usage: arbor journeys get NAME"},
		{"rollback bad version", []string{"journeys", "rollback", "login", "latest"}, 2, `VERSION "latest" is not a version number`},
		{"diff bad version", []string{"journeys", "diff", "login", "1", "two"}, 2, `"two" is not a version number`},
		{"put missing file", []string{"journeys", "put", "/nonexistent/j.json"}, 2, "no such file"},
		{"unknown flag", []string{"journeys", "list", "--nope"}, 2, "not defined"},
		{"validate stays offline", []string{"journeys", "validate", "/nonexistent/j.json"}, 1, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := run(t, "", tc.args...)
			if code != tc.code || !strings.Contains(errs, tc.stderr) {
				t.Fatalf("exit %d, want %d; stderr lacks %q?\nstdout: %s\nstderr: %s", code, tc.code, tc.stderr, out, errs)
			}
		})
	}
}

// TestAdminUnreachable: a server that is not there is exit 1 with the URL tried.
func TestAdminUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // the port is now free: connections are refused
	code, _, errs := run(t, "", "journeys", "list", "--url", "http://"+addr, "--token", "arbor_x_y")
	if code != 1 || !strings.Contains(errs, "cannot reach the server at http://"+addr) {
		t.Fatalf("exit %d: %s", code, errs)
	}
}

// TestHelpListsAdminCommands: arbor help names every admin subcommand of users and
// journeys the dispatchers know.
func TestHelpListsAdminCommands(t *testing.T) {
	_, out, _ := run(t, "", "help")
	for name := range journeysAdminCmds() {
		if !strings.Contains(out, "arbor journeys "+name) && !strings.Contains(out, "|"+name) {
			t.Errorf("arbor help does not list arbor journeys %s", name)
		}
	}
	for _, name := range []string{"list", "add", "get", "disable", "enable", "unlock", "passwd", "sessions", "devices", "hash"} {
		if !strings.Contains(out, "arbor users "+name) && !strings.Contains(out, "|"+name+" ") {
			t.Errorf("arbor help does not list arbor users %s", name)
		}
	}
}
