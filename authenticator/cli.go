package authenticator

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"
)

// EnvFile names the environment variable that overrides the default account file.
const EnvFile = "ARBOR_DEVICE_FILE"

// DefaultFile returns the account file used when neither --file nor ARBOR_DEVICE_FILE
// is given: $HOME/.arbor/devices.json.
func DefaultFile() string {
	if f := os.Getenv(EnvFile); f != "" {
		return f
	}
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		return filepath.Join(".arbor", "devices.json")
	}
	return filepath.Join(home, ".arbor", "devices.json")
}

const cliUsage = `Usage: arbor device [--file PATH] COMMAND [ARGS]

The reference authenticator: it does what the authenticator app on a phone does.

Commands:
  register URI [--name NAME] [--communication poll|webhook|fcm|apns|log] [--token TOKEN]
                        register with a pushauth:// URI (the QR code's content), or
                        add one-time codes from an otpauth:// URI
  code [--account NAME] print the current one-time code (of the newest otpauth://
                        account, or the one whose issuer, account name or id is NAME)
  list                  list registered accounts
  pending               show pushes waiting for an answer
  approve [--number N] [--transaction ID] [MESSAGE_ID]
                        approve a push (the newest if no id); number-matching
                        pushes need the number shown on the login page; with
                        --transaction, only the push of that transaction
  deny [--transaction ID] [MESSAGE_ID]
                        deny a push (the newest if no id)
  forget DEVICE_ID      remove an account from this authenticator (a device removed on
                        the server); the server is not told

Options:
  --file PATH           account file (default $ARBOR_DEVICE_FILE or $HOME/.arbor/devices.json)
`

// RunCLI runs `arbor device` with args (the words after "device") and returns the exit
// status: 0 on success, 1 when the command failed, 2 for a usage error.
func RunCLI(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := &cli{stdout: stdout, stderr: stderr, file: DefaultFile()}
	fs := c.flags("device")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return c.usage(err)
	}
	if len(pos) == 0 {
		return c.usage(errors.New("no command given"))
	}
	cmd, rest := pos[0], pos[1:]
	switch cmd {
	case "help", "-h", "--help":
		fmt.Fprint(stdout, cliUsage)
		return 0
	case "register":
		return c.register(ctx, rest)
	case "code":
		return c.code(rest)
	case "list":
		return c.list(rest)
	case "pending":
		return c.pending(ctx, rest)
	case "approve":
		return c.answer(ctx, rest, true)
	case "deny":
		return c.answer(ctx, rest, false)
	case "forget":
		return c.forget(rest)
	}
	return c.usage(fmt.Errorf("unknown command %q", cmd))
}

type cli struct {
	stdout, stderr io.Writer
	file           string
	// per-command flags
	name, comm, token    string
	account, transaction string
	number               int
}

// flags returns a flag set knowing every option, so that options may appear before or
// after the command and its arguments.
func (c *cli) flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&c.file, "file", c.file, "account file")
	fs.StringVar(&c.name, "name", "", "device name")
	fs.StringVar(&c.comm, "communication", "poll", "how the server reaches the device")
	fs.StringVar(&c.token, "token", "", "push token")
	fs.IntVar(&c.number, "number", 0, "the number shown on the login page")
	fs.StringVar(&c.account, "account", "", "one-time code account")
	fs.StringVar(&c.transaction, "transaction", "", "the transaction id the push must be bound to")
	return fs
}

// parseInterleaved parses flags wherever they appear among positional arguments.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func (c *cli) usage(err error) int {
	fmt.Fprintf(c.stderr, "arbor device: %v\n\n%s", err, cliUsage)
	return 2
}

func (c *cli) fail(err error) int {
	fmt.Fprintf(c.stderr, "arbor device: %v\n", err)
	return 1
}

func (c *cli) open() (*Authenticator, error) {
	return Open(c.file)
}

