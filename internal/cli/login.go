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
	"strconv"
	"strings"
	"time"
)

func init() {
	commands["login"] = loginCmd
}

// loginCmd drives a journey over the REST API from a terminal, as a small AM client:
// it prompts for each input, shows messages, registration URIs, recovery codes and the
// number to match, and polls by itself where the journey waits.
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
	in := bufio.NewReader(stdin)
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
		wait, err := answerStep(m, in, stdout)
		if err != nil {
			fmt.Fprintln(stderr, "arbor login:", err)
			return 1
		}
		if wait > 0 {
			select {
			case <-ctx.Done():
				return 1
			case <-time.After(wait):
			}
		}
		body, _ = json.Marshal(m)
	}
	fmt.Fprintln(stderr, "arbor login: the journey did not end")
	return 1
}

// answerStep prints the step and fills its inputs; it returns how long to wait before
// submitting when the step is a polling wait.
func answerStep(step map[string]any, in *bufio.Reader, out io.Writer) (time.Duration, error) {
	if h, _ := step["header"].(string); h != "" {
		fmt.Fprintf(out, "\n== %s\n", h)
	}
	cbs, _ := step["callbacks"].([]any)
	var wait time.Duration
	for _, cb := range cbs {
		if m, _ := cb.(map[string]any); m["type"] == "PollingWaitCallback" {
			ms, _ := strconv.Atoi(fmt.Sprint(output(m, "waitTime")))
			wait = time.Duration(ms) * time.Millisecond
		}
	}
	prompt := func(label string) (string, error) {
		fmt.Fprintf(out, "%s: ", label)
		line, err := in.ReadString('\n')
		if err != nil && line == "" {
			return "", fmt.Errorf("no more input: %w", err)
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
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
			v, err := prompt(fmt.Sprint(output(m, "prompt")))
			if err != nil {
				return 0, err
			}
			set(v)
		case "TextOutputCallback":
			if output(m, "messageType") != "4" {
				fmt.Fprintln(out, output(m, "message"))
			}
		case "PollingWaitCallback":
			fmt.Fprintln(out, output(m, "message"))
		case "HiddenValueCallback":
			switch output(m, "id") {
			case "mfaDeviceRegistration":
				fmt.Fprintf(out, "Register your device: scan the QR code in a browser, or run\n\n  arbor device register '%v'\n\n", output(m, "value"))
			case "pushChallengeNumber":
				fmt.Fprintf(out, "Number to pick on your device: %v\n", output(m, "value"))
			}
		case "MetadataCallback":
			if d, _ := output(m, "data").(map[string]any); d["type"] == "recovery_codes" {
				fmt.Fprintf(out, "Your recovery codes for %v (save them now, they are not shown again):\n", d["deviceName"])
				codes, _ := d["codes"].([]any)
				for _, c := range codes {
					fmt.Fprintf(out, "  %v\n", c)
				}
			}
		case "ChoiceCallback", "ConfirmationCallback":
			if wait > 0 {
				continue // leave a polling step's exit button alone: 100 means keep waiting
			}
			key := "choices"
			if m["type"] == "ConfirmationCallback" {
				key = "options"
			}
			opts, _ := output(m, key).([]any)
			if len(opts) == 1 {
				set(0)
				continue
			}
			for i, o := range opts {
				fmt.Fprintf(out, "  %d) %v\n", i+1, o)
			}
			v, err := prompt("Choose")
			if err != nil {
				return 0, err
			}
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || n < 1 || n > len(opts) {
				return 0, fmt.Errorf("choose a number from 1 to %d", len(opts))
			}
			set(n - 1)
		}
	}
	return wait, nil
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
