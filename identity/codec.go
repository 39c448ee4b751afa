package identity

import (
	"encoding/json"

	"github.com/arbor-auth/arbor/internal/jsonx"
)

// decodeUser decodes a stored user as json.Unmarshal would into a zero User. Every
// login reads one, so it goes through package jsonx's fast path, which hands anything
// unusual to encoding/json.
func decodeUser(data []byte, u *User) error {
	// The record's strings are cut from one copy of it (jsonx.NewSharedDecoder).
	if u.decodeJSON(data, string(data)) == nil {
		return nil
	}
	*u = User{}
	return json.Unmarshal(data, u)
}

var userFields = []string{"realm", "username", "password_hash", "attributes", "status", "created", "updated", "must_change_password"}

func (u *User) decodeJSON(data []byte, src string) error {
	return jsonx.DecodeObjectShared(data, src, userFields, func(d *jsonx.Decoder, i int) (err error) {
		switch i {
		case 0:
			u.Realm, err = d.String()
		case 1:
			u.Username, err = d.String()
		case 2:
			u.PasswordHash, err = d.String()
		case 3:
			if d.Null() {
				return nil
			}
			var m map[string]any
			if m, err = d.AnyObject(); err == nil {
				u.Attributes = m
			}
		case 4:
			var s string
			s, err = d.String()
			u.Status = Status(s)
		case 5, 6:
			var raw []byte
			if raw, err = d.Raw(); err == nil {
				if i == 5 {
					err = u.Created.UnmarshalJSON(raw)
				} else {
					err = u.Updated.UnmarshalJSON(raw)
				}
			}
		case 7:
			u.MustChangePassword, err = d.Bool()
		}
		return err
	})
}
