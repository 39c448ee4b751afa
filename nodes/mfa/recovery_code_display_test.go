package mfa_test

import (
	"context"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/arbor-auth/arbor/authenticator"
	"github.com/arbor-auth/arbor/devices"
	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/nodes/mfa"
	"github.com/arbor-auth/arbor/push"
)

// The ForgeRock JavaScript SDK's FRRecoveryCodes parser (script-parser.ts): the codes
// are every match of sdkCodes, the device name the first match of sdkName with the
// <em> tags removed, and the display step is the TextOutputCallback whose message
// contains "Recovery Codes".
var (
	sdkCodes = regexp.MustCompile(`\s[\w\W]"([\w]*)\\`)
	sdkName  = regexp.MustCompile(`<em\s*.*>\s*.*</em>`)
)

func sdkParse(script string) (codes []string, name string) {
	for _, m := range sdkCodes.FindAllStringSubmatch(script, -1) {
		codes = append(codes, m[1])
	}
	name = strings.NewReplacer("<em>", "", "</em>", "").Replace(sdkName.FindString(script))
	return codes, name
}

var testCodes = []string{"iZmEtxvQ00", "Eb5oRDbTL1", "1a2B3c4D5e", "0000000000", "ZZZZZZZZZZ",
	"abcdefghij", "KLMNOPQRST", "uvwxyz0123", "4567890ABC", "DEFGHIJKLM"}

func TestRecoveryCodeDisplayOutcomes(t *testing.T) {
	f := newFixture(t, push.Config{})
	_, outs, err := f.build("recovery_code_display", "")
	if err != nil {
		t.Fatal(err)
	}
	if got := outcomeIDs(outs); !reflect.DeepEqual(got, []string{"outcome"}) {
		t.Errorf("outcomes %v", got)
	}
}

func TestRecoveryCodeDisplay(t *testing.T) {
	tests := []struct {
		name      string
		transient nodes.State
		answered  bool
		shown     string // the device name shown; "" for no display
		sdkName   string // the name the SDK reads
	}{
		{name: "codes and name", transient: nodes.State{mfa.KeyRecoveryCodes: testCodes, mfa.KeyRecoveryDevice: "Alice's phone"},
			shown: "Alice's phone", sdkName: "Alice&#39;s phone"},
		{name: "codes without a name", transient: nodes.State{mfa.KeyRecoveryCodes: testCodes},
			shown: "New Security Key", sdkName: "New Security Key"},
		{name: "empty name", transient: nodes.State{mfa.KeyRecoveryCodes: testCodes, mfa.KeyRecoveryDevice: ""},
			shown: "New Security Key", sdkName: "New Security Key"},
		{name: "name with markup", transient: nodes.State{mfa.KeyRecoveryCodes: testCodes, mfa.KeyRecoveryDevice: "<script>alert(1)</script>"},
			shown: "<script>alert(1)</script>", sdkName: "&lt;script&gt;alert(1)&lt;/script&gt;"},
		{name: "name with quotes, backslashes and lines", transient: nodes.State{mfa.KeyRecoveryCodes: testCodes, mfa.KeyRecoveryDevice: "a \"b\\\" c\nd \\x"},
			shown: "a \"b\\\" c\nd \\x", sdkName: `a &#34;b\\&#34; c\nd \\x`},
		{name: "one code", transient: nodes.State{mfa.KeyRecoveryCodes: []string{"ABCDEFGHIJ"}},
			shown: "New Security Key", sdkName: "New Security Key"},
		{name: "no codes", transient: nodes.State{}},
		{name: "no codes but a name", transient: nodes.State{mfa.KeyRecoveryDevice: "Alice's phone"}},
		{name: "empty codes", transient: nodes.State{mfa.KeyRecoveryCodes: []string{}}},
		{name: "codes of the wrong type", transient: nodes.State{mfa.KeyRecoveryCodes: "iZmEtxvQ00"}},
		{name: "the user saved them", answered: true},
		{name: "answered with codes left over", answered: true, transient: nodes.State{mfa.KeyRecoveryCodes: testCodes}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, push.Config{})
			n := f.mustBuild(t, "recovery_code_display", "")
			ctx := f.newCtx()
			for k, v := range tc.transient {
				ctx.Transient[k] = v
			}
			if tc.answered {
				ctx.Callbacks = answer([]nodes.Callback{{Type: nodes.TypeTextOutput}, {Type: nodes.TypeMetadata}, nodes.ConfirmationCallback("", []string{"OK"}, 0, 0)}, 0)
			}
			if tc.shown == "" {
				wantOutcome(t, n, ctx, "outcome")
			} else {
				sent := wantSend(t, n, ctx, nodes.TypeTextOutput, nodes.TypeMetadata, nodes.TypeConfirmation)
				codes := tc.transient[mfa.KeyRecoveryCodes].([]string)
				script := sent[0].OutString("message")
				if mt := sent[0].OutString("messageType"); mt != nodes.MessageScript {
					t.Errorf("messageType %s, want %s (script)", mt, nodes.MessageScript)
				}
				if !strings.Contains(script, "Recovery Codes") {
					t.Error("the SDK does not see a recovery code step")
				}
				gotCodes, gotName := sdkParse(script)
				if !reflect.DeepEqual(gotCodes, codes) || gotName != tc.sdkName {
					t.Errorf("the SDK reads codes %q name %q\nwant %q %q\nscript:\n%s", gotCodes, gotName, codes, tc.sdkName, script)
				}
				if strings.Contains(script, "<script") || strings.Contains(script, "\nd ") {
					t.Errorf("the device name escaped its string:\n%s", script)
				}
				wantMeta := map[string]any{"type": "recovery_codes", "codes": codes, "deviceName": tc.shown}
				if got := sent[1].Out("data"); !reflect.DeepEqual(got, wantMeta) {
					t.Errorf("metadata %v, want %v", got, wantMeta)
				}
				if c := sent[2]; c.In("") != 0 || len(c.Out("options").([]string)) != 1 {
					t.Errorf("confirmation %+v", c)
				}
				noSecrets(t, ctx.Shared, nil, codes)
			}
			// Shown once: the codes are forgotten whatever happened.
			if ctx.Transient.Has(mfa.KeyRecoveryCodes) || ctx.Transient.Has(mfa.KeyRecoveryDevice) {
				t.Errorf("transient state kept: %v", ctx.Transient)
			}
		})
	}
}

