package web

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"html/template"
	"image/png"
	"strconv"
	"strings"

	"github.com/skip2/go-qrcode"

	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/nodes/basic"
	"github.com/arbor-auth/arbor/nodes/mfa"
)

// How a step becomes a form.
//
// Each callback's inputs are form fields named as in AM's own pages, IDToken<N> plus the
// input's suffix, N being the callback's 1-based position. The form also carries the
// callbacks' types ("step"), which the engine checks against what it sent, so a form
// from another step is refused rather than misread.
//
// Inputs the user does not type (a hidden value's id, a confirmation's preset) are
// hidden fields at the top of the form. A confirmation's buttons submit the same name
// further down, and the server reads the last value of a name: a pressed button
// overrides the preset, and a submission with no button (the auto-poll) keeps it. That
// is how, in a polling step, the exit button submits 0 while the poll submits the
// preset 100.

// stepView is one journey step as the step template shows it.
type stepView struct {
	Title       string
	Header      string
	Description string
	Stage       string
	// Alert is an error shown above the form: why the previous attempt ended.
	Alert string
	CSRF  string
	// Types lists the callbacks' types in order, for the "step" field.
	Types  string
	Hidden []hiddenField
	Items  []item
	// Submit labels the form's own submit button; empty when the step's confirmation
	// buttons or its "Check now" button submit it.
	Submit string
	// PollMillis is how long the page waits before submitting itself (0: never).
	PollMillis int
	// AutoSubmit submits the form as soon as the script has filled it in (device profile).
	AutoSubmit bool
}

// hiddenField is an input the user does not type.
type hiddenField struct {
	Name, Value, ID string
	// Profile marks the device profile input the script fills in.
	Profile *profileAttrs
}

type profileAttrs struct{ Metadata, Location bool }

// item is one visible part of a step. Kind selects what the template draws; the other
// fields are the ones that kind uses.
type item struct {
	Kind string // input, choice, buttons, message, qr, challenge, codes, apps, poll

	ID, Name, Label, Value string
	// input
	InputType    string
	Autocomplete string
	Required     bool
	Autofocus    bool
	Plain        bool // no autocapitalisation or spellcheck (user names, codes)
	// choice
	Choices []choiceView
	// buttons
	Buttons []buttonView
	// message
	Class string
	// qr
	Image   template.URL
	Size    int
	Command string
	// codes
	Codes []string
	// apps
	Apple, Google string
}

type choiceView struct {
	ID, Value, Label string
	Checked          bool
}

type buttonView struct {
	Name, Value, Label string
	Class              string
}

// stepInput is what buildStep turns into a view.
type stepInput struct {
	Callbacks                  []nodes.Callback
	Header, Description, Stage string
	// Prefill is the user name to put in the step's user name field (after a failed
	// attempt, so the user retypes only the password).
	Prefill string
	// DeveloperHints adds the reference authenticator's command to a registration.
	DeveloperHints bool
}

