package e2e

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The seed's example user: with otppin password, pass is the user's password.
const (
	tux       = "tux"
	tuxSecret = "tHisIsthesECRetToKENPIN"
)

// TestLinOTPCurl: the seed's calls, run with curl against `arbor serve` exactly as the
// README shows them (the host is the server's; the space in data is written %20, as
// curl needs): /validate/check sends a push that the reference authenticator shows with
// the transaction text, check_status reports it open, `arbor device approve
// --transaction` answers that transaction only, and check_status then reports it
// approved with valid_tan true.
func TestLinOTPCurl(t *testing.T) {
	_, err := exec.LookPath("curl")
	need(t, err == nil, "curl", "apt-get install curl")
	cfg := writeFile(t, "arbor.yaml", "linotp: {enabled: true, journey: linotp, clients: [127.0.0.0/8], otppin: password}\n")
	users := writeFile(t, "users.yaml", "users:\n  - {username: "+tux+", password: \""+tuxSecret+"\", realm: /}\n")
	srv, _ := startServer(t, "--users", users, "--data", t.TempDir(), "--config", cfg)
	phone := filepath.Join(t.TempDir(), "phone.json")
	registerPush(t, srv.URL, phone, tux, tuxSecret)

	check := curlJSON(t, srv.URL+"/validate/check?user=tux&pass=tHisIsthesECRetToKENPIN&data=Login%20to%20dc1.example.net&content_type=0")
	res, _ := check["result"].(map[string]any)
	detail, _ := check["detail"].(map[string]any)
	id, _ := detail["transactionid"].(string)
	if res["status"] != true || res["value"] != false || detail["linotp_tokentype"] != "push" || !regexp.MustCompile(`^\d{20}$`).MatchString(id) {
		t.Fatalf("check: %v", check)
	}
	statusURL := srv.URL + "/validate/check_status?user=tux&pass=tHisIsthesECRetToKENPIN&transactionid=" + id
	if tx := transaction(t, curlJSON(t, statusURL), id); tx["status"] != "open" || tx["valid_tan"] != false {
		t.Fatalf("check_status before the answer: %v", tx)
	}
	out := device(t, phone, "pending")
	if !strings.Contains(out, "transaction "+id) || !strings.Contains(out, `"Login to dc1.example.net"`) {
		t.Fatalf("arbor device pending does not show the transaction:\n%s", out)
	}
	if out, err := exec.Command(arbor(t), "device", "approve", "--transaction", "12345678901234567890", "--file", phone).CombinedOutput(); err == nil {
		t.Fatalf("approve of an unknown transaction succeeded:\n%s", out)
	}
	device(t, phone, "approve", "--transaction", id)
	awaitAccepted(t, statusURL, id)
}

// awaitAccepted asks check_status at statusURL until transaction id is accepted, and
// checks the answer says so in every field a gateway reads.
func awaitAccepted(t *testing.T, statusURL, id string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		time.Sleep(time.Second) // the journey looks at the answer once a second
		m := curlJSON(t, statusURL)
		tx := transaction(t, m, id)
		if tx["status"] == "accepted" {
			if r, _ := m["result"].(map[string]any); r["value"] != true || tx["valid_tan"] != true || tx["received_tan"] != true {
				t.Fatalf("approved: %v", m)
			}
			return
		}
		if tx["status"] != "open" || time.Now().After(deadline) {
			t.Fatalf("check_status after the approval: %v", m)
		}
	}
}

// TestLinOTPCurlNone: with otppin none the gateway checks the password itself and pass
// is the code alone (linotp-otp journey): the README's curl calls against `arbor serve`
// send a push with an empty pass that the reference authenticator approves, and a wrong
// code answers false.
func TestLinOTPCurlNone(t *testing.T) {
	_, err := exec.LookPath("curl")
	need(t, err == nil, "curl", "apt-get install curl")
	cfg := writeFile(t, "arbor.yaml", "linotp: {enabled: true, clients: [127.0.0.0/8], otppin: none}\n")
	users := writeFile(t, "users.yaml", "users:\n  - {username: "+tux+", password: \""+tuxSecret+"\", realm: /}\n")
	srv, _ := startServer(t, "--users", users, "--data", t.TempDir(), "--config", cfg)
	phone := filepath.Join(t.TempDir(), "phone.json")
	registerPush(t, srv.URL, phone, tux, tuxSecret)

	check := curlJSON(t, srv.URL+"/validate/check?user=tux&pass=&data=Login%20to%20dc1.example.net&content_type=0")
	detail, _ := check["detail"].(map[string]any)
	id, _ := detail["transactionid"].(string)
	if res, _ := check["result"].(map[string]any); res["value"] != false || !regexp.MustCompile(`^\d{20}$`).MatchString(id) {
		t.Fatalf("check: %v", check)
	}
	device(t, phone, "approve", "--transaction", id)
	awaitAccepted(t, srv.URL+"/validate/check_status?user=tux&pass=&transactionid="+id, id)

	// tux has no authenticator app: no code is right.
	wrong := curlJSON(t, srv.URL+"/validate/check?user=tux&pass=123456")
	if res, _ := wrong["result"].(map[string]any); res["status"] != true || res["value"] != false {
		t.Fatalf("a code for a user without an app: %v", wrong)
	}
}

