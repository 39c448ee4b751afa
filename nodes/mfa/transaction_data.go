package mfa

import (
	"crypto/rand"
	"math/big"
	"strings"

	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/push"
)

// TransactionDataConfig configures transaction_data.
type TransactionDataConfig struct {
	Prompt map[string]string `json:"prompt" default:"{\"en\":\"Transaction\"}" doc:"Prompt of the text field, by locale."`
}

// Shared-state keys where transaction_data leaves the transaction for push_sender
// (with transaction: true) and for the door that reports on it. They are in the
// reserved namespace: only this node writes them, so no journey can fake the id a door
// maps back to a flow.
const (
	KeyTransactionID   = nodes.ReservedPrefix + "transaction_id"
	KeyTransactionData = nodes.ReservedPrefix + "transaction_data"
	// KeyTransactionDevice is where push_sender leaves the id of the device a
	// transaction push went to (LinOTP's token serial).
	KeyTransactionDevice = nodes.ReservedPrefix + "transaction_device"
)

// TransactionIDDigits is the length of a transaction id: decimal digits, as LinOTP's
// transactionid, but 20 of them (66 bits), so an id cannot be guessed.
const TransactionIDDigits = 20

// registerTransactionData adds the transaction_data node type to r.
func registerTransactionData(r *nodes.Registry) {
	nodes.Register(r, nodes.Spec[TransactionDataConfig]{
		Type:     "transaction_data",
		Title:    "Transaction Data",
		Category: "mfa",
		Summary:  "Takes the text of a transaction to approve (a LinOTP-style data parameter) and gives it a transaction id.",
		Description: "Sends a TextInputCallback with the prompt. The answer, valid UTF-8 text of at most 1024 bytes without control " +
			"characters other than tab and newline, goes to shared state arbor.transaction_data, and a new random transaction id of " +
			"20 digits to arbor.transaction_id; a push_sender with transaction: true then shows the text verbatim on the device and " +
			"binds the approval to that id and text. Text that is too long or not displayable asks again with an error; an empty " +
			"answer is a transaction with no text of its own (the push shows push_sender's message).",
		Input:    true,
		Outcomes: []nodes.Outcome{{ID: "outcome", Label: "Outcome"}},
		New: func(c *TransactionDataConfig, _ *nodes.Build) (nodes.Node, error) {
			return &transactionData{cfg: c}, nil
		},
	})
}

type transactionData struct{ cfg *TransactionDataConfig }

// Process runs the node for one visit of a flow (nodes.Node).
func (n *transactionData) Process(ctx *nodes.Context) (nodes.Action, error) {
	ask := func(problem string) nodes.Action {
		cbs := []nodes.Callback{}
		if problem != "" {
			cbs = append(cbs, nodes.TextOutputCallback(problem, nodes.MessageError))
		}
		cbs = append(cbs, nodes.TextInputCallback(text(n.cfg.Prompt, ctx, "Transaction"), ""))
		return nodes.Send(cbs...)
	}
	cb, ok := nodes.Find(ctx.Callbacks, nodes.TypeTextInput)
	if !ok {
		return ask(""), nil
	}
	data := strings.TrimSpace(cb.InString())
	switch {
	case len(data) > push.MaxTransactionText:
		return ask("The transaction text is longer than 1024 bytes."), nil
	case !push.DisplayableText(data):
		return ask("The transaction text has characters that cannot be shown."), nil
	}
	id, err := newTransactionID()
	if err != nil {
		return nodes.Action{}, err
	}
	ctx.Shared[KeyTransactionID] = id
	ctx.Shared[KeyTransactionData] = data
	return nodes.Goto("outcome"), nil
}

// newTransactionID returns TransactionIDDigits random decimal digits from crypto/rand.
func newTransactionID() (string, error) {
	limit := new(big.Int).Exp(big.NewInt(10), big.NewInt(TransactionIDDigits), nil)
	v, err := rand.Int(rand.Reader, limit)
	if err != nil {
		return "", err
	}
	s := v.String()
	return strings.Repeat("0", TransactionIDDigits-len(s)) + s, nil
}
