package radius

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"

	"github.com/arbor-auth/arbor/identity"
)

// replyAttributes builds the client's Access-Accept attributes for user. It reads the
// user only when an attribute needs one of theirs. A value that does not fit its
// attribute is left out and logged, never truncated.
func (s *Server) replyAttributes(ctx context.Context, cl *client, realm, user string) (radius.Attributes, error) {
	var profile map[string]any
	needUser := false
	for _, ra := range cl.reply {
		needUser = needUser || ra.From != ""
	}
	if needUser && s.users != nil && user != "" {
		u, err := s.users.Get(ctx, realm, user)
		switch {
		case errors.Is(err, identity.ErrNotFound):
		case err != nil:
			return nil, fmt.Errorf("radius reply attributes: %w", err)
		default:
			profile = u.Attributes
		}
	}
	var out radius.Attributes
	for _, ra := range cl.reply {
		vals := []string{ra.Value}
		if ra.From != "" {
			vals = attributeStrings(profile[ra.From])
		}
		for _, v := range vals {
			a, err := ra.encode(v)
			if err != nil {
				s.log.Warn("RADIUS reply attribute left out", "client", cl.name, "type", ra.Type, "vendor", ra.Vendor, "from", ra.From, "err", err)
				continue
			}
			out = append(out, a)
		}
	}
	return out, nil
}

// attributeStrings returns a user attribute's values as text: a list gives one value
// per element.
func attributeStrings(v any) []string {
	switch x := v.(type) {
	case nil:
		return nil
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			out = append(out, attributeStrings(e)...)
		}
		return out
	case []string:
		return x
	case float64:
		return []string{strconv.FormatFloat(x, 'f', -1, 64)}
	case bool:
		return []string{strconv.FormatBool(x)}
	}
	return []string{fmt.Sprint(v)}
}

// encode returns the attribute carrying v.
func (r ReplyAttribute) encode(v string) (*radius.AVP, error) {
	var val radius.Attribute
	if r.Integer {
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("%q is not a 32-bit unsigned integer", v)
		}
		val = radius.NewInteger(uint32(n))
	} else {
		var err error
		if val, err = radius.NewString(v); err != nil {
			return nil, err
		}
	}
	if r.Vendor == 0 {
		if len(val) > 253 {
			return nil, errors.New("value longer than 253 bytes")
		}
		return &radius.AVP{Type: radius.Type(r.Type), Attribute: val}, nil
	}
	// Vendor-Specific (RFC 2865 §5.26) in the recommended format: vendor type, length,
	// value.
	if len(val) > 247 {
		return nil, errors.New("vendor value longer than 247 bytes")
	}
	sub := append(radius.Attribute{byte(r.Type), byte(len(val) + 2)}, val...)
	vsa, err := radius.NewVendorSpecific(r.Vendor, sub)
	if err != nil {
		return nil, err
	}
	return &radius.AVP{Type: rfc2865.VendorSpecific_Type, Attribute: vsa}, nil
}
