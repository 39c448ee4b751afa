package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/arbor-auth/arbor/admin"
	"github.com/arbor-auth/arbor/door"
)

const adminUsage = `usage:
  arbor admin token create --name NAME --scope SCOPE[,SCOPE] [--expires 720h] [--realm R[,R]] [--data DIR | --redis URL]
  arbor admin token list [--data DIR | --redis URL]
  arbor admin token revoke [--data DIR | --redis URL] ID

Manages the admin API's tokens offline, on the server's store (the same --data or --redis
as arbor serve; the embedded store can only be opened while the server is stopped).
create prints the token once: it is stored only as a hash. Scopes: ` + "journeys:read, journeys:write, users:read, users:write" + `
(a write scope implies its read scope). --realm restricts a token to the users of those
realms; such a token cannot manage journeys, which every realm shares.
`

// adminCmd runs `arbor admin ...`.
func adminCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) < 2 || args[0] != "token" {
		fmt.Fprint(stderr, adminUsage)
		return 2
	}
	verb, args := args[1], args[2:]
	fs := flag.NewFlagSet("arbor admin token "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, adminUsage) }
	data := fs.String("data", "./data", "directory of the embedded store (as arbor serve --data)")
	redisURL := fs.String("redis", "", "Redis URL of the store (as arbor serve --redis)")
	var name, scopes, realms *string
	var expires *time.Duration
	switch verb {
	case "create":
		name = fs.String("name", "", "the token's label (required)")
		scopes = fs.String("scope", "", "comma-separated scopes (required)")
		realms = fs.String("realm", "", "comma-separated realms the token may manage users of (default: every realm)")
		expires = fs.Duration("expires", 720*time.Hour, "lifetime of the token")
	case "list", "revoke":
	default:
		fmt.Fprint(stderr, adminUsage)
		return 2
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if (verb == "revoke") != (fs.NArg() == 1) || (verb != "revoke" && fs.NArg() != 0) {
		fmt.Fprint(stderr, adminUsage)
		return 2
	}
	st, err := openStore(*data, *redisURL)
	if err != nil {
		fmt.Fprintf(stderr, "arbor admin token %s: %v\n", verb, err)
		return 1
	}
	defer st.Close()
	ts := admin.NewTokens(st, nil)
	fail := func(err error) int {
		fmt.Fprintf(stderr, "arbor admin token %s: %v\n", verb, err)
		return 1
	}
	switch verb {
	case "create":
		n := admin.NewToken{Name: *name, TTL: *expires}
		for _, s := range splitList(*scopes) {
			n.Scopes = append(n.Scopes, admin.Scope(s))
		}
		for _, r := range splitList(*realms) {
			nr, err := door.NormalizeRealm(r)
			if err != nil {
				return fail(err)
			}
			n.Realms = append(n.Realms, nr)
		}
		tok, t, err := ts.Create(ctx, n)
		if err != nil {
			return fail(err)
		}
		fmt.Fprintln(stdout, tok)
		fmt.Fprintf(stderr, "token %s (%s) expires %s; it is shown only now.\n", t.ID, t.Name, t.Expires.Format(time.RFC3339))
	case "list":
		list, err := ts.List(ctx)
		if err != nil {
			return fail(err)
		}
		w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "ID\tNAME\tSCOPES\tREALMS\tEXPIRES")
		for _, t := range list {
			sc := make([]string, len(t.Scopes))
			for i, s := range t.Scopes {
				sc[i] = string(s)
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, strings.Join(sc, ","), strings.Join(t.Realms, ","), t.Expires.Format(time.RFC3339))
		}
		_ = w.Flush()
	case "revoke":
		if err := ts.Revoke(ctx, fs.Arg(0)); err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "revoked %s\n", fs.Arg(0))
	}
	return 0
}

// splitList splits a comma-separated flag value, dropping empty entries.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
