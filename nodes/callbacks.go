package nodes

import (
	"fmt"
	"strconv"
	"strings"
)

// Callback is one request for input or one piece of output, in the shape of ForgeRock
// AM's callbacks: a type, named outputs and inputs. Nodes build callbacks with the
// constructors below; the doors render them (the REST door as AM JSON with IDToken<N>
// input names, the browser door as HTML forms) and parse the answers back into the same
// shape, so a node never knows which door it is talking to.
type Callback struct {
	// Type is the AM callback type, for example "NameCallback".
	Type string `json:"type"`
	// Output holds the values shown to the client, in order.
	Output []Field `json:"output,omitempty"`
	// Input holds the values the client answers. Name is the input's suffix: "" for the
	// main input (IDToken<N> on the wire), or for example "validateOnly".
	//
	// Callbacks a node receives back (Context.Callbacks) carry Type and Input only: the
	// engine rebuilds them from what it sent and the client's inputs, and never trusts
	// outputs a client echoes. A node finds its callbacks by position.
	Input []Field `json:"input,omitempty"`
}

// Field is one named value of a callback.
type Field struct {
	Name  string `json:"name"`
	Value any    `json:"value"`
}

// Callback types Arbor's nodes emit. They are AM's names, which the ForgeRock SDKs know.
const (
	TypeName         = "NameCallback"
	TypePassword     = "PasswordCallback"
	TypeTextInput    = "TextInputCallback"
	TypeChoice       = "ChoiceCallback"
	TypeConfirmation = "ConfirmationCallback"
	TypeTextOutput   = "TextOutputCallback"
	TypePollingWait  = "PollingWaitCallback"
	TypeHiddenValue  = "HiddenValueCallback"
	TypeMetadata     = "MetadataCallback"
	TypeDeviceProf   = "DeviceProfileCallback"
)

// Text output message types, as AM stringifies them.
const (
	MessageInfo    = "0"
	MessageWarning = "1"
	MessageError   = "2"
	MessageScript  = "4"
)

// ConfirmationNotPressed is the preset input of an exit confirmation in polling steps
// (AM's EXIT_NOT_PRESSED): a client that leaves it alone keeps waiting; 0 exits.
const ConfirmationNotPressed = 100

// NameCallback asks for a user name.
func NameCallback(prompt string) Callback {
	return Callback{Type: TypeName, Output: []Field{{"prompt", prompt}}, Input: []Field{{"", ""}}}
}

// PasswordCallback asks for a secret that is not echoed.
func PasswordCallback(prompt string) Callback {
	return Callback{Type: TypePassword, Output: []Field{{"prompt", prompt}}, Input: []Field{{"", ""}}}
}

// TextInputCallback asks for free text.
func TextInputCallback(prompt, defaultText string) Callback {
	return Callback{Type: TypeTextInput, Output: []Field{{"prompt", prompt}, {"defaultText", defaultText}}, Input: []Field{{"", defaultText}}}
}

// ChoiceCallback asks to pick one of choices; the answer is the index.
func ChoiceCallback(prompt string, choices []string, defaultChoice int) Callback {
	return Callback{Type: TypeChoice,
		Output: []Field{{"prompt", prompt}, {"choices", choices}, {"defaultChoice", defaultChoice}},
		Input:  []Field{{"", defaultChoice}}}
}

// ConfirmationCallback offers options as buttons; the answer is the chosen index. The
// input is preset to selected (AM presets ConfirmationNotPressed in polling steps).
func ConfirmationCallback(prompt string, options []string, defaultOption, selected int) Callback {
	return Callback{Type: TypeConfirmation,
		Output: []Field{{"prompt", prompt}, {"messageType", 0}, {"options", options}, {"optionType", -1}, {"defaultOption", defaultOption}},
		Input:  []Field{{"", selected}}}
}

// TextOutputCallback shows a message; messageType is one of the Message* constants.
func TextOutputCallback(message, messageType string) Callback {
	return Callback{Type: TypeTextOutput, Output: []Field{{"message", message}, {"messageType", messageType}}}
}

// PollingWaitCallback asks the client to wait waitMillis and then submit the step again.
// The server never holds a request open.
func PollingWaitCallback(waitMillis int, message string) Callback {
	return Callback{Type: TypePollingWait, Output: []Field{{"waitTime", strconv.Itoa(waitMillis)}, {"message", message}}}
}

// HiddenValueCallback carries a value for the client to read (a registration URI, the
// number to match) and an input preset to its id, as AM does.
func HiddenValueCallback(id, value string) Callback {
	return Callback{Type: TypeHiddenValue, Output: []Field{{"value", value}, {"id", id}}, Input: []Field{{"", id}}}
}

// MetadataCallback carries structured data for the client.
func MetadataCallback(data any) Callback {
	return Callback{Type: TypeMetadata, Output: []Field{{"data", data}}}
}

// DeviceProfileCallback asks the client for device metadata and, optionally, location,
// answered as one JSON string.
func DeviceProfileCallback(metadata, location bool, message string) Callback {
	return Callback{Type: TypeDeviceProf, Output: []Field{{"metadata", metadata}, {"location", location}, {"message", message}}, Input: []Field{{"", ""}}}
}

// Out returns the output named name, or nil.
func (c Callback) Out(name string) any {
	for _, f := range c.Output {
		if f.Name == name {
			return f.Value
		}
	}
	return nil
}

// OutString returns the output named name as a string ("" if absent).
func (c Callback) OutString(name string) string {
	switch v := c.Out(name).(type) {
	case string:
		return v
	case nil:
		return ""
	default:
		return fmt.Sprint(v)
	}
}

// In returns the input with suffix name (the main input is ""), or nil.
func (c Callback) In(name string) any {
	for _, f := range c.Input {
		if f.Name == name {
			return f.Value
		}
	}
	return nil
}

// InString returns the main input as a string: text as it is, numbers formatted.
func (c Callback) InString() string {
	switch v := c.In("").(type) {
	case string:
		return v
	case nil:
		return ""
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	default:
		return fmt.Sprint(v)
	}
}

// InInt returns the main input as an integer. AM accepts numbers and numeric strings for
// choice and confirmation indexes; so does Arbor. ok is false for anything else.
func (c Callback) InInt() (n int, ok bool) {
	switch v := c.In("").(type) {
	case float64:
		if v != float64(int(v)) {
			return 0, false
		}
		return int(v), true
	case int:
		return v, true
	case int64:
		return int(v), true
	case string:
		i, err := strconv.Atoi(strings.TrimSpace(v))
		return i, err == nil
	}
	return 0, false
}

// Find returns the first callback of type typ in cbs.
func Find(cbs []Callback, typ string) (Callback, bool) {
	for _, c := range cbs {
		if c.Type == typ {
			return c, true
		}
	}
	return Callback{}, false
}
