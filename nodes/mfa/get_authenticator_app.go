package mfa

import (
	"strings"

	"github.com/arbor-auth/arbor/nodes"
)

// GetAppConfig configures get_authenticator_app.
type GetAppConfig struct {
	Message       map[string]string `json:"message" default:"{\"en\":\"Get the authenticator app from the {{appleLink}} or on {{googleLink}}, or use arbor device on a computer.\"}" doc:"Text with {{appleLink}} and {{googleLink}} placeholders, by locale."`
	ContinueLabel map[string]string `json:"continue_label" default:"{\"en\":\"Continue\"}" doc:"Label of the continue button, by locale."`
	AppleLink     string            `json:"apple_link" default:"https://apps.apple.com/app/forgerock-authenticator/id1038442926" doc:"App Store link." pattern:"^https://"`
	GoogleLink    string            `json:"google_link" default:"https://play.google.com/store/apps/details?id=com.forgerock.authenticator" doc:"Google Play link." pattern:"^https://"`
}

// registerGetAuthenticatorApp adds the get_authenticator_app node type to r.
func registerGetAuthenticatorApp(r *nodes.Registry) {
	nodes.Register(r, nodes.Spec[GetAppConfig]{
		Type:     "get_authenticator_app",
		Title:    "Get Authenticator App",
		Category: "mfa",
		Summary:  "Shows where to get the authenticator app, then continues.",
		Description: "Shows the message with the App Store and Google Play links filled in, a MetadataCallback carrying the links " +
			"as data for other clients, and a continue button; any answer continues. Usually reached from " +
			"mfa_registration_options' get_app outcome, and leads back to it.",
		Input:    true,
		Outcomes: []nodes.Outcome{{ID: "outcome", Label: "Outcome"}},
		New: func(c *GetAppConfig, _ *nodes.Build) (nodes.Node, error) {
			return nodes.NodeFunc(func(ctx *nodes.Context) (nodes.Action, error) {
				if _, ok := confirmationChoice(ctx.Callbacks); ok {
					return nodes.Goto("outcome"), nil
				}
				msg := strings.NewReplacer("{{appleLink}}", "App Store ("+c.AppleLink+")", "{{googleLink}}", "Google Play ("+c.GoogleLink+")").
					Replace(text(c.Message, ctx, "Get the authenticator app from the {{appleLink}} or on {{googleLink}}."))
				return nodes.Send(
					nodes.TextOutputCallback(msg, nodes.MessageInfo),
					nodes.MetadataCallback(map[string]any{"type": "authenticator_app", "apple": c.AppleLink, "google": c.GoogleLink}),
					nodes.ConfirmationCallback("", []string{text(c.ContinueLabel, ctx, "Continue")}, 0, 0),
				), nil
			}), nil
		},
	})
}
