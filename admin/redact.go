package admin

import (
	"encoding/json"
	"strings"
)

// Redacted replaces a secret in an audit event's before and after.
const Redacted = "[redacted]"

// secretKeys are the field names whose values never reach an audit event, whatever
// view they come in: password hashes, device seeds, recovery codes, tokens, token PINs.
var secretKeys = []string{"password", "password_hash", "hash", "secret", "secret_sealed", "seed", "codes", "recovery", "token", "pin", "pin_hash"}

func isSecretKey(k string) bool {
	k = strings.ToLower(k)
	for _, s := range secretKeys {
		if k == s {
			return true
		}
	}
	return false
}

// redact returns v (a view built for the audit event) with the value of every secret
// field replaced by Redacted, at any depth. Views are built without secrets in the first
// place; this is the second line, so a field added to a view later cannot leak. A
// journey document (json.RawMessage) goes through too: a node config field named like
// a secret is masked as well.
func redact(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return Redacted
	}
	var x any
	if err := json.Unmarshal(b, &x); err != nil {
		return Redacted
	}
	return redactValue(x)
}

func redactValue(x any) any {
	switch t := x.(type) {
	case map[string]any:
		for k, v := range t {
			if isSecretKey(k) {
				t[k] = Redacted
				continue
			}
			t[k] = redactValue(v)
		}
	case []any:
		for i, v := range t {
			t[i] = redactValue(v)
		}
	}
	return x
}
