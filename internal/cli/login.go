package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/term"
)

// loginCmd drives a journey over the REST API from a terminal, as a small AM client:
// it prompts for each input (passwords without echo on a terminal), shows messages,
// registration URIs, recovery codes and the number to match, and polls by itself where
// the journey waits, while Enter picks the wait's exit ("Lost phone? ...").
func loginCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("login", flag.ContinueOnError)
	fs.SetOutput(stderr)
	base := fs.String("url", "http://127.0.0.1:8080", "server base URL")
	journey := fs.String("journey", "login", "journey to run")
	realm := fs.String("realm", "root", "realm path (root, alpha, ...)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	path := "/json/realms/root"
	for _, p := range strings.Split(strings.Trim(*realm, "/"), "/") {
		if p != "" && p != "root" {
			path += "/realms/" + url.PathEscape(p)
		}
	}
	u := strings.TrimSuffix(*base, "/") + path + "/authenticate?" + url.Values{"authIndexType": {"service"}, "authIndexValue": {*journey}}.Encode()
	con := newConsole(stdin, stdout)
	client := &http.Client{Timeout: 15 * time.Second}
	var body []byte
	for steps := 0; steps < 500; steps++ {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept-API-Version", "protocol=1.0,resource=2.1")
		resp, err := client.Do(req)
		if err != nil {
			fmt.Fprintln(stderr, "arbor login:", err)
			return 1
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			fmt.Fprintf(stderr, "arbor login: HTTP %d: %s\n", resp.StatusCode, raw)
			return 1
		}
		if m["authId"] == nil {
			if resp.StatusCode == http.StatusOK {
				fmt.Fprintf(stdout, "Signed in (realm %v). Session token: %v\n", m["realm"], m["tokenId"])
				return 0
			}
			fmt.Fprintf(stdout, "Sign-in failed: %v\n", m["message"])
			return 1
		}
		if err := con.answerStep(ctx, m); err != nil {
			fmt.Fprintln(stderr, "arbor login:", err)
			return 1
		}
		body, _ = json.Marshal(m)
	}
	fmt.Fprintln(stderr, "arbor login: the journey did not end")
	return 1
}

// console is arbor login's side of the terminal. One goroutine at a time reads a line
// (or a password) from the input, so a polling wait can listen for Enter without
// blocking, and what it reads is handed to whoever asks next.
type console struct {
	in  *bufio.Reader
	out io.Writer
	// fd is the input's file descriptor when it is a terminal, or -1.
	fd int
	// reading carries the answer of the read under way, or is nil.
	reading chan answer
	// shown remembers what a polling step already printed, so polls do not repeat it.
	shown map[string]bool
	// exitOffered is set once the user was told how to leave a wait.
	exitOffered bool
	// closed is set once the input has ended: waits then just wait.
	closed bool
}

type answer struct {
	line string
	err  error
}

func newConsole(in io.Reader, out io.Writer) *console {
	c := &console{in: bufio.NewReader(in), out: out, fd: -1, shown: map[string]bool{}}
	if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		c.fd = int(f.Fd())
	}
	return c
}

// read starts reading one answer unless a read is already under way, and returns the
// channel it arrives on. A secret is read without echo when the input is a terminal;
// a read that an earlier wait started (echo on) is used as it is.
func (c *console) read(secret bool) chan answer {
	if c.reading != nil {
		return c.reading
	}
	ch := make(chan answer, 1)
	c.reading = ch
	go func() {
		if secret && c.fd >= 0 {
			b, err := term.ReadPassword(c.fd)
			fmt.Fprintln(c.out) // the Enter the terminal did not echo
			ch <- answer{line: string(b), err: err}
			return
		}
		line, err := c.in.ReadString('\n')
		if err != nil && line == "" {
			ch <- answer{err: fmt.Errorf("no more input: %w", err)}
			return
		}
		ch <- answer{line: strings.TrimRight(line, "\r\n")}
	}()
	return ch
}

