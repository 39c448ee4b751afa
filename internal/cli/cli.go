// Package cli implements the arbor command's subcommands. Each returns an exit code:
// 0 success, 1 a failure the user can act on (invalid journey, failed login), 2 bad usage.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"github.com/arbor-auth/arbor/internal/app"
	"github.com/arbor-auth/arbor/internal/config"
	"github.com/arbor-auth/arbor/internal/journeytest"
	"github.com/arbor-auth/arbor/journeys"
	"github.com/arbor-auth/arbor/nodes"
)

const usage = `arbor: a self-hostable authentication journey engine

usage:
  arbor [serve] [flags]              run the server (see arbor serve -h)
  arbor login [--journey J] [--url U] sign in from a terminal over the REST API
  arbor device COMMAND               the reference push authenticator (see arbor device help)
  arbor journeys validate FILE...    check journey files offline; exit 1 listing every problem
  arbor journeys validate --server URL FILE... [--cases DIR]
                                     check them on a server (also when $ARBOR_TOKEN is set), and run test cases there
  arbor journeys import [-o DIR] FILE...  convert ForgeRock AM / frodo / amster exports to journey files
  arbor journeys export [-o FILE] NAME|FILE.json...  write journeys in frodo's export format
  arbor journeys test [--tap] [--journeys DIR] DIR...  run the journey test cases in DIR, without a server
  arbor journeys schema              print the JSON Schema of the journey format
  arbor journeys nodes               print the node palette as JSON
  arbor journeys nodes table         print the node types as a Markdown table
  arbor admin token create|list|revoke  manage admin API tokens on the server's store
  arbor users hash                   read a password on stdin, print its argon2id hash
  arbor bench [flags]                drive a journey over HTTP, report logins/s and latency
  arbor config table                 print every setting as a Markdown table
  arbor version                      print the version and how it was built
  arbor help                         print this list

Admin commands, through a running server's admin API (--url or $ARBOR_URL, default
http://127.0.0.1:8080; --token or $ARBOR_TOKEN; --json prints the API's answers;
exit 0 done, 1 refused with the server's message, 2 bad usage):
  arbor journeys list                list journeys: current version, enabled, saved when and by whom
  arbor journeys get NAME [--version N]  print a journey's document (the current version by default)
  arbor journeys put FILE [--if-version N]  save a journey: create it, or add a version
  arbor journeys rollback NAME VERSION   make a copy of an old version the current one
  arbor journeys diff NAME A B       the unified diff between two versions
  arbor journeys enable|disable NAME switch a journey on or off on every instance
  arbor journeys delete NAME         delete a journey and its versions
  arbor users list [--realm R]       list a realm's users
  arbor users add USERNAME [--attr K=V]...  create a user (password asked without echo, or piped)
  arbor users get USERNAME           show a user and their attributes
  arbor users disable|enable USERNAME  switch an account off (ending its sessions) or on
  arbor users unlock USERNAME        clear a lock
  arbor users passwd USERNAME [--must-change]  set a password; ends the user's sessions
  arbor users sessions USERNAME [--end [HANDLE]]  list a user's sessions, or end all or one
  arbor users devices USERNAME [--remove ID]  list a user's devices, or remove one
`

// Run runs the arbor command with args (without the program name).
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return serve(ctx, args, stdout, stderr)
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stdout, stderr)
	case "journeys":
		return journeysCmd(ctx, args[1:], stdin, stdout, stderr)
	case "users":
		return usersCmd(ctx, args[1:], stdin, stdout, stderr)
	case "bench":
		return bench(ctx, args[1:], stdout, stderr)
	case "admin":
		return adminCmd(ctx, args[1:], stdout, stderr)
	case "login":
		return loginCmd(ctx, args[1:], stdin, stdout, stderr)
	case "device":
		return deviceCmd(ctx, args[1:], stdout, stderr)
	case "config":
		if len(args) == 2 && args[1] == "table" {
			fmt.Fprint(stdout, config.Table())
			return 0
		}
		fmt.Fprint(stderr, "usage: arbor config table\n")
		return 2
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	case "version", "--version":
		fmt.Fprintln(stdout, version())
		return 0
	}
	fmt.Fprintf(stderr, "arbor: unknown command %q\n\n%s", args[0], usage)
	return 2
}