// TestLinOTPCurlTokenPIN: with otppin token_pin, an admin gives tux's phone a token
// PIN with `arbor users devices pin` (the PIN on stdin) against the running server, and
// the README's curl calls work: pass is the PIN alone with content_type=0, the push goes
// to that phone and is approved; a wrong PIN sends nothing.
func TestLinOTPCurlTokenPIN(t *testing.T) {
	_, err := exec.LookPath("curl")
	need(t, err == nil, "curl", "apt-get install curl")
	data := t.TempDir()
	out, err := exec.Command(arbor(t), "admin", "token", "create", "--data", data, "--name", "e2e", "--scope", "users:write", "--expires", "1h").Output()
	if err != nil {
		t.Fatalf("admin token create: %v", err)
	}
	cfg := writeFile(t, "arbor.yaml", "linotp: {enabled: true, clients: [127.0.0.0/8], otppin: token_pin}\n")
	users := writeFile(t, "users.yaml", "users:\n  - {username: "+tux+", password: \""+tuxSecret+"\", realm: /}\n")
	srv, _ := startServer(t, "--users", users, "--data", data, "--config", cfg)
	phone := filepath.Join(t.TempDir(), "phone.json")
	registerPush(t, srv.URL, phone, tux, tuxSecret)

	admin := func(stdin string, args ...string) string {
		t.Helper()
		cmd := exec.Command(arbor(t), args...)
		cmd.Env = append(cmd.Environ(), "ARBOR_URL="+srv.URL, "ARBOR_TOKEN="+strings.TrimSpace(string(out)))
		cmd.Stdin = strings.NewReader(stdin)
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("arbor %s: %v\n%s", strings.Join(args, " "), err, b)
		}
		return string(b)
	}
	var devs []struct {
		ID, Kind string
	}
	if err := json.Unmarshal([]byte(admin("", "users", "devices", tux, "--json")), &devs); err != nil || len(devs) != 1 || devs[0].Kind != "push" {
		t.Fatalf("tux's devices: %v %v", devs, err)
	}
	admin("4711\n", "users", "devices", "pin", tux, devs[0].ID)

	if wrong := curlJSON(t, srv.URL+"/validate/check?user=tux&pass=4712&data=Login%20to%20dc1.example.net&content_type=0"); wrong["detail"].(map[string]any)["transactionid"] != nil {
		t.Fatalf("a wrong PIN opened a transaction: %v", wrong)
	}
	check := curlJSON(t, srv.URL+"/validate/check?user=tux&pass=4711&data=Login%20to%20dc1.example.net&content_type=0")
	detail, _ := check["detail"].(map[string]any)
	id, _ := detail["transactionid"].(string)
	if res, _ := check["result"].(map[string]any); res["value"] != false || !regexp.MustCompile(`^\d{20}$`).MatchString(id) || detail["linotp_tokenserial"] != devs[0].ID {
		t.Fatalf("check: %v", check)
	}
	device(t, phone, "approve", "--transaction", id)
	awaitAccepted(t, srv.URL+"/validate/check_status?user=tux&pass=4711&transactionid="+id, id)
}

func curlJSON(t *testing.T, url string) map[string]any {
	t.Helper()
	out, err := exec.Command("curl", "-sS", "--max-time", "30", url).Output()
	if err != nil {
		t.Fatalf("curl %s: %v", url, err)
	}
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatalf("curl %s: not JSON: %s", url, out)
	}
	return m
}

func transaction(t *testing.T, m map[string]any, id string) map[string]any {
	t.Helper()
	detail, _ := m["detail"].(map[string]any)
	txs, _ := detail["transactions"].(map[string]any)
	tx, _ := txs[id].(map[string]any)
	if tx == nil {
		t.Fatalf("no transactions[%s]: %v", id, m)
	}
	return tx
}

func device(t *testing.T, phone string, args ...string) string {
	t.Helper()
	out, err := exec.Command(arbor(t), append(append([]string{"device"}, args...), "--file", phone)...).CombinedOutput()
	if err != nil {
		t.Fatalf("arbor device %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// registerPush walks the push-mfa journey over REST as a new user does: password,
// then registration by QR code, which `arbor device register` scans; it ends once the
// registered phone gets its first push (left unanswered: the device is registered).
func registerPush(t *testing.T, base, phone, user, password string) {
	t.Helper()
	url := base + "/json/realms/root/authenticate?authIndexType=service&authIndexValue=push-mfa"
	var step any // nil: start
	registered := false
	deadline := time.Now().Add(60 * time.Second)
	for {
		status, m := postJSON(t, url, step, "Accept-API-Version", "protocol=1.0,resource=2.1")
		if m["tokenId"] != nil {
			return
		}
		if status != 200 || m["authId"] == nil || time.Now().After(deadline) {
			t.Fatalf("push-mfa registration: %d %v", status, m)
		}
		cbs, _ := m["callbacks"].([]any)
		for _, c := range cbs {
			cb := c.(map[string]any)
			outs := map[string]any{}
			for _, o := range asList(cb["output"]) {
				om := o.(map[string]any)
				outs[om["name"].(string)] = om["value"]
			}
			inputs := asList(cb["input"])
			set := func(v any) {
				if len(inputs) > 0 {
					inputs[0].(map[string]any)["value"] = v
				}
			}
			switch cb["type"] {
			case "NameCallback":
				set(user)
			case "PasswordCallback":
				set(password)
			case "HiddenValueCallback":
				if v, _ := outs["value"].(string); strings.HasPrefix(v, "pushauth://") {
					device(t, phone, "register", v)
					registered = true
				}
				if outs["id"] == "pushChallengeNumber" && registered {
					return
				}
			case "PollingWaitCallback":
				time.Sleep(500 * time.Millisecond)
			}
		}
		step = m
	}
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}
