package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/arbor-auth/arbor/identity"
	"github.com/arbor-auth/arbor/internal/adminclient"
)

// usersUsage lists the users subcommands.
const usersUsage = `usage: arbor users COMMAND [flags]

  list                        the realm's users
  add USERNAME                create a user; the password is asked (no echo) or read from stdin
  get USERNAME                one user, with attributes
  disable|enable USERNAME     switch an account off (ending its sessions) or on
  unlock USERNAME             clear a lock
  passwd USERNAME [--must-change]  set a new password (asked, or read from stdin); ends the user's sessions;
                              --must-change makes the user choose their own at the next sign-in
  sessions USERNAME [--end [HANDLE]]  list the user's sessions, or end all or one
  devices USERNAME [--remove ID]      list the user's devices, or remove one
  devices pin USERNAME DEVICE [--clear]  set a device's token PIN (asked, or read from stdin;
                              never an argument), or clear it
  hash                        read a password on stdin, print its argon2id hash (offline)

Every command but hash talks to a running server's admin API: --url (default $ARBOR_URL,
else http://127.0.0.1:8080), --token (default $ARBOR_TOKEN), --realm (default /), --json.
`

// usersCmd runs `arbor users ...`.
func usersCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usersUsage)
		return 2
	}
	if args[0] == "hash" {
		if len(args) != 1 {
			fmt.Fprint(stderr, "usage: echo -n PASSWORD | arbor users hash\n")
			return 2
		}
		h, err := identity.HashFromReader(stdin, identity.DefaultParams)
		if err != nil {
			fmt.Fprintln(stderr, "arbor users hash:", err)
			return 1
		}
		fmt.Fprintln(stdout, h)
		return 0
	}
	if args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stdout, usersUsage)
		return 0
	}
	var realm string
	withRealm := func(extra func(fs *flag.FlagSet)) func(fs *flag.FlagSet) {
		return func(fs *flag.FlagSet) {
			fs.StringVar(&realm, "realm", "/", "the users' realm (/, /alpha, ...)")
			if extra != nil {
				extra(fs)
			}
		}
	}
	var (
		attrs      attrFlag
		status     string
		noPassword bool
		mustChange bool
		end        bool
		remove     string
		clearPIN   bool
	)
	cmds := map[string]apiCmd{
		"list": {usage: "list [--realm R]", args: 0, flags: withRealm(nil), run: func(ctx context.Context, e *adminEnv) error {
			us, err := e.c.ListUsers(ctx, realm)
			if err != nil || e.json {
				return err
			}
			tw := table(e.stdout)
			fmt.Fprintln(tw, "USERNAME\tSTATUS\tLOCKED\tCREATED")
			for _, u := range us {
				fmt.Fprintf(tw, "%s\t%s\t%t\t%s\n", u.Username, u.Status, u.Locked, when(u.Created))
			}
			return tw.Flush()
		}},
		"add": {usage: "add USERNAME [--attr KEY=VALUE]... [--status active|disabled] [--no-password]", args: 1,
			flags: withRealm(func(fs *flag.FlagSet) {
				fs.Var(&attrs, "attr", "an attribute KEY=VALUE (repeatable; a VALUE of JSON, like [\"admin\"], is taken as JSON)")
				fs.StringVar(&status, "status", "", "the account's status (default active)")
				fs.BoolVar(&noPassword, "no-password", false, "create the user without a password")
			}),
			run: func(ctx context.Context, e *adminEnv) error {
				nu := adminclient.NewUser{Username: e.args[0], Attributes: attrs.m, Status: status}
				if !noPassword {
					pw, err := readNewPassword(ctx, e, e.args[0])
					if err != nil {
						return err
					}
					nu.Password = pw
				}
				u, err := e.c.CreateUser(ctx, realm, nu)
				if err != nil {
					return err
				}
				e.printf("created user %s in realm %s (%s)\n", u.Username, orDash(u.Realm), u.Status)
				return nil
			}},
		"get": {usage: "get USERNAME", args: 1, flags: withRealm(nil), run: func(ctx context.Context, e *adminEnv) error {
			u, err := e.c.GetUser(ctx, realm, e.args[0])
			if err != nil || e.json {
				return err
			}
			printUser(e.stdout, u)
			return nil
		}},
		"disable": userStateCmd(&realm, "disable", "disabled", (*adminclient.Client).DisableUser, withRealm(nil)),
		"enable":  userStateCmd(&realm, "enable", "enabled", (*adminclient.Client).EnableUser, withRealm(nil)),
		"unlock":  userStateCmd(&realm, "unlock", "unlocked", (*adminclient.Client).UnlockUser, withRealm(nil)),
		"passwd": {usage: "passwd USERNAME [--must-change]", args: 1, flags: withRealm(func(fs *flag.FlagSet) {
			fs.BoolVar(&mustChange, "must-change", false, "a temporary password: a journey's password_change node asks the user for a new one")
		}),
			run: func(ctx context.Context, e *adminEnv) error {
				pw, err := readNewPassword(ctx, e, e.args[0])
				if err != nil {
					return err
				}
				if err := e.c.ResetPassword(ctx, realm, e.args[0], pw, mustChange); err != nil {
					return err
				}
				e.printf("password of %s set; the user's sessions were ended\n", e.args[0])
				if mustChange {
					e.printf("%s must choose a new password at the next sign-in\n", e.args[0])
				}
				return nil
			}},
		"sessions": {usage: "sessions USERNAME [--end [HANDLE]]", args: -1,
			flags: withRealm(func(fs *flag.FlagSet) {
				fs.BoolVar(&end, "end", false, "end the user's sessions (all, or the one HANDLE)")
			}),
			run: func(ctx context.Context, e *adminEnv) error {
				if len(e.args) > 2 || (len(e.args) == 2 && !end) {
					return fmt.Errorf("%w: arbor users sessions USERNAME [--end [HANDLE]]", errUsage)
				}
				if end {
					handle := ""
					if len(e.args) == 2 {
						handle = e.args[1]
					}
					if err := e.c.EndSessions(ctx, realm, e.args[0], handle); err != nil {
						return err
					}
					if handle == "" {
						e.printf("ended every session of %s\n", e.args[0])
					} else {
						e.printf("ended session %s of %s\n", handle, e.args[0])
					}
					return nil
				}
				ss, err := e.c.Sessions(ctx, realm, e.args[0])
				if err != nil || e.json {
					return err
				}
				tw := table(e.stdout)
				fmt.Fprintln(tw, "HANDLE\tCREATED\tEXPIRES\tLEVEL\tFACTORS\tJOURNEY")
				for _, s := range ss {
					journey := orDash(s.Journey)
					if s.Restricted {
						journey += " (restricted)"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", s.Handle, when(s.Created), when(s.Expires), s.Level,
						orDash(strings.Join(s.Factors, ",")), journey)
				}
				return tw.Flush()
			}},
		"devices": {usage: "devices USERNAME [--remove ID] | devices pin USERNAME DEVICE [--clear]", args: -1,
			flags: withRealm(func(fs *flag.FlagSet) {
				fs.StringVar(&remove, "remove", "", "remove the device ID")
				fs.BoolVar(&clearPIN, "clear", false, "with pin: clear the device's token PIN instead of setting one")
			}),
			run: func(ctx context.Context, e *adminEnv) error {
				if len(e.args) == 3 && e.args[0] == "pin" {
					return devicePIN(ctx, e, realm, e.args[1], e.args[2], clearPIN)
				}
				if len(e.args) != 1 || clearPIN {
					return fmt.Errorf("%w: arbor users devices USERNAME [--remove ID], or arbor users devices pin USERNAME DEVICE [--clear]", errUsage)
				}
				if remove != "" {
					if err := e.c.RemoveDevice(ctx, realm, e.args[0], remove); err != nil {
						return err
					}
					e.printf("removed device %s of %s\n", remove, e.args[0])
					return nil
				}
				ds, err := e.c.Devices(ctx, realm, e.args[0])
				if err != nil || e.json {
					return err
				}
				tw := table(e.stdout)
				fmt.Fprintln(tw, "ID\tKIND\tNAME\tCREATED\tLAST USED\tPIN")
				for _, d := range ds {
					pin := "-"
					if d.HasPIN {
						pin = "set"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", d.ID, d.Kind, orDash(d.Name), when(d.Created), when(d.LastUsed), pin)
				}
				return tw.Flush()
			}},
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "arbor users: unknown command %q\n\n%s", args[0], usersUsage)
		return 2
	}
	return runAdmin(ctx, "arbor users "+args[0], cmd, args[1:], stdin, stdout, stderr)
}