// buildStep turns a step's callbacks into the view the step template draws.
func buildStep(in stepInput) stepView {
	v := stepView{Header: in.Header, Description: in.Description, Stage: in.Stage}
	types := make([]string, len(in.Callbacks))
	var top []item // drawn before everything else: the number to match
	hasPassword, hasConfirm, polling := false, false, false
	onlyProfile := true // the step asks nothing but a device profile
	for _, cb := range in.Callbacks {
		switch cb.Type {
		case nodes.TypePassword:
			hasPassword = true
		case nodes.TypeConfirmation:
			hasConfirm = true
		case nodes.TypePollingWait:
			polling = true
		}
		switch cb.Type {
		case nodes.TypeDeviceProf, nodes.TypeTextOutput, nodes.TypeHiddenValue, nodes.TypeMetadata:
		default:
			onlyProfile = false
		}
	}
	hasProfile := false
	for i, cb := range in.Callbacks {
		types[i] = cb.Type
		name := "IDToken" + strconv.Itoa(i+1)
		main := true // the main input ("") is drawn by the case below
		switch cb.Type {
		case nodes.TypeName, nodes.TypeTextInput, nodes.TypePassword:
			it := item{Kind: "input", ID: name, Name: name, Label: cb.OutString("prompt"), InputType: "text", Autocomplete: "off"}
			switch cb.Type {
			case nodes.TypePassword:
				it.InputType, it.Autocomplete, it.Required = "password", "current-password", true
				if in.Stage == basic.StagePasswordChange {
					// password_change's two fields: password managers offer a new one.
					it.Autocomplete = "new-password"
				}
			case nodes.TypeName:
				it.Value, it.Required, it.Plain = cb.InString(), true, true
				if hasPassword {
					it.Autocomplete = "username"
					if in.Prefill != "" {
						it.Value = in.Prefill
					}
				}
			default:
				it.Value = cb.InString()
			}
			if it.Label == "" {
				it.Label = "Answer"
			}
			v.Items = append(v.Items, it)
			if polling && cb.Type == nodes.TypeTextInput {
				// A code typed instead of waiting (push_wait's accept_code). Its own button
				// comes first in the form, so Enter in the field submits the code rather
				// than pressing the wait's exit.
				v.Items[len(v.Items)-1].Plain, v.Items[len(v.Items)-1].Autocomplete = true, "one-time-code"
				v.Items = append(v.Items, item{Kind: "buttons", Buttons: []buttonView{{Label: "Use code", Class: "primary"}}})
			}
		case nodes.TypeChoice:
			sel, _ := cb.InInt()
			it := item{Kind: "choice", ID: name, Name: name, Label: cb.OutString("prompt")}
			if it.Label == "" {
				it.Label = "Choose one"
			}
			for j, c := range stringList(cb.Out("choices")) {
				it.Choices = append(it.Choices, choiceView{ID: name + "-" + strconv.Itoa(j), Value: strconv.Itoa(j), Label: c, Checked: j == sel})
			}
			// With nothing preselected the browser must insist on a pick: a form without
			// one cannot answer the step.
			it.Required = sel < 0 || sel >= len(it.Choices)
			v.Items = append(v.Items, it)
		case nodes.TypeConfirmation:
			def, _ := intOf(cb.Out("defaultOption"))
			v.Hidden = append(v.Hidden, hiddenField{Name: name, Value: cb.InString()})
			it := item{Kind: "buttons", Label: cb.OutString("prompt")}
			for j, o := range stringList(cb.Out("options")) {
				class := "secondary"
				switch {
				case polling:
					// Leaving a wait is the way out, not the way forward.
					class = "link"
				case j == def:
					class = "primary"
				}
				it.Buttons = append(it.Buttons, buttonView{Name: name, Value: strconv.Itoa(j), Label: o, Class: class})
			}
			v.Items = append(v.Items, it)
		case nodes.TypeTextOutput:
			// A script message (type 4) is AM's way of shipping page code to its own UI.
			// It is never run or inserted here: what it shows (recovery codes) comes as
			// data in a MetadataCallback, drawn by this package's own template.
			if t := cb.OutString("messageType"); t != nodes.MessageScript {
				v.Items = append(v.Items, item{Kind: "message", Value: cb.OutString("message"), Class: messageClass(t)})
			}
		case nodes.TypeHiddenValue:
			main = false
			for _, f := range cb.Input {
				v.Hidden = append(v.Hidden, hiddenField{Name: name + f.Name, Value: valueString(f.Value)})
			}
			switch cb.OutString("id") {
			case mfa.HiddenRegistration:
				it := qrItem(cb.OutString("value"))
				if !in.DeveloperHints {
					it.Command = ""
				}
				v.Items = append(v.Items, it)
			case mfa.HiddenChallenge:
				top = append(top, item{Kind: "challenge", Value: cb.OutString("value")})
			}
		case nodes.TypeMetadata:
			if it, ok := metadataItem(cb.Out("data")); ok {
				v.Items = append(v.Items, it)
			}
		case nodes.TypeDeviceProf:
			hasProfile = true
			meta, _ := cb.Out("metadata").(bool)
			loc, _ := cb.Out("location").(bool)
			v.Hidden = append(v.Hidden, hiddenField{Name: name, ID: name, Profile: &profileAttrs{Metadata: meta, Location: loc}})
			if msg := cb.OutString("message"); msg != "" {
				v.Items = append(v.Items, item{Kind: "message", Value: msg, Class: "info"})
			}
		case nodes.TypePollingWait:
			ms, err := strconv.Atoi(cb.OutString("waitTime"))
			if err != nil || ms < 500 {
				ms = 500 // a floor, so a misconfigured wait cannot hammer the server
			}
			v.PollMillis = ms
			v.Items = append(v.Items, item{Kind: "poll", Value: cb.OutString("message")})
		default:
			// A callback this package does not know: keep its inputs' presets so the
			// step can still be answered.
			main = false
			for _, f := range cb.Input {
				v.Hidden = append(v.Hidden, hiddenField{Name: name + f.Name, Value: valueString(f.Value)})
			}
		}
		if main {
			// Inputs beyond the main one (AM's suffixed inputs) keep their presets.
			for _, f := range cb.Input {
				if f.Name != "" {
					v.Hidden = append(v.Hidden, hiddenField{Name: name + f.Name, Value: valueString(f.Value)})
				}
			}
		}
	}
	v.Items = append(top, v.Items...)
	v.Types = strings.Join(types, ",")
	v.AutoSubmit = hasProfile && onlyProfile
	switch {
	case hasConfirm || polling:
	case hasPassword:
		v.Submit = "Sign in"
	default:
		v.Submit = "Continue"
	}
	if !polling {
		// A waiting page keeps the keyboard closed: the user may answer on the phone.
		focusFirst(v.Items)
	}
	v.Title = stepTitle(v)
	return v
}

