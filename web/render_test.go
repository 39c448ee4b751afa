package web

import (
	"bytes"
	"encoding/base64"
	"flag"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/arbor-auth/arbor/devices"
	"github.com/arbor-auth/arbor/keys"
	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/nodes/basic"
	"github.com/arbor-auth/arbor/nodes/mfa"
)

var update = flag.Bool("update", false, "rewrite the golden HTML files in testdata/golden")

const testURI = "pushauth://push/Arbor:alice?a=aHR0cDovLzEyNy4wLjAuMTo4MDgwL2pzb24vcHVzaC9zbnMvbWVzc2FnZT9fYWN0aW9uPWF1dGhlbnRpY2F0ZQ&r=aHR0cDovLzEyNy4wLjAuMTo4MDgwL2pzb24vcHVzaC9zbnMvbWVzc2FnZT9fYWN0aW9uPXJlZ2lzdGVy&s=c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2U&c=Y2hhbGxlbmdl&l=&m=REGISTER:0123&issuer=QXJib3I"

var testCodes = []string{"A1b2C3d4E5", "F6g7H8i9J0", "K1l2M3n4O5", "P6q7R8s9T0", "U1v2W3x4Y5", "Z6a7B8c9D0", "E1f2G3h4I5", "J6k7L8m9N0", "O1p2Q3r4S5", "T6u7V8w9X0"}