// devicePIN sets the token PIN of user's device id, read from the terminal (asked twice,
// no echo) or the first line of stdin, never from the command line; or, with clear,
// clears it.
func devicePIN(ctx context.Context, e *adminEnv, realm, user, id string, clear bool) error {
	if clear {
		if err := e.c.ClearDevicePIN(ctx, realm, user, id); err != nil {
			return err
		}
		e.printf("cleared the PIN of device %s of %s\n", id, user)
		return nil
	}
	pin, err := readNewSecret(ctx, e, "PIN", "New PIN for device "+id+" of "+user, "use --clear to remove the PIN")
	if err != nil {
		return err
	}
	if err := e.c.SetDevicePIN(ctx, realm, user, id, pin); err != nil {
		return err
	}
	e.printf("set the PIN of device %s of %s\n", id, user)
	return nil
}

// userStateCmd is disable, enable or unlock: one call that answers the user.
func userStateCmd(realm *string, verb, done string, call func(*adminclient.Client, context.Context, string, string) (*adminclient.User, error),
	flags func(fs *flag.FlagSet)) apiCmd {
	return apiCmd{usage: verb + " USERNAME", args: 1, flags: flags,
		run: func(ctx context.Context, e *adminEnv) error {
			u, err := call(e.c, ctx, *realm, e.args[0])
			if err != nil {
				return err
			}
			e.printf("%s %s (status %s, locked %t)\n", done, u.Username, u.Status, u.Locked)
			return nil
		}}
}

