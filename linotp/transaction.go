package linotp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/engine"
	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/nodes/mfa"
	"github.com/arbor-auth/arbor/store"
)

// Transaction states, as check_status reports them.
const (
	StateOpen     = "open"
	StateAccepted = "accepted"
	StateRejected = "rejected"
	StateExpired  = "expired"
)

// KeyPushExpired is the shared-state key the shipped linotp journey sets on the way to
// failure when the push expired, so a timeout is told apart from a denial.
const KeyPushExpired = "pushExpired"

// grace keeps a finished transaction readable this long past its flow's expiry.
const grace = 5 * time.Minute

// transaction is what the store keeps under linotp:{ID}.
type transaction struct {
	ID      string           `json:"-"`
	Flow    string           `json:"flow"`
	Realm   string           `json:"realm"`
	User    string           `json:"user"`
	Serial  string           `json:"serial,omitempty"`
	State   string           `json:"state"`
	Step    []nodes.Callback `json:"step,omitempty"` // the polling step, answered with its presets
	Expires time.Time        `json:"expires"`
}

func txKey(id string) string { return "linotp:{" + id + "}" }

func (d *Door) ttl(exp time.Time) time.Duration {
	return max(exp.Sub(d.d.Now())+grace, time.Second)
}

// open records the transaction of a flow that now waits for its push.
func (d *Door) open(ctx context.Context, c *call, res *engine.Result) (*transaction, error) {
	id := res.Shared.String(mfa.KeyTransactionID)
	if id == "" {
		d.log.Error("LinOTP door's journey waits without a transaction; put transaction_data and push_sender with transaction: true in it", "journey", d.cfg.Journey, "flow_id", res.FlowID)
		return nil, &rpcError{status: http.StatusInternalServerError, code: codeInternal, msg: "The journey " + d.cfg.Journey + " sent a push without a transaction"}
	}
	tx := &transaction{ID: id, Flow: res.FlowID, Realm: res.Realm, User: res.Shared.String(nodes.KeyUsername),
		Serial: res.Shared.String(mfa.KeyTransactionDevice), State: StateOpen, Step: res.Callbacks, Expires: res.Expires}
	if tx.User == "" {
		tx.User = c.user
	}
	b, err := json.Marshal(tx)
	if err != nil {
		return nil, fmt.Errorf("linotp: encode transaction: %w", err)
	}
	if _, err := d.d.Store.CAS(ctx, txKey(id), b, 0, d.ttl(tx.Expires)); err != nil {
		return nil, fmt.Errorf("linotp: save transaction: %w", err)
	}
	return tx, nil
}

// errNoTransaction answers an unknown transaction and another user's alike.
var errNoTransaction = badParam("No transaction with this transactionid for this user")

// serveStatus answers /validate/check_status.
func (d *Door) serveStatus(w http.ResponseWriter, r *http.Request) {
	c, v, ok := d.begin(w, r, statusParams)
	if !ok {
		return
	}
	id := v.Get("transactionid")
	if id == "" {
		d.fail(c, badParam("Missing parameter: transactionid"))
		return
	}
	if len(id) != mfa.TransactionIDDigits || !digits(id) {
		d.fail(c, badParam("Parameter transactionid must be %d digits", mfa.TransactionIDDigits))
		return
	}
	ctx := r.Context()
	it, err := d.d.Store.Get(ctx, txKey(id))
	if errors.Is(err, store.ErrNotFound) {
		d.fail(c, errNoTransaction)
		return
	}
	if err != nil {
		d.fail(c, fmt.Errorf("linotp: read transaction: %w", err))
		return
	}
	var tx transaction
	if err := json.Unmarshal(it.Value, &tx); err != nil {
		d.fail(c, fmt.Errorf("linotp: decode transaction %s: %w", id, err))
		return
	}
	tx.ID = id
	if tx.Realm != c.realm || !sameUser(tx.User, c.user) {
		d.d.Audit.Emit(ctx, audit.Event{Type: EventRefused, Realm: c.realm, User: c.user, Client: c.client.IP,
			Reason: "transaction of another user", Details: map[string]any{"transaction_id": id}})
		d.fail(c, errNoTransaction)
		return
	}
	if tx.State == StateOpen {
		if err := d.advance(ctx, c, &tx, it.Rev); err != nil {
			d.fail(c, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, value(tx.State == StateAccepted, statusDetail{Transactions: map[string]txStatus{id: tx.status()}}))
}

// advance continues an open transaction's flow once (keep waiting) and records where
// that left it.
func (d *Door) advance(ctx context.Context, c *call, tx *transaction, rev uint64) error {
	out, err := d.d.Core.Continue(ctx, d.doorContinue(c, tx))
	res, err := result(out, err)
	switch {
	case errors.Is(err, engine.ErrStepConflict):
		return nil // a concurrent check_status moved it; it stays open for this answer
	case errors.Is(err, engine.ErrFlowNotFound):
		tx.State = StateExpired
	case err != nil:
		return err
	case res.Status == engine.NeedInput && polling(res.Callbacks):
		tx.Step = res.Callbacks
		return nil // nothing new to record; the step's shape does not change
	case res.Status == engine.Succeeded:
		tx.State = StateAccepted
	case res.Status == engine.Failed && res.Shared != nil && res.Shared[KeyPushExpired] == true:
		tx.State = StateExpired
	default:
		tx.State = StateRejected
	}
	tx.Step = nil
	b, err := json.Marshal(tx)
	if err != nil {
		return fmt.Errorf("linotp: encode transaction: %w", err)
	}
	if _, err := d.d.Store.CAS(ctx, txKey(tx.ID), b, rev, d.ttl(tx.Expires)); err != nil && !errors.Is(err, store.ErrConflict) {
		// The flow has ended: without the record a later check_status would say the
		// transaction is unknown, so the outage is reported and the caller asks again
		// (and then learns it expired, which fails closed).
		return fmt.Errorf("linotp: save transaction: %w", err)
	}
	ev := audit.Event{Type: EventReject, Realm: tx.Realm, User: tx.User, Journey: d.cfg.Journey, FlowID: tx.Flow, Client: c.client.IP,
		Reason: tx.State, Details: map[string]any{"transaction_id": tx.ID}}
	if tx.State == StateAccepted {
		ev.Type, ev.Reason = EventAccept, ""
	}
	d.d.Audit.Emit(ctx, ev)
	return nil
}

func digits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

type statusDetail struct {
	Transactions map[string]txStatus `json:"transactions"`
}

type txStatus struct {
	TransactionID string    `json:"transactionid"`
	Status        string    `json:"status"`
	Token         tokenInfo `json:"token"`
	ReceivedTAN   bool      `json:"received_tan"`
	ValidTAN      bool      `json:"valid_tan"`
	ReceivedCount int       `json:"received_count"`
	Message       string    `json:"message"`
}

type tokenInfo struct {
	Serial string `json:"serial"`
	Type   string `json:"type"`
}

// status is the transaction as check_status reports it.
func (tx *transaction) status() txStatus {
	s := txStatus{TransactionID: tx.ID, Status: tx.State, Token: tokenInfo{Serial: tx.Serial, Type: "push"}}
	switch tx.State {
	case StateAccepted:
		s.ReceivedTAN, s.ValidTAN, s.ReceivedCount, s.Message = true, true, 1, "The device approved the transaction."
	case StateRejected:
		s.ReceivedTAN, s.ReceivedCount, s.Message = true, 1, "The device denied the transaction."
	case StateExpired:
		s.Message = "The transaction expired before the device answered."
	default:
		s.Message = "Waiting for the device to answer."
	}
	return s
}