// stepCases are steps as the shipped nodes send them, one or more per callback type.
var stepCases = map[string]stepInput{
	"name":              {Callbacks: []nodes.Callback{nodes.NameCallback("User Name")}},
	"password":          {Callbacks: []nodes.Callback{nodes.PasswordCallback("Password")}},
	"text_input":        {Callbacks: []nodes.Callback{nodes.TextInputCallback("Nickname", "Ally")}},
	"choice":            {Callbacks: []nodes.Callback{nodes.ChoiceCallback("Pick a colour", []string{"Red", "Green", "Blue"}, 1)}},
	"choice_no_default": {Callbacks: []nodes.Callback{nodes.ChoiceCallback("Pick a colour", []string{"Red", "Green"}, -1)}},
	"confirmation":      {Callbacks: []nodes.Callback{nodes.ConfirmationCallback("Trust this browser?", []string{"Yes", "No"}, 0, 0)}},
	"hidden_value":      {Callbacks: []nodes.Callback{nodes.HiddenValueCallback("clientScriptOutputData", "")}},
	"device_profile":    {Callbacks: []nodes.Callback{nodes.DeviceProfileCallback(true, true, "Collecting profile ...")}},
	"polling_wait":      {Callbacks: []nodes.Callback{nodes.PollingWaitCallback(3000, "Waiting for response...")}},
	"text_output": {Callbacks: []nodes.Callback{
		nodes.TextOutputCallback("Plain information.\nOn two lines.", nodes.MessageInfo),
		nodes.TextOutputCallback("Careful: a warning.", nodes.MessageWarning),
		nodes.TextOutputCallback("Something failed.", nodes.MessageError),
		nodes.TextOutputCallback(`document.body.innerHTML = "<b>pwned</b>";`, nodes.MessageScript),
	}},
	"login": {
		Callbacks:   []nodes.Callback{nodes.NameCallback("User Name"), nodes.PasswordCallback("Password")},
		Header:      "Sign in",
		Description: "Use your company account.",
		Stage:       "UsernamePassword",
	},
	"login_after_failure": {
		Callbacks: []nodes.Callback{nodes.NameCallback("User Name"), nodes.PasswordCallback("Password")},
		Header:    "Sign in", Stage: "UsernamePassword", Prefill: "alice",
	},
	"push_registration": {Callbacks: []nodes.Callback{
		nodes.TextOutputCallback("Scan the QR code with your authenticator app to register your device.", nodes.MessageInfo),
		nodes.HiddenValueCallback(mfa.HiddenRegistration, testURI),
		nodes.PollingWaitCallback(mfa.PollInterval, "Waiting for your device..."),
	}},
	"push_wait_number": {Callbacks: []nodes.Callback{
		nodes.PollingWaitCallback(5000, "Tap the number 42 on the Push Notification to continue."),
		nodes.HiddenValueCallback(mfa.HiddenChallenge, "42"),
		nodes.ConfirmationCallback("", []string{"Lost phone? Use a recovery code"}, 0, nodes.ConfirmationNotPressed),
	}},
	"push_wait_code": {Callbacks: []nodes.Callback{
		nodes.PollingWaitCallback(5000, "Tap the number [42] on the Push Notification to continue."),
		nodes.HiddenValueCallback(mfa.HiddenChallenge, "42"),
		nodes.TextOutputCallback("That code is not right.", nodes.MessageError),
		nodes.TextInputCallback("Enter a code instead", ""),
		nodes.ConfirmationCallback("", []string{"Lost phone? Use a recovery code"}, 0, nodes.ConfirmationNotPressed),
	}},
	"oath_registration": {Callbacks: []nodes.Callback{
		nodes.TextOutputCallback("Scan the QR code with your authenticator app, then enter the code it shows.", nodes.MessageInfo),
		nodes.HiddenValueCallback(mfa.HiddenRegistration, "otpauth://totp/Arbor:alice?algorithm=SHA1&digits=6&issuer=Arbor&period=30&secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"),
		nodes.NameCallback("Code from your app"),
	}},
	"push_wait_tap": {Callbacks: []nodes.Callback{
		nodes.PollingWaitCallback(5000, "Waiting for response..."),
		nodes.ConfirmationCallback("", []string{"Cancel"}, 0, nodes.ConfirmationNotPressed),
	}},
	"recovery_codes": {Callbacks: []nodes.Callback{
		nodes.TextOutputCallback(mfa.RecoveryCodesScript(testCodes, "Alice's <phone>"), nodes.MessageScript),
		nodes.MetadataCallback(map[string]any{"type": "recovery_codes", "codes": testCodes, "deviceName": "Alice's <phone>"}),
		nodes.ConfirmationCallback("", []string{"I have saved my codes"}, 0, 0),
	}},
	"authenticator_app": {Callbacks: []nodes.Callback{
		nodes.TextOutputCallback("Get the authenticator app from the App Store (https://apps.apple.com/app/forgerock-authenticator/id1038442926) or on Google Play (https://play.google.com/store/apps/details?id=com.forgerock.authenticator).", nodes.MessageInfo),
		nodes.MetadataCallback(map[string]any{"type": "authenticator_app", "apple": "https://apps.apple.com/app/forgerock-authenticator/id1038442926", "google": "https://play.google.com/store/apps/details?id=com.forgerock.authenticator"}),
		nodes.ConfirmationCallback("", []string{"Continue"}, 0, 0),
	}},
	"registration_options": {Callbacks: []nodes.Callback{
		nodes.TextOutputCallback("Protect your account with push notifications to your phone.", nodes.MessageInfo),
		nodes.ConfirmationCallback("", []string{"Register device", "Get the app", "Skip this step", "Opt out"}, 0, 0),
	}},
	"recovery_code_entry": {Callbacks: []nodes.Callback{nodes.NameCallback("Recovery Code")}},
}

var (
	goldenCSRF  = regexp.MustCompile(`name="csrf" value="[^"]*"`)
	goldenAsset = regexp.MustCompile(`\?v=[0-9a-f]+`)
	goldenQR    = regexp.MustCompile(`data:image/png;base64,[A-Za-z0-9+/=&#;]+`)
)

// normalize removes what changes without the page changing: the CSRF token, the
// assets' content hashes and the QR code's pixels (checked on their own).
func normalize(s string) string {
	s = goldenCSRF.ReplaceAllString(s, `name="csrf" value="CSRF"`)
	s = goldenAsset.ReplaceAllString(s, "?v=HASH")
	return goldenQR.ReplaceAllString(s, "data:image/png;base64,QR")
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name+".html")
	got = normalize(got)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./web -run TestGolden -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from %s (run go test ./web -run TestGolden -update and read the diff):\n%s", name, path, got)
	}
}

