package mfa

import (
	"html"
	"strings"

	"github.com/arbor-auth/arbor/nodes"
)

// registerRecoveryCodeDisplay adds the recovery_code_display node type to r.
func registerRecoveryCodeDisplay(r *nodes.Registry) {
	nodes.Register(r, nodes.Spec[none]{
		Type:     "recovery_code_display",
		Title:    "Recovery Code Display",
		Category: "mfa",
		Summary:  "Shows the recovery codes a registration just generated, once.",
		Description: "Shows the codes push_registration left in transient state, then forgets them: they are never stored in " +
			"the flow and cannot be shown again. The text keeps AM's layout, so the ForgeRock SDK's FRRecoveryCodes reads the codes; " +
			"a MetadataCallback carries them as data for other clients. Without codes it continues at once.",
		Input:    true,
		Outcomes: []nodes.Outcome{{ID: "outcome", Label: "Outcome"}},
		New: func(*none, *nodes.Build) (nodes.Node, error) {
			return nodes.NodeFunc(func(ctx *nodes.Context) (nodes.Action, error) {
				codes, _ := ctx.Transient[KeyRecoveryCodes].([]string)
				name, _ := ctx.Transient[KeyRecoveryDevice].(string)
				delete(ctx.Transient, KeyRecoveryCodes)
				delete(ctx.Transient, KeyRecoveryDevice)
				if len(codes) == 0 || ctx.Callbacks != nil {
					return nodes.Goto("outcome"), nil
				}
				if name == "" {
					name = "New Security Key"
				}
				return nodes.Send(
					nodes.TextOutputCallback(RecoveryCodesScript(codes, name), nodes.MessageScript),
					nodes.MetadataCallback(map[string]any{"type": "recovery_codes", "codes": codes, "deviceName": name}),
					nodes.ConfirmationCallback("", []string{"I have saved my codes"}, 0, 0),
				), nil
			}), nil
		},
	})
}

// RecoveryCodesScript renders codes in AM's RecoveryCodeDisplayNode script layout: one
// `"CODE\n" +` line per code, the title containing "Recovery Codes" and the device name
// in <em>, which is what the ForgeRock SDK's parser looks for. The device name is
// reported by the device, so it is escaped for both HTML and the JavaScript string. The
// SDK's parser takes word characters only, so codes appear there without their dashes
// (either spelling is accepted back).
func RecoveryCodesScript(codes []string, deviceName string) string {
	js := func(s string) string {
		return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", "", "<", `\x3c`).Replace(s)
	}
	var b strings.Builder
	b.WriteString("/*\n * Your Recovery Codes\n */\nvar newLocal = \"<h3 class=\\\"text-center\\\">Your Recovery Codes</h3>\\n\" +\n")
	b.WriteString("    \"<p>You must make a copy of these recovery codes. They cannot be displayed again.</p>\\n\" +\n")
	b.WriteString("    \"<div class=\\\"text-center\\\">\\n\" +\n")
	for _, c := range codes {
		b.WriteString("    \"" + js(strings.ReplaceAll(c, "-", "")) + "\\n\" +\n")
	}
	b.WriteString("    \"</div>\\n\" +\n")
	b.WriteString("    \"<p class=\\\"text-center\\\">Use one of these codes to authenticate if you lose your device, which has been named: <em>" +
		js(html.EscapeString(deviceName)) + "</em></p>\";\n")
	b.WriteString("var element = document.getElementById(\"callback_0\");\nif (element) { element.innerHTML = newLocal; }\n")
	return b.String()
}
