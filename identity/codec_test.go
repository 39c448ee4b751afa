package identity

import (
	"encoding/json"
	"reflect"
	"testing"
)

func FuzzUserDecodeAgreesWithEncodingJSON(f *testing.F) {
	for _, s := range []string{
		`{"realm":"/","username":"demo","password_hash":"$argon2id$v=19$m=8,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g","attributes":{"givenName":"Demo","mail":"demo@example.com","roles":["admin"],"n":1.5},"status":"active","created":"2026-11-22T06:24:35.123456789Z","updated":"2026-11-22T06:24:35.123456789+02:00"}`,
		`{"realm":"/alpha","username":"Zoë","status":"locked","created":"0001-01-01T00:00:00Z","updated":null,"attributes":null}`,
		`{"attributes":{}}`, `{"attributes":[]}`, `{"status":null}`, `{"Realm":"/"}`, `{"realm":"/","realm":"/x"}`, `{"created":"now"}`, `{"other":{"x":[1]}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var got, want User
		err := decodeUser(data, &got)
		werr := json.Unmarshal(data, &want)
		if (err == nil) != (werr == nil) || err == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: decodeUser %#v, %v; json.Unmarshal %#v, %v", data, got, err, want, werr)
		}
	})
}