func testPages(t *testing.T) map[string]*pageData {
	t.Helper()
	out := map[string]*pageData{}
	for name, in := range stepCases {
		v := buildStep(in)
		v.CSRF = "CSRF"
		if name == "login_after_failure" {
			v.Alert = defaultFailure
		}
		out["step_"+name] = &pageData{Title: v.Title, Step: &v}
	}
	t0 := time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)
	out["done"] = &pageData{Title: "Signed in", Done: &doneView{Username: "alice", Realm: "/alpha", Created: t0, Ends: t0.Add(30 * time.Minute), CSRF: "CSRF"}}
	out["devices"] = &pageData{Title: "My devices", Devices: &devicesView{
		Username: "alice", Enabled: true, CSRF: "CSRF", CodesLeft: 9, FreshFor: "5 minutes", Notice: notices["removed"],
		List: []devices.Device{
			{ID: "dev-1", Name: "Alice's phone", Platform: "android", Created: t0, LastUsed: t0.Add(time.Hour)},
			{ID: "dev-2", Name: "Laptop <authenticator>", Platform: "linux", Created: t0},
		},
		Sessions: []sessionRow{
			{Handle: "h-1", Created: t0, Access: t0.Add(time.Minute), Door: "in a browser", IP: "192.0.2.7", Agent: "Firefox <b>", Factors: "password + push", Current: true},
			{Handle: "h-2", Created: t0.Add(-time.Hour), Access: t0, Door: "through an app", Factors: "password + one-time code"},
		},
	}}
	out["devices_none"] = &pageData{Title: "My devices", Devices: &devicesView{Username: "alice", Enabled: true, CSRF: "CSRF", CodesLeft: 1, FreshFor: "1 minute",
		Sessions: []sessionRow{{Handle: "h-1", Created: t0, Access: t0, Door: "in a browser", Factors: "password", Current: true}}}}
	out["confirm_remove"] = &pageData{Title: "Remove this device?", Confirm: &confirmView{
		Heading: "Remove this device?", Button: "Remove device", Action: "/account/devices/remove", Device: "dev-1", CSRF: "CSRF", Danger: true,
		Text: "“Alice's phone” will no longer be able to approve your sign-ins.",
	}}
	out["codes"] = &pageData{Title: "Your new recovery codes", Codes: &codesView{Codes: testCodes}}
	out["message_unavailable"] = &pageData{Title: unavailable.Heading, Message: &unavailable}
	return out
}

func pageKind(d *pageData) string {
	switch {
	case d.Step != nil:
		return "step"
	case d.Done != nil:
		return "done"
	case d.Devices != nil:
		return "devices"
	case d.Confirm != nil:
		return "confirm"
	case d.Codes != nil:
		return "codes"
	}
	return "message"
}

// TestGolden draws every callback type, every page and the push steps as the push
// nodes send them, and compares the HTML with testdata/golden.
func TestGolden(t *testing.T) {
	pages, err := parsePages()
	if err != nil {
		t.Fatal(err)
	}
	cases := testPages(t)
	names := make([]string, 0, len(cases))
	for n := range cases {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := writePage(&buf, pages, pageKind(cases[name]), *cases[name]); err != nil {
				t.Fatal(err)
			}
			checkPage(t, buf.String())
			golden(t, name, buf.String())
		})
	}
}