func (c *cli) register(ctx context.Context, args []string) int {
	if len(args) != 1 {
		return c.usage(errors.New("register needs exactly one URI (quote it: it contains '&')"))
	}
	a, err := c.open()
	if err != nil {
		return c.fail(err)
	}
	if strings.HasPrefix(strings.TrimSpace(args[0]), "otpauth:") {
		acc, err := a.AddCodeAccount(args[0])
		if err != nil {
			return c.fail(err)
		}
		fmt.Fprintf(c.stdout, "Added one-time codes (%s) for %s at %s.\nAccounts are in %s. Print a code with: arbor device code\n",
			strings.ToUpper(string(acc.Kind)), acc.AccountName, acc.Issuer, a.Path())
		return 0
	}
	acc, err := a.Register(ctx, args[0], RegisterOptions{Name: c.name, Communication: c.comm, Token: c.token})
	if err != nil {
		return c.fail(err)
	}
	fmt.Fprintf(c.stdout, "Registered %s for %s with %s (device %s, %s).\nAccounts are in %s.\n",
		acc.Issuer, label(*acc), host(acc.RegisterURL), acc.ID, acc.Communication, a.Path())
	return 0
}

func label(acc Account) string {
	if acc.AccountName != "" {
		return acc.AccountName
	}
	return acc.Username
}

func host(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.Host != "" {
		return u.Host
	}
	return raw
}

func (c *cli) list(args []string) int {
	if len(args) != 0 {
		return c.usage(errors.New("list takes no arguments"))
	}
	a, err := c.open()
	if err != nil {
		return c.fail(err)
	}
	accs, codes := a.Accounts(), a.CodeAccounts()
	if len(accs) == 0 && len(codes) == 0 {
		fmt.Fprintf(c.stdout, "No accounts in %s. Register one with: arbor device register 'pushauth://...' (or 'otpauth://...')\n", a.Path())
		return 0
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DEVICE ID\tISSUER\tACCOUNT\tSERVER\tVIA\tREGISTERED")
	for _, acc := range accs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", acc.ID, acc.Issuer, label(acc), host(acc.AuthenticateURL),
			acc.Communication, acc.Created.Local().Format(time.DateTime))
	}
	for _, acc := range codes {
		fmt.Fprintf(tw, "%s\t%s\t%s\t-\t%s\t%s\n", acc.ID, acc.Issuer, acc.AccountName,
			strings.ToUpper(string(acc.Kind)), acc.Created.Local().Format(time.DateTime))
	}
	tw.Flush()
	return 0
}

// code prints the code alone on stdout, so that scripts can read it, and how long it
// stays valid on stderr.
func (c *cli) code(args []string) int {
	if len(args) != 0 {
		return c.usage(errors.New("code takes no arguments (choose an account with --account)"))
	}
	a, err := c.open()
	if err != nil {
		return c.fail(err)
	}
	code, acc, valid, err := a.Code(c.account)
	if errors.Is(err, ErrNoCodeAccount) {
		return c.fail(fmt.Errorf("%w in %s; add one with: arbor device register 'otpauth://...'", err, a.Path()))
	}
	if err != nil {
		return c.fail(err)
	}
	fmt.Fprintln(c.stdout, code)
	if valid > 0 {
		fmt.Fprintf(c.stderr, "%s at %s, valid for %s\n", acc.AccountName, acc.Issuer, valid.Round(time.Second))
	}
	return 0
}

