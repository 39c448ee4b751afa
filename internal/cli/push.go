package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/arbor-auth/arbor/authenticator"
)

func init() {
	commands["device"] = func(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
		return authenticator.RunCLI(ctx, args, stdout, stderr)
	}
	demoHints = append(demoHints, func(addr string) string {
		return fmt.Sprintf(`
Push MFA demo (journey push-mfa), with the bundled reference authenticator:

  1. start:  curl -s -X POST 'http://%[1]s/json/realms/root/authenticate?authIndexType=service&authIndexValue=push-mfa'
     and answer with demo / Ch4ng31t, then choose "Register device" (README has the full walk-through);
  2. register the device from the pushauth:// URI the step returns:  arbor device register 'pushauth://...'
  3. on the next push:  arbor device pending   then   arbor device approve --number N
`, addr)
	})
}
