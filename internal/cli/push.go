package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/arbor-auth/arbor/authenticator"
	"github.com/arbor-auth/arbor/internal/app"
	"github.com/arbor-auth/arbor/push"
)

// deviceCmd runs the reference push authenticator (arbor device ...).
func deviceCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return authenticator.RunCLI(ctx, args, stdout, stderr)
}

// pushDemoHint is what `serve --demo` prints about trying push MFA with the reference
// authenticator; base is the server's URL as a browser on this machine reaches it.
func pushDemoHint(a *app.App, base string) string {
	limit := ""
	if a.Push != nil {
		rl := a.Push.RateLimit()
		limit = fmt.Sprintf("\nPushes are limited to %d per user per %s", rl.Count, rl.Window)
		if rl.Count == app.DemoPushRateCount {
			limit += fmt.Sprintf(" (a looser limit for --demo; the default is %d)", push.DefaultRateCount)
		}
		limit += ".\n"
	}
	return fmt.Sprintf(`
Push MFA demo (journey push-mfa), with the bundled reference authenticator:

  1. start:  %[2]s login --url %[1]s --journey push-mfa
     answer demo / Ch4ng31t, then choose "Register device" (README has the full walk-through);
  2. register the device with the command it prints:  %[2]s device register 'pushauth://...'
  3. on the next push:  %[2]s device pending   then   %[2]s device approve --number N
%[3]s`, base, selfCommand(), limit)
}
