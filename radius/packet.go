package radius

import (
	"crypto/hmac"
	"crypto/md5"
	"errors"
	"fmt"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2869"
)

// errNoMessageAuthenticator is a request without a Message-Authenticator.
var errNoMessageAuthenticator = errors.New("no Message-Authenticator")

// verifyMessageAuthenticator checks the request's Message-Authenticator (RFC 3579
// §3.2): HMAC-MD5 keyed with the shared secret over the packet with the attribute's
// value zeroed. layeh.com/radius parses and re-encodes the packet byte for byte; the
// HMAC is the only part it does not provide.
func verifyMessageAuthenticator(p *radius.Packet) error {
	var got []byte
	n := 0
	for _, avp := range p.Attributes {
		if avp.Type == rfc2869.MessageAuthenticator_Type {
			got = avp.Attribute
			n++
		}
	}
	switch {
	case n == 0:
		return errNoMessageAuthenticator
	case n > 1:
		return errors.New("more than one Message-Authenticator")
	case len(got) != md5.Size:
		return fmt.Errorf("Message-Authenticator of %d bytes", len(got))
	}
	zeroed := *p
	zeroed.Attributes = make(radius.Attributes, len(p.Attributes))
	for i, avp := range p.Attributes {
		if avp.Type == rfc2869.MessageAuthenticator_Type {
			avp.Attribute = make(radius.Attribute, md5.Size)
		}
		zeroed.Attributes[i] = avp
	}
	raw, err := zeroed.MarshalBinary()
	if err != nil {
		return err
	}
	m := hmac.New(md5.New, p.Secret)
	m.Write(raw)
	if !hmac.Equal(m.Sum(nil), got) {
		return errors.New("wrong Message-Authenticator (wrong shared secret?)")
	}
	return nil
}

// encodeReply encodes a reply with a Message-Authenticator as its first attribute, as
// the BlastRADIUS mitigation asks: the HMAC is computed over the reply carrying the
// Request Authenticator, then Encode computes the Response Authenticator over the
// whole, Message-Authenticator included.
func encodeReply(q *radius.Packet) ([]byte, error) {
	attrs := make(radius.Attributes, 0, len(q.Attributes)+1)
	attrs = append(attrs, &radius.AVP{Type: rfc2869.MessageAuthenticator_Type, Attribute: make(radius.Attribute, md5.Size)})
	for _, avp := range q.Attributes {
		if avp.Type != rfc2869.MessageAuthenticator_Type {
			attrs = append(attrs, avp)
		}
	}
	q.Attributes = attrs
	raw, err := q.MarshalBinary() // the authenticator field still holds the request's
	if err != nil {
		return nil, err
	}
	m := hmac.New(md5.New, q.Secret)
	m.Write(raw)
	copy(attrs[0].Attribute, m.Sum(nil))
	return q.Encode()
}

// addText adds s as one attribute of type t, split over several attributes when it is
// longer than one can hold (Reply-Message may repeat; the client joins them).
func addText(p *radius.Packet, t radius.Type, s string) {
	const max = 253
	for len(s) > 0 {
		n := min(len(s), max)
		// Do not split a UTF-8 sequence.
		for n < len(s) && n > 0 && s[n]&0xC0 == 0x80 {
			n--
		}
		p.Add(t, radius.Attribute(s[:n]))
		s = s[n:]
	}
}

// replyMessage adds msg as Reply-Message.
func replyMessage(p *radius.Packet, msg string) {
	addText(p, rfc2865.ReplyMessage_Type, msg)
}
