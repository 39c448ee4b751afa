package radius

import (
	"net/netip"
	"sync"
	"time"
)

// dupKey identifies a request as RFC 5080 §2.2.2 does: the client, its source address
// and port, the Identifier and the Request Authenticator. A retransmission repeats all
// of them; a new request changes at least the authenticator.
type dupKey struct {
	client string
	from   netip.AddrPort
	id     byte
	auth   [16]byte
}

type dupEntry struct {
	reply   []byte // nil while the request is being answered (or when it got no answer)
	done    bool
	expires time.Time
}

// dedup remembers requests being answered and the answers sent, so a retransmission
// is never processed twice (no step runs twice, no second push is sent): while the
// first copy is in hand, copies are dropped (the client gets the answer to the first);
// afterwards they get the same answer again, byte for byte.
type dedup struct {
	mu      sync.Mutex
	entries map[dupKey]*dupEntry
	window  time.Duration
	max     int
	now     func() time.Time
}

func newDedup(window time.Duration, max int, now func() time.Time) *dedup {
	return &dedup{entries: map[dupKey]*dupEntry{}, window: window, max: max, now: now}
}

// begin registers k. It returns first=true when k is new and the caller must answer
// it (then call finish); otherwise reply is the answer to resend, nil to drop.
func (d *dedup) begin(k dupKey) (first bool, reply []byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now()
	if e, ok := d.entries[k]; ok && (!e.done || now.Before(e.expires)) {
		return false, e.reply
	}
	if len(d.entries) >= d.max {
		d.sweep(now)
	}
	if len(d.entries) >= d.max {
		// Full of live entries: answering without a memory would risk processing a
		// retransmission twice, so the request is dropped; the client retries.
		return false, nil
	}
	d.entries[k] = &dupEntry{}
	return true, nil
}

// finish records the answer to k. A request that got no answer (a store outage) is
// forgotten, so the client's retry is processed: the step it carried changed nothing.
func (d *dedup) finish(k dupKey, reply []byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if reply == nil {
		delete(d.entries, k)
		return
	}
	if e, ok := d.entries[k]; ok {
		e.reply, e.done, e.expires = reply, true, d.now().Add(d.window)
	}
}

// sweep drops answers older than the window. Called with d.mu held.
func (d *dedup) sweep(now time.Time) {
	for k, e := range d.entries {
		if e.done && !now.Before(e.expires) {
			delete(d.entries, k)
		}
	}
}