// ask prints label and returns the next answer.
func (c *console) ask(ctx context.Context, label string, secret bool) (string, error) {
	fmt.Fprintf(c.out, "%s: ", label)
	select {
	case a := <-c.read(secret):
		c.reading = nil
		return a.line, a.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// pause waits d, or less if the user presses Enter (pressed is then true and line is
// what was typed before it).
func (c *console) pause(ctx context.Context, d time.Duration) (line string, pressed bool, err error) {
	t := time.NewTimer(d)
	defer t.Stop()
	var enter chan answer // nil, so never ready, once the input has ended
	if !c.closed {
		enter = c.read(false)
	}
	select {
	case a := <-enter:
		c.reading = nil
		if a.err != nil {
			c.closed = true
			select {
			case <-t.C:
				return "", false, nil
			case <-ctx.Done():
				return "", false, ctx.Err()
			}
		}
		return a.line, true, nil
	case <-t.C:
		return "", false, nil
	case <-ctx.Done():
		return "", false, ctx.Err()
	}
}

// choose lists opts and asks until the answer is one of their numbers; it returns the
// chosen index.
func (c *console) choose(ctx context.Context, opts []any) (int, error) {
	for i, o := range opts {
		fmt.Fprintf(c.out, "  %d) %v\n", i+1, o)
	}
	for {
		v, err := c.ask(ctx, "Choose", false)
		if err != nil {
			return 0, err
		}
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err == nil && n >= 1 && n <= len(opts) {
			return n - 1, nil
		}
		fmt.Fprintf(c.out, "Please answer with a number from 1 to %d.\n", len(opts))
	}
}

// once prints s unless this exact text was printed by the previous polls of a step.
func (c *console) once(s string) {
	if !c.shown[s] {
		c.shown[s] = true
		fmt.Fprint(c.out, s)
	}
}

// exitWord, typed at a polling step that also has a code field, takes the step's exit;
// there Enter alone keeps waiting. No one-time or recovery code is a word.
const exitWord = "exit"

// selfCommand is how the user runs this binary again: its own absolute path, so the
// printed command works however arbor was built (go run, go build, an image).
func selfCommand() string {
	if p, err := os.Executable(); err == nil {
		return p
	}
	return "arbor"
}

// answerStep prints the step, fills its inputs and, for a polling step, waits before
// returning (submitting at once if the user took the step's exit).
func (c *console) answerStep(ctx context.Context, step map[string]any) error {
	cbs, _ := step["callbacks"].([]any)
	var wait time.Duration
	for _, cb := range cbs {
		if m, _ := cb.(map[string]any); m["type"] == "PollingWaitCallback" {
			ms, _ := strconv.Atoi(fmt.Sprint(output(m, "waitTime")))
			wait = time.Duration(ms) * time.Millisecond
		}
	}
	if wait == 0 {
		// A step that asks anew: what earlier polls printed may be printed again.
		clear(c.shown)
		c.exitOffered = false
	}
	if h, _ := step["header"].(string); h != "" {
		c.once(fmt.Sprintf("\n== %s\n", h))
	}
	var exit []any // the options of a polling step's exit confirmation
	var setExit func(int)
	var codePrompt string    // the label of a polling step's code field
	var setCode func(string) // fills that field, or is nil
	for _, cb := range cbs {
		m, _ := cb.(map[string]any)
		ins, _ := m["input"].([]any)
		set := func(v any) {
			if len(ins) > 0 {
				ins[0].(map[string]any)["value"] = v
			}
		}
		switch m["type"] {
		case "NameCallback", "PasswordCallback", "TextInputCallback":
			if wait > 0 && m["type"] != "PasswordCallback" {
				// A field beside a polling wait (push_wait's "Enter a code instead"):
				// asked once, and answered while the wait goes on, not at every poll.
				codePrompt, setCode = fmt.Sprintf("%v: ", output(m, "prompt")), func(v string) { set(v) }
				continue
			}
			v, err := c.ask(ctx, fmt.Sprint(output(m, "prompt")), m["type"] == "PasswordCallback")
			if err != nil {
				return err
			}
			set(v)
		case "TextOutputCallback":
			switch output(m, "messageType") {
			case "4": // a script for browsers
			case "2":
				fmt.Fprintf(c.out, "Error: %v\n", output(m, "message"))
			default:
				c.once(fmt.Sprintf("%v\n", output(m, "message")))
			}
		case "PollingWaitCallback":
			c.once(fmt.Sprintf("%v\n", output(m, "message")))
		case "HiddenValueCallback":
			switch output(m, "id") {
			case "mfaDeviceRegistration":
				c.once(fmt.Sprintf("Register your device: scan the QR code in a browser, or run\n\n  %s device register '%v'\n\n", selfCommand(), output(m, "value")))
			case "pushChallengeNumber":
				c.once(fmt.Sprintf("Number to pick on your device: %v\n", output(m, "value")))
			}
		case "MetadataCallback":
			if d, _ := output(m, "data").(map[string]any); d["type"] == "recovery_codes" {
				fmt.Fprintf(c.out, "Your recovery codes for %v (save them now, they are not shown again):\n", d["deviceName"])
				codes, _ := d["codes"].([]any)
				for _, code := range codes {
					fmt.Fprintf(c.out, "  %v\n", code)
				}
			}
		case "ChoiceCallback", "ConfirmationCallback":
			key := "choices"
			if m["type"] == "ConfirmationCallback" {
				key = "options"
			}
			opts, _ := output(m, key).([]any)
			if wait > 0 {
				// A polling step's exit: left alone (100) it keeps waiting; Enter takes it.
				exit, setExit = opts, func(i int) { set(i) }
				continue
			}
			if len(opts) == 1 {
				set(0)
				continue
			}
			i, err := c.choose(ctx, opts)
			if err != nil {
				return err
			}
			set(i)
		}
	}
	if wait == 0 {
		return nil
	}
	if len(exit) > 0 && !c.exitOffered {
		c.exitOffered = true
		switch {
		case setCode != nil && len(exit) == 1:
			fmt.Fprintf(c.out, "(type %q for: %v)\n", exitWord, exit[0])
		case setCode != nil:
			fmt.Fprintf(c.out, "(type %q to choose another way)\n", exitWord)
		case len(exit) == 1:
			fmt.Fprintf(c.out, "(press Enter for: %v)\n", exit[0])
		default:
			fmt.Fprintln(c.out, "(press Enter to choose another way)")
		}
	}
	if setCode != nil {
		c.once(codePrompt)
	}
	deadline := time.Now().Add(wait)
	for {
		line, pressed, err := c.pause(ctx, time.Until(deadline))
		if err != nil || !pressed {
			return err
		}
		line = strings.TrimSpace(line)
		if setCode == nil || strings.EqualFold(line, exitWord) {
			break
		}
		if line != "" {
			setCode(line)
			// The next step asks again (after "That code is not right.", say).
			delete(c.shown, codePrompt)
			return nil
		}
		// Enter alone beside a code field keeps waiting: the push may still be answered.
	}
	switch {
	case len(exit) == 1:
		setExit(0)
	case len(exit) > 1:
		i, err := c.choose(ctx, exit)
		if err != nil {
			return err
		}
		setExit(i)
	}
	return nil
}

func output(cb map[string]any, name string) any {
	outs, _ := cb["output"].([]any)
	for _, o := range outs {
		if om, _ := o.(map[string]any); om["name"] == name {
			return om["value"]
		}
	}
	return nil
}
