package push

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"unicode"
	"unicode/utf8"
)

// Transaction binds a push to one transaction, as LinOTP's push token does: the device
// shows Text exactly, and its approval counts only for that ID and that Text.
//
// The push message carries the transaction id in the "tx" claim, the text in "m" and
// TransactionHash(ID, Text) in "th". A device answering a transaction push must send
// back, in its signed reply, the "tx" and "th" of what it showed; a reply naming
// another transaction, or a hash of other text, is rejected (and audited as
// push.reply_rejected), so an approval cannot be moved to another transaction nor to
// altered text. Apps that do not know these claims (AM's) cannot answer such a push.
type Transaction struct {
	// ID is the transaction id the caller was given (LinOTP's transactionid).
	ID string
	// Text is what the device shows: the transaction data, verbatim.
	Text string
}

// MaxTransactionText bounds a transaction's text in bytes, so the push message stays
// well within what FCM and APNs carry.
const MaxTransactionText = 1024

// check reports what is wrong with t, or nil.
func (t *Transaction) check() error {
	switch {
	case t.ID == "" || len(t.ID) > 64:
		return fmt.Errorf("%w: a transaction needs an id of 1 to 64 bytes", ErrInvalidRequest)
	case len(t.Text) > MaxTransactionText:
		return fmt.Errorf("%w: transaction text longer than %d bytes", ErrInvalidRequest, MaxTransactionText)
	case !DisplayableText(t.Text):
		return fmt.Errorf("%w: transaction text is not displayable UTF-8 text", ErrInvalidRequest)
	}
	return nil
}

// DisplayableText reports whether s is valid UTF-8 with no control characters other
// than tab and newline: text a device can show as it is.
func DisplayableText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) && r != '\n' && r != '\t' {
			return false
		}
	}
	return true
}

// TransactionHash binds a transaction id to the exact text shown:
// base64url(SHA-256(id || 0x00 || text)), without padding. The zero byte keeps an id
// from running into the text.
func TransactionHash(id, text string) string {
	h := sha256.New()
	h.Write([]byte(id))
	h.Write([]byte{0})
	h.Write([]byte(text))
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}
