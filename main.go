// Command arbor is the Arbor authentication journey engine.
//
//	arbor [serve] [flags]                 run the server (the default)
//	arbor journeys validate FILE...       check journey files, exit 1 with every problem
//	arbor journeys schema                 print the JSON Schema of the journey format
//	arbor journeys nodes                  print the node palette (types, config, outcomes)
//	arbor users hash                      print an argon2id hash of a password read from stdin
//	arbor bench [flags]                   drive a journey over HTTP and report speed
//	arbor config table                    print the settings as a Markdown table
//
// This file is wiring only; each command lives in internal/cli.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/arbor-auth/arbor/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