// printUser writes a user as "key: value" lines, attributes sorted.
func printUser(w io.Writer, u *adminclient.User) {
	tw := table(w)
	fmt.Fprintf(tw, "username:\t%s\n", u.Username)
	fmt.Fprintf(tw, "realm:\t%s\n", u.Realm)
	fmt.Fprintf(tw, "status:\t%s\n", u.Status)
	fmt.Fprintf(tw, "locked:\t%t\n", u.Locked)
	fmt.Fprintf(tw, "has password:\t%t\n", u.HasPassword)
	fmt.Fprintf(tw, "created:\t%s\n", when(u.Created))
	fmt.Fprintf(tw, "updated:\t%s\n", when(u.Updated))
	keys := make([]string, 0, len(u.Attributes))
	for k := range u.Attributes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(tw, "attribute %s:\t%v\n", k, jsonText(u.Attributes[k]))
	}
	_ = tw.Flush()
}

// readNewPassword asks for the new password of user without echo (twice, to catch a
// typo) when stdin is a terminal, or reads one line from stdin when it is piped. The
// prompts go to stderr, so stdout stays the command's answer.
func readNewPassword(ctx context.Context, e *adminEnv, user string) (string, error) {
	return readNewSecret(ctx, e, "password", "New password for "+user, "use --no-password for a user without one")
}

// readNewSecret reads a new secret (what: "password", "PIN") as readNewPassword does,
// never from the command line, so it stays out of shell histories and process lists.
// emptyHint says what to do instead of an empty one.
func readNewSecret(ctx context.Context, e *adminEnv, what, prompt, emptyHint string) (string, error) {
	con := newConsole(e.stdin, e.stderr)
	var pw string
	var err error
	if con.fd >= 0 {
		pw, err = con.ask(ctx, prompt, true)
		if err == nil {
			var again string
			if again, err = con.ask(ctx, "Again", true); err == nil && again != pw {
				return "", fmt.Errorf("%w: the two %ss differ", errUsage, what)
			}
		}
	} else {
		// Piped: the first line is the secret, with no prompt to clutter a script's
		// output.
		a := <-con.read(false)
		pw, err = a.line, a.err
	}
	if err != nil {
		return "", fmt.Errorf("%w: read the %s: %v", errUsage, what, err)
	}
	if pw == "" {
		return "", fmt.Errorf("%w: the %s is empty (%s)", errUsage, what, emptyHint)
	}
	return pw, nil
}

// attrFlag collects --attr KEY=VALUE flags; a VALUE that parses as JSON (a list, a
// number, true) is taken as that JSON value, anything else as a string.
type attrFlag struct{ m map[string]any }

// String shows the attributes set so far.
func (a *attrFlag) String() string {
	if a == nil || len(a.m) == 0 {
		return ""
	}
	return fmt.Sprint(a.m)
}

// Set adds one KEY=VALUE.
func (a *attrFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return errors.New("want KEY=VALUE")
	}
	if a.m == nil {
		a.m = map[string]any{}
	}
	a.m[k] = jsonOrString(v)
	return nil
}

// jsonOrString is v as a JSON value if it is one, else v as a string.
func jsonOrString(v string) any {
	var x any
	if json.Unmarshal([]byte(v), &x) == nil {
		return x
	}
	return v
}

// jsonText shows an attribute value: strings as they are, anything else as JSON.
func jsonText(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
