package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/arbor-auth/arbor/internal/adminclient"
)

// The admin commands (`arbor users ...`, `arbor journeys list|get|put|...`) talk to a
// running server through its admin API (internal/adminclient), with the server's URL
// and an API token from the environment or flags. They exit 0 when the server did
// what was asked, 1 when it refused (its message on stderr) or could not be reached,
// and 2 on bad usage.

// Environment variables the admin commands read.
const (
	envURL   = "ARBOR_URL"
	envToken = "ARBOR_TOKEN"
)

// adminFlags are the flags every admin command takes.
type adminFlags struct {
	url, token string
	json       bool
}

// register adds --url (alias --server), --token and --json to fs, defaulting from the
// environment.
func (f *adminFlags) register(fs *flag.FlagSet) {
	def := os.Getenv(envURL)
	if def == "" {
		def = adminclient.DefaultURL
	}
	fs.StringVar(&f.url, "url", def, "the server's base URL (default $"+envURL+", else "+adminclient.DefaultURL+")")
	fs.StringVar(&f.url, "server", def, "the same as --url")
	fs.StringVar(&f.token, "token", os.Getenv(envToken), "API token (default $"+envToken+"); see arbor admin token create")
	fs.BoolVar(&f.json, "json", false, "print the API's JSON answers as they came (a refusal's too, besides the message on stderr)")
}

// client builds the API client; with --json it copies every answer to stdout.
func (f *adminFlags) client(stdout io.Writer) *adminclient.Client {
	c := &adminclient.Client{URL: f.url, Token: f.token, HTTP: &http.Client{Timeout: 60 * time.Second}}
	if f.json {
		c.OnResponse = func(_ int, body []byte) {
			var b bytes.Buffer
			if json.Indent(&b, body, "", "  ") != nil {
				return // not the API's JSON (a proxy's error page): the message says it
			}
			if b.Len() > 0 {
				b.WriteByte('\n')
				_, _ = stdout.Write(b.Bytes())
			}
		}
	}
	return c
}

// apiCmd is one admin-API subcommand: its usage line, its flags beyond the common ones,
// how many positional arguments it takes, and what it does.
type apiCmd struct {
	usage string
	// args is the number of positional arguments, or -1 for "one or more".
	args  int
	flags func(fs *flag.FlagSet)
	run   func(ctx context.Context, e *adminEnv) error
}

// adminEnv is what a running admin subcommand gets.
type adminEnv struct {
	c      *adminclient.Client
	args   []string
	json   bool
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// printf writes human output, unless --json prints the API's answers instead.
func (e *adminEnv) printf(format string, a ...any) {
	if !e.json {
		fmt.Fprintf(e.stdout, format, a...)
	}
}

// errUsage marks an error in what the user typed (exit 2).
var errUsage = errors.New("usage")

// runAdmin parses args for cmd (flags may come before or after the positional
// arguments) and runs it, mapping errors to exit codes.
func runAdmin(ctx context.Context, name string, cmd apiCmd, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var af adminFlags
	af.register(fs)
	if cmd.flags != nil {
		cmd.flags(fs)
	}
	fs.Usage = func() {
		group := name[:strings.LastIndexByte(name, ' ')] // "arbor users get" -> "arbor users"
		fmt.Fprintf(stderr, "usage: %s %s\n\n", group, cmd.usage)
		fs.PrintDefaults()
	}
	pos, err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return 2
	}
	if (cmd.args >= 0 && len(pos) != cmd.args) || (cmd.args < 0 && len(pos) == 0) {
		fs.Usage()
		return 2
	}
	e := &adminEnv{c: af.client(stdout), args: pos, json: af.json, stdin: stdin, stdout: stdout, stderr: stderr}
	err = cmd.run(ctx, e)
	if err == nil {
		return 0
	}
	if errors.Is(err, errReported) {
		return 1
	}
	if errors.Is(err, errUsage) {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 2
	}
	reportAdminError(stderr, name, af.url, err)
	return 1
}

// parseInterleaved parses flags wherever they appear among the positional arguments
// ("arbor users sessions alice --end"), and returns the positional ones. "--" ends the
// flags.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// reportAdminError writes the API's refusal, or why the server could not be asked, with
// what to do about the usual ones.
func reportAdminError(w io.Writer, name, url string, err error) {
	var ae *adminclient.Error
	if !errors.As(err, &ae) {
		fmt.Fprintf(w, "%s: cannot reach the server at %s: %v\n", name, url, errors.Unwrap(err))
		return
	}
	fmt.Fprintf(w, "%s: %s\n", name, ae.Message)
	hint := ""
	switch {
	case ae.Status == http.StatusUnauthorized:
		hint = "give a valid API token with --token or " + envToken + "; arbor admin token create makes one"
	case ae.Code == "admin.step_up_required":
		hint = "sign in again at the account's strongest level, or use an API token"
	case ae.Status == http.StatusForbidden:
		hint = "the token lacks the scope this needs (journeys:write, users:write, ...)"
	case ae.Status == http.StatusNotFound && ae.Code == "":
		hint = "is " + url + " an Arbor server with the admin API?"
	}
	for _, p := range ae.Problems {
		fmt.Fprintf(w, "  %s\n", p)
	}
	if hint != "" {
		fmt.Fprintf(w, "(%s)\n", hint)
	}
}

// table returns a writer that aligns tab-separated columns; Flush writes them.
func table(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0) }

// when formats a time for a table; the zero time is "-".
func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

// orDash is s, or "-" when empty.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