// TestRecoveryCodeDisplayAfterRegistration shows the codes a push_registration just
// generated, in the same request, and checks they are the user's.
func TestRecoveryCodeDisplayAfterRegistration(t *testing.T) {
	f := newFixture(t, push.Config{})
	reg := f.mustBuild(t, "push_registration", "")
	display := f.mustBuild(t, "recovery_code_display", "")
	ctx := f.newCtx()
	sent, u := startRegistration(t, reg, ctx)
	if _, err := f.env.Authenticator(t).Register(context.Background(), u.String(), authenticator.RegisterOptions{Name: "Pixel <8>"}); err != nil {
		t.Fatal(err)
	}
	f.next(t, ctx, sent, mfa.HiddenRegistration)
	wantOutcome(t, reg, ctx, "success")
	ctx.Callbacks, ctx.NodeID = nil, "codes"
	shown := wantSend(t, display, ctx, nodes.TypeTextOutput, nodes.TypeMetadata, nodes.TypeConfirmation)
	codes, name := sdkParse(shown[0].OutString("message"))
	if len(codes) != devices.RecoveryCodeCount || name != "Pixel &lt;8&gt;" {
		t.Fatalf("the SDK reads %q %q", codes, name)
	}
	for _, c := range codes {
		if ok, err := f.env.Devices.UseRecoveryCode(context.Background(), "/", "alice", c); !ok || err != nil {
			t.Errorf("shown code %q does not work: %v %v", c, ok, err)
		}
	}
	// The next request: the user saved them.
	f.next(t, ctx, shown, 0)
	wantOutcome(t, display, ctx, "outcome")
}

func TestRecoveryCodesScript(t *testing.T) {
	script := mfa.RecoveryCodesScript([]string{"AAAAAAAAAA", "bbbbbbbbbb"}, "Phone")
	for _, line := range []string{
		`    "AAAAAAAAAA\n" +`,
		`    "bbbbbbbbbb\n" +`,
		`<em>Phone</em>`,
		`document.getElementById("callback_0")`,
	} {
		if !strings.Contains(script, line) {
			t.Errorf("script lacks %q:\n%s", line, script)
		}
	}
	if codes, _ := sdkParse(mfa.RecoveryCodesScript(nil, "x")); len(codes) != 0 {
		t.Errorf("the SDK reads codes %q from a script with none", codes)
	}
}

func TestRecoveryCodeDisplayConfigProblems(t *testing.T) {
	f := newFixture(t, push.Config{})
	wantProblems(t, f, "recovery_code_display", `{"message": "x"}`, "/nodes/n/config/message bad_config")
}