// checkPage holds every page to the rules the CSP and accessibility need: one external
// script and nothing inline, no style attributes or event handlers, a label for every
// input, one autofocus at most.
func checkPage(t *testing.T, page string) {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	labels := map[string]bool{}
	var inputs []map[string]string
	scripts, autofocus := 0, 0
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			a := map[string]string{}
			for _, at := range n.Attr {
				a[at.Key] = at.Val
				if strings.HasPrefix(at.Key, "on") {
					t.Errorf("<%s> has an event handler attribute %s", n.Data, at.Key)
				}
				if at.Key == "style" {
					t.Errorf("<%s> has a style attribute, which the CSP forbids", n.Data)
				}
				if at.Key == "autofocus" {
					autofocus++
				}
			}
			switch n.Data {
			case "script":
				scripts++
				if a["src"] == "" || n.FirstChild != nil {
					t.Errorf("inline script: %v", a)
				}
			case "style":
				t.Error("inline <style>")
			case "label":
				labels[a["for"]] = true
			case "input", "textarea", "select":
				if a["type"] != "hidden" {
					inputs = append(inputs, a)
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if scripts != 1 {
		t.Errorf("%d scripts, want the one static file", scripts)
	}
	if autofocus > 1 {
		t.Errorf("%d autofocus attributes", autofocus)
	}
	for _, in := range inputs {
		if in["id"] == "" || !labels[in["id"]] {
			t.Errorf("input without a label: %v", in)
		}
	}
	if !strings.Contains(page, `<meta name="viewport" content="width=device-width, initial-scale=1">`) {
		t.Error("no viewport meta")
	}
}

func TestScriptMessagesAreNeverRendered(t *testing.T) {
	pages, _ := parsePages()
	for _, name := range []string{"text_output", "recovery_codes"} {
		v := buildStep(stepCases[name])
		var buf bytes.Buffer
		if err := writePage(&buf, pages, "step", pageData{Step: &v}); err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{"pwned", "innerHTML", "newLocal", "callback_0"} {
			if strings.Contains(buf.String(), bad) {
				t.Errorf("%s: the script message leaked into the page (%q)", name, bad)
			}
		}
	}
	v := buildStep(stepCases["recovery_codes"])
	if len(v.Items) != 2 || v.Items[0].Kind != "codes" || len(v.Items[0].Codes) != 10 || v.Items[0].Label != "Alice's <phone>" {
		t.Fatalf("recovery codes not drawn from the metadata: %+v", v.Items)
	}
}

// TestPasswordChangeStep: password_change's two fields ask password managers for a new
// password, a login's for the current one.
func TestPasswordChangeStep(t *testing.T) {
	in := stepInput{Stage: basic.StagePasswordChange, Callbacks: []nodes.Callback{
		nodes.PasswordCallback("New password"), nodes.PasswordCallback("Confirm new password")}}
	var got []string
	for _, it := range buildStep(in).Items {
		if it.InputType == "password" {
			got = append(got, it.Autocomplete)
		}
	}
	if len(got) != 2 || got[0] != "new-password" || got[1] != "new-password" {
		t.Errorf("autocomplete %v, want new-password twice", got)
	}
	for _, it := range buildStep(stepCases["password"]).Items {
		if it.InputType == "password" && it.Autocomplete != "current-password" {
			t.Errorf("a login's password: autocomplete %q", it.Autocomplete)
		}
	}
}

func TestRegistrationQRCode(t *testing.T) {
	// End users get the QR code and its address, not the developer's command.
	for _, it := range buildStep(stepCases["push_registration"]).Items {
		if it.Kind == "qr" && it.Command != "" {
			t.Fatalf("the end-user page shows %q", it.Command)
		}
	}
	in := stepCases["push_registration"]
	in.DeveloperHints = true
	v := buildStep(in)
	var qr *item
	for i := range v.Items {
		if v.Items[i].Kind == "qr" {
			qr = &v.Items[i]
		}
	}
	if qr == nil {
		t.Fatal("no QR code")
	}
	b64, ok := strings.CutPrefix(string(qr.Image), "data:image/png;base64,")
	if !ok {
		t.Fatalf("not a PNG data URI: %.40s", qr.Image)
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != qr.Size || b.Dx() != b.Dy() || b.Dx() < 200 {
		t.Fatalf("QR image %v, declared %d", b, qr.Size)
	}
	if qr.Command != "arbor device register '"+testURI+"'" || qr.Value != testURI {
		t.Fatalf("command %q", qr.Command)
	}
	if got := shellQuote("it's"); got != `'it'\''s'` {
		t.Fatalf("shellQuote: %s", got)
	}
	if v.PollMillis != mfa.PollInterval || v.Submit != "" {
		t.Fatalf("registration polls every %d ms, submit %q", v.PollMillis, v.Submit)
	}
}

func TestPushWaitForm(t *testing.T) {
	v := buildStep(stepCases["push_wait_number"])
	if v.Items[0].Kind != "challenge" || v.Items[0].Value != "42" {
		t.Fatalf("the number must come first: %+v", v.Items[0])
	}
	if v.PollMillis != 5000 || v.Types != "PollingWaitCallback,HiddenValueCallback,ConfirmationCallback" {
		t.Fatalf("poll %d types %q", v.PollMillis, v.Types)
	}
	want := []hiddenField{{Name: "IDToken2", Value: mfa.HiddenChallenge}, {Name: "IDToken3", Value: "100"}}
	if len(v.Hidden) != 2 || v.Hidden[0] != want[0] || v.Hidden[1] != want[1] {
		t.Fatalf("hidden fields %+v, want %+v", v.Hidden, want)
	}
	// The exit button submits 0 after the preset; the last value wins.
	got, err := parseAnswers(map[string][]string{
		"step": {v.Types}, "IDToken2": {mfa.HiddenChallenge}, "IDToken3": {"100", "0"}, "csrf": {"x"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got[2].InString() != "0" || got[1].InString() != mfa.HiddenChallenge || got[0].Input != nil {
		t.Fatalf("answers %+v", got)
	}
}

func TestParseAnswers(t *testing.T) {
	got, err := parseAnswers(map[string][]string{
		"step":                 {"NameCallback,ChoiceCallback"},
		"IDToken1":             {"alice"},
		"IDToken2":             {"2"},
		"IDToken2validateOnly": {"true"},
		"IDToken3":             {"out of range"},
		"IDToken0":             {"zero"},
		"IDToken":              {"none"},
		"other":                {"ignored"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Type != nodes.TypeName || got[0].InString() != "alice" || got[1].InString() != "2" {
		t.Fatalf("%+v", got)
	}
	if v, _ := got[1].In("validateOnly").(string); v != "true" {
		t.Fatalf("suffixed input lost: %+v", got[1])
	}
	if _, err := parseAnswers(map[string][]string{"IDToken1": {"x"}}); err == nil {
		t.Fatal("a form without a step was accepted")
	}
	if _, err := parseAnswers(map[string][]string{"step": {strings.Repeat("A,", maxCallbacks)}}); err == nil {
		t.Fatal("an oversized step was accepted")
	}
}

func TestStepTitlesAndButtons(t *testing.T) {
	for name, want := range map[string][2]string{
		"login":             {"Sign in", "Sign in"},
		"name":              {"Sign in", "Continue"},
		"push_registration": {"Register your device", ""},
		"push_wait_number":  {"Check your phone", ""},
		"push_wait_tap":     {"Check your phone", ""},
		"recovery_codes":    {"Save your recovery codes", ""},
		"authenticator_app": {"Get the authenticator app", ""},
	} {
		v := buildStep(stepCases[name])
		if v.Title != want[0] || v.Submit != want[1] {
			t.Errorf("%s: title %q submit %q, want %q %q", name, v.Title, v.Submit, want[0], want[1])
		}
	}
	if !buildStep(stepCases["device_profile"]).AutoSubmit {
		t.Error("a device profile step must submit itself")
	}
}

func TestCSRFTokens(t *testing.T) {
	s := &Server{csrfSigner: keys.Generate().Signer(keys.PurposeCSRF)}
	tok := s.csrfToken("flow", "abc")
	if !s.checkCSRF(tok, "flow", "abc") {
		t.Fatal("own token refused")
	}
	for _, bad := range [][3]string{{tok, "flow", "abd"}, {tok, "session", "abc"}, {"", "flow", "abc"}, {tok, "flow", ""}, {tok[1:] + "A", "flow", "abc"}} {
		if s.checkCSRF(bad[0], bad[1], bad[2]) {
			t.Errorf("token accepted for %v", bad)
		}
	}
}