// focusFirst puts autofocus on the first input that still needs typing, or else on the
// first input, so that the keyboard starts where the user has work to do.
func focusFirst(items []item) {
	first := -1
	for i := range items {
		if items[i].Kind != "input" && items[i].Kind != "choice" {
			continue
		}
		if first < 0 {
			first = i
		}
		if (items[i].Kind == "input" && items[i].Value == "") || (items[i].Kind == "choice" && items[i].Required) {
			items[i].Autofocus = true
			return
		}
	}
	if first >= 0 {
		items[first].Autofocus = true
	}
}

// stepTitle is the journey's header, or a title that says what the step is for.
func stepTitle(v stepView) string {
	if v.Header != "" {
		return v.Header
	}
	for _, it := range v.Items {
		switch it.Kind {
		case "qr":
			return "Register your device"
		case "challenge":
			return "Check your phone"
		case "codes":
			return "Save your recovery codes"
		case "apps":
			return "Get the authenticator app"
		}
	}
	if v.PollMillis > 0 {
		return "Check your phone"
	}
	return "Sign in"
}

func messageClass(t string) string {
	switch t {
	case nodes.MessageError:
		return "error"
	case nodes.MessageWarning:
		return "warning"
	}
	return "info"
}

// qrItem draws a pushauth:// registration URI: a QR code made here (an inline PNG, so no
// third party ever sees the URI and its secret), the URI as text to copy, and the
// command that registers the reference authenticator with it.
func qrItem(uri string) item {
	it := item{Kind: "qr", Value: uri, Command: "arbor device register " + shellQuote(uri)}
	img, err := qrcode.Encode(uri, qrcode.Medium, -4)
	if err != nil {
		// The URI is too long for a QR code: the text and the command still work.
		return it
	}
	it.Image = template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(img))
	if cfg, err := png.DecodeConfig(bytes.NewReader(img)); err == nil {
		it.Size = cfg.Width
	}
	return it
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// metadataItem draws the MetadataCallback data types the push nodes send.
func metadataItem(data any) (item, bool) {
	m, ok := data.(map[string]any)
	if !ok {
		return item{}, false
	}
	switch m["type"] {
	case "recovery_codes":
		name, _ := m["deviceName"].(string)
		codes := stringList(m["codes"])
		if len(codes) == 0 {
			return item{}, false
		}
		return item{Kind: "codes", Codes: codes, Label: name}, true
	case "authenticator_app":
		apple, _ := m["apple"].(string)
		google, _ := m["google"].(string)
		if !strings.HasPrefix(apple, "https://") {
			apple = ""
		}
		if !strings.HasPrefix(google, "https://") {
			google = ""
		}
		if apple == "" && google == "" {
			return item{}, false
		}
		return item{Kind: "apps", Apple: apple, Google: google}, true
	}
	return item{}, false
}

// stringList reads a list of strings as a node built it ([]string) or as it reads after
// a JSON round trip ([]any).
func stringList(v any) []string {
	switch t := v.(type) {
	case []string:
		return t
	case []any:
		out := make([]string, 0, len(t))
		for _, e := range t {
			out = append(out, fmt.Sprint(e))
		}
		return out
	}
	return nil
}

func intOf(v any) (int, bool) {
	switch t := v.(type) {
	case int:
		return t, true
	case float64:
		return int(t), true
	case string:
		n, err := strconv.Atoi(t)
		return n, err == nil
	}
	return 0, false
}

// valueString formats an input's preset as a form value.
func valueString(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return t
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64)
	default:
		return fmt.Sprint(t)
	}
}

// maxCallbacks bounds the step a submitted form may describe.
const maxCallbacks = 64

// parseAnswers reads a submitted step form back into callbacks: the types from "step"
// and each IDToken<N><suffix> field as input <suffix> of callback N. The last value of
// a repeated field wins (see the comment at the top of this file). The engine checks
// the result against what it sent and rebuilds it from its own record, so nothing here
// needs to be trusted.
func parseAnswers(form map[string][]string) ([]nodes.Callback, error) {
	step := ""
	if v := form["step"]; len(v) > 0 {
		step = v[len(v)-1]
	}
	if step == "" {
		return nil, fmt.Errorf("the form does not say which step it answers")
	}
	types := strings.Split(step, ",")
	if len(types) > maxCallbacks {
		return nil, fmt.Errorf("the form describes %d callbacks, more than %d", len(types), maxCallbacks)
	}
	out := make([]nodes.Callback, len(types))
	for i, t := range types {
		out[i].Type = t
	}
	for name, vals := range form {
		rest, ok := strings.CutPrefix(name, "IDToken")
		if !ok || len(vals) == 0 {
			continue
		}
		digits := 0
		for digits < len(rest) && digits < 3 && rest[digits] >= '0' && rest[digits] <= '9' {
			digits++
		}
		n, err := strconv.Atoi(rest[:digits])
		if err != nil || n < 1 || n > len(out) {
			continue
		}
		out[n-1].Input = append(out[n-1].Input, nodes.Field{Name: rest[digits:], Value: vals[len(vals)-1]})
	}
	return out, nil
}