func (c *cli) pending(ctx context.Context, args []string) int {
	if len(args) != 0 {
		return c.usage(errors.New("pending takes no arguments"))
	}
	a, err := c.open()
	if err != nil {
		return c.fail(err)
	}
	list, err := a.Pending(ctx)
	if err != nil {
		fmt.Fprintf(c.stderr, "arbor device: warning: %v\n", err)
		if errors.Is(err, ErrDeviceRemoved) {
			fmt.Fprintln(c.stderr, "  a device removed on the server cannot be used again: run arbor device forget DEVICE_ID (see arbor device list), then register anew")
		}
	}
	if len(list) == 0 {
		if err != nil {
			return 1
		}
		fmt.Fprintln(c.stdout, "No pending push.")
		return 0
	}
	for _, n := range list {
		if n.TransactionID != "" {
			fmt.Fprintf(c.stdout, "%s\n  transaction %s for %s (%s):\n  %q\n", n.MessageID, n.TransactionID, n.Username, n.Issuer, n.Message)
		} else {
			fmt.Fprintf(c.stdout, "%s\n  %s (%s, %s)\n", n.MessageID, n.Message, n.Issuer, n.Username)
		}
		if len(n.Numbers) > 0 {
			fmt.Fprintf(c.stdout, "  pick the number shown on the login page: %s\n", joinInts(n.Numbers, "  "))
		}
		if n.Type == "biometric" {
			fmt.Fprintln(c.stdout, "  asks for biometric confirmation (the reference authenticator has none)")
		}
		for _, k := range []string{"remoteIp", "userAgent"} {
			if v, ok := n.ContextInfo[k]; ok {
				fmt.Fprintf(c.stdout, "  %s: %v\n", k, v)
			}
		}
		fmt.Fprintf(c.stdout, "  expires in %s\n", n.Expires.Sub(a.Now()).Round(time.Second))
	}
	return 0
}

func (c *cli) answer(ctx context.Context, args []string, approve bool) int {
	verb := "deny"
	if approve {
		verb = "approve"
	}
	if len(args) > 1 {
		return c.usage(fmt.Errorf("%s takes at most one MESSAGE_ID", verb))
	}
	if !approve && c.number != 0 {
		return c.usage(errors.New("deny takes no --number"))
	}
	a, err := c.open()
	if err != nil {
		return c.fail(err)
	}
	id := ""
	switch {
	case c.transaction != "":
		n, err := a.ForTransaction(ctx, c.transaction)
		if err != nil {
			return c.fail(err)
		}
		if len(args) == 1 && args[0] != n.MessageID {
			return c.fail(fmt.Errorf("push %s is not the one of transaction %s (%s is)", args[0], c.transaction, n.MessageID))
		}
		id = n.MessageID
	case len(args) == 1:
		id = args[0]
	default:
		list, perr := a.Pending(ctx)
		if len(list) == 0 {
			if perr != nil {
				return c.fail(fmt.Errorf("%w (%v)", ErrNoPending, perr))
			}
			return c.fail(ErrNoPending)
		}
		id = list[len(list)-1].MessageID
	}
	if approve {
		err = a.Approve(ctx, id, c.number)
	} else {
		err = a.Deny(ctx, id)
	}
	var ne *NumberError
	if errors.As(err, &ne) && errors.Is(err, ErrNumberRejected) {
		fmt.Fprintf(c.stderr, "arbor device: %s: the server denied the login: %d is not the number shown on the login page\n", id, c.number)
		return 1
	}
	if errors.As(err, &ne) {
		fmt.Fprintf(c.stderr, "arbor device: %v\n  run: arbor device approve --number N %s   (N one of %s)\n",
			ne.Err, id, joinInts(ne.Offered, ", "))
		return 1
	}
	if err != nil {
		return c.fail(err)
	}
	if approve {
		fmt.Fprintf(c.stdout, "Approved %s: the server accepted the approval.\n", id)
	} else {
		fmt.Fprintf(c.stdout, "Denied %s: the server recorded the denial.\n", id)
	}
	return 0
}

func (c *cli) forget(args []string) int {
	if len(args) != 1 {
		return c.usage(errors.New("forget needs exactly one DEVICE_ID (see arbor device list)"))
	}
	a, err := c.open()
	if err != nil {
		return c.fail(err)
	}
	if err := a.Forget(args[0]); err != nil {
		return c.fail(err)
	}
	fmt.Fprintf(c.stdout, "Forgot device %s (removed from %s).\n", args[0], a.Path())
	return 0
}