func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: lvl}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := config.Load(args, nil)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "arbor serve:", err)
		return 2
	}
	log := newLogger(cfg, stderr)
	defer app.StartGCFloor(uint64(cfg.GCHeapFloorMiB)<<20, log)()
	a, err := app.New(ctx, cfg, log, app.WithCaseRunner(journeytest.AdminRunner(journeytest.Options{Config: cfg.ConfigFile})))
	if err != nil {
		fmt.Fprintln(stderr, "arbor serve:", err)
		return 1
	}
	defer a.Close()
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		fmt.Fprintln(stderr, "arbor serve:", err)
		return 1
	}
	srv := &http.Server{
		Handler: a.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10,
	}
	addr := ln.Addr().String()
	backend := "embedded store in " + cfg.Data
	if cfg.Redis != "" {
		backend = "redis"
	}
	log.Info("arbor listening", "addr", addr, "store", backend)
	if cfg.Demo {
		base := browseURL(cfg.PublicURL, addr)
		fmt.Fprintf(stdout, `
Arbor is running on %[1]s with the demo user %[2]s / %[3]s (an admin).

  %[1]s/                          start page
  %[1]s/login?journey=push-mfa    sign in with push MFA in a browser
  %[1]s/account/devices           my devices and recovery codes
  %[1]s/admin/journeys            the journey viewer (admins)
  %[1]s/health/ready, /metrics    readiness and Prometheus metrics

Log in over the REST API:

  curl -s -X POST '%[1]s/json/realms/root/authenticate?authIndexType=service&authIndexValue=login'

then post the returned step back with IDToken1=%[2]s and IDToken2=%[3]s (see README).
`, base, app.DemoUser, app.DemoPassword)
		fmt.Fprint(stdout, pushDemoHint(a, base))
	}
	errc := make(chan error, 1+len(a.Listeners)+len(a.PacketListeners))
	go func() { errc <- srv.Serve(ln) }()
	extra := make([]*http.Server, 0, len(a.Listeners))
	for _, l := range a.Listeners {
		xl, err := net.Listen("tcp", l.Addr)
		if err != nil {
			fmt.Fprintf(stderr, "arbor serve: %s: %v\n", l.Name, err)
			return 1
		}
		xs := &http.Server{Handler: l.Handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
			WriteTimeout: 30 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10}
		extra = append(extra, xs)
		log.Info("listening", "what", l.Name, "addr", xl.Addr().String())
		go func() { errc <- xs.Serve(xl) }()
	}
	for _, pl := range a.PacketListeners {
		pc, err := net.ListenPacket(pl.Network, pl.Addr)
		if err != nil {
			fmt.Fprintf(stderr, "arbor serve: %s: %v\n", pl.Name, err)
			return 1
		}
		go func() { errc <- pl.Serve(pc) }()
	}
	select {
	case err := <-errc:
		fmt.Fprintln(stderr, "arbor serve:", err)
		return 1
	case <-ctx.Done():
	}
	log.Info("shutting down", "timeout", cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	for _, pl := range a.PacketListeners {
		_ = pl.Shutdown(sctx)
	}
	for _, xs := range extra {
		_ = xs.Shutdown(sctx)
	}
	if err := srv.Shutdown(sctx); err != nil {
		log.Error("shutdown", "err", err)
		return 1
	}
	return 0
}

// browseURL is the URL to print for the server: the public URL if set, else the
// listen address, with an unspecified host (0.0.0.0, ::) shown as localhost.
func browseURL(public, addr string) string {
	if public != "" {
		return strings.TrimSuffix(public, "/")
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// Registry returns the node registry with every family, as the app builds it, for
// commands that work offline.
func Registry() *nodes.Registry { return app.NewRegistry() }

func journeysCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, "usage: arbor journeys validate|import|export|test|schema|nodes|list|get|put|rollback|diff|enable|disable|delete ... (see arbor help)\n")
		return 2
	}
	if cmd, ok := journeysAdminCmds()[args[0]]; ok && (args[0] != "validate" || journeysOnServer(args[1:])) {
		return runAdmin(ctx, "arbor journeys "+args[0], cmd, args[1:], stdin, stdout, stderr)
	}
	switch args[0] {
	case "import":
		return journeysImport(args[1:], stdout, stderr)
	case "export":
		return journeysExport(args[1:], stdout, stderr)
	case "test":
		return journeysTest(args[1:], stdout, stderr)
	}
	reg := Registry()
	switch args[0] {
	case "schema":
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(journeys.Schema(reg))
		return 0
	case "nodes":
		if len(args) == 2 && args[1] == "table" {
			fmt.Fprint(stdout, reg.Table())
			return 0
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(reg.Types())
		return 0
	case "validate":
		files := args[1:]
		if len(files) == 0 {
			fmt.Fprint(stderr, "usage: arbor journeys validate FILE...\n")
			return 2
		}
		// Journeys validated together may refer to each other; built-ins count as known.
		known := map[string]bool{}
		if b, err := journeys.Builtin(); err == nil {
			for n := range b {
				known[n] = true
			}
		}
		docs := map[string][]byte{}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				fmt.Fprintf(stderr, "%s: %v\n", f, err)
				return 1
			}
			docs[f] = b
			var probe struct {
				Name string `json:"name"`
			}
			if json.Unmarshal(b, &probe) == nil && probe.Name != "" {
				known[probe.Name] = true
			}
		}
		opts := journeys.CompileOptions{Registry: reg, Deps: &nodes.Deps{}, Lookup: func(n string) bool { return known[n] }}
		bad := 0
		sort.Strings(files)
		for _, f := range files {
			if _, ps := journeys.Load(docs[f], opts); ps != nil {
				bad++
				fmt.Fprintf(stdout, "%s: %d problem(s)\n", f, len(ps))
				for _, p := range ps {
					fmt.Fprintf(stdout, "  %s\n", p)
				}
				continue
			}
			fmt.Fprintf(stdout, "%s: ok\n", f)
		}
		if bad > 0 {
			return 1
		}
		return 0
	}
	fmt.Fprintf(stderr, "arbor journeys: unknown subcommand %q\n", args[0])
	return 2
}

// version describes this binary from its build information: the module version (or
// "devel"), the VCS revision when it was recorded, and the Go version.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "arbor (no build information)"
	}
	v := bi.Main.Version
	if v == "" || v == "(devel)" {
		v = "devel"
	}
	out := "arbor " + v
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			out += " " + s.Value[:12]
		}
	}
	return out + " " + bi.GoVersion
}
