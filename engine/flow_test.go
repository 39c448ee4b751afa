package engine

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/arbor-auth/arbor/nodes"
)

var flowSeeds = []string{
	`{"j":"login","v":1,"r":"/","n":"credentials","s":{"credentials.layout":[1,1],"realm":"/"},"p":[{"t":"NameCallback","i":[""]},{"t":"PasswordCallback","i":[""]}],"c":1,"t0":1800000000000,"exp":1800000300000}`,
	`{"j":"push-mfa","v":3,"r":"/alpha","n":"wait","s":{"username":"Zoë <admin>","push.n":42.5,"inner":{"v":1,"n":"x","s":{}},"list":["a",null,true]},"c":7,"t0":1,"exp":2,"d":true}`,
	`{"j":"x","v":1,"r":"/","n":"","c":0,"t0":0,"exp":0}`,
	`{"j":"x","v":1,"r":"/","n":"a","c":1,"t0":0,"exp":5,"sl":true}`, `{"c":0,"t0":0,"exp":5,"d":true,"sl":true}`,
	`{"j":"x","v":1,"r":"/","n":"a","p":[{"t":"TextOutputCallback"},{"t":"NameCallback","i":[""]}],"l":1,"c":2,"t0":0,"exp":9}`,
	`{"j":"x","v":1,"r":"/","n":"a","s":null,"p":null,"c":0,"t0":0,"exp":0,"d":false}`,
	`{"j":"x","v":1,"r":"/","n":"a","p":[{"t":"T"},{"t":"U","i":[]}],"c":0,"t0":0,"exp":0,"extra":{"ignored":[1]}}`,
	`{"j":"x","J":"y"}`, `{"j":"x","j":"y"}`, `{"v":1.5}`, `{"s":[]}`, `{"p":[null]}`, `null`, `{"d":null}`, `{"t0":"1"}`,
}

// The flow codec decodes what json.Unmarshal decodes, to the same Flow, or steps aside.
func FuzzFlowDecodeAgreesWithEncodingJSON(f *testing.F) {
	for _, s := range flowSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var fast Flow
		if fast.decodeJSON(data, string(data)) != nil {
			return
		}
		var want Flow
		if err := json.Unmarshal(data, &want); err != nil {
			t.Fatalf("%s: fast path decoded, json.Unmarshal: %v", data, err)
		}
		if !reflect.DeepEqual(fast, want) {
			t.Fatalf("%s:\nfast %#v\njson %#v", data, fast, want)
		}
	})
}

// The flow codec writes exactly what json.Marshal writes.
func FuzzFlowEncodeAgreesWithMarshal(f *testing.F) {
	for _, s := range flowSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var fl Flow
		if json.Unmarshal(data, &fl) != nil {
			return
		}
		checkFlowEncoding(t, &fl)
	})
}

func checkFlowEncoding(t *testing.T, fl *Flow) {
	t.Helper()
	want, werr := json.Marshal(fl)
	got, err := fl.appendJSON(nil)
	if werr == nil && (err != nil || !bytes.Equal(got, want)) {
		t.Fatalf("appendJSON:\n%s, %v\njson.Marshal:\n%s", got, err, want)
	}
	if werr == nil && !bytes.Equal(fl.marshal(), want) {
		t.Fatalf("marshal differs from json.Marshal")
	}
}

// Shared state holds Go values nodes put there, not only what JSON decodes to.
func TestFlowEncodingOfGoValues(t *testing.T) {
	fl := &Flow{Journey: "j", Version: 2, Realm: "/", Node: "n", Steps: 3, Started: 4, Expires: 5, Done: true, Lead: 1,
		Pending: []Pending{{Type: "T", Inputs: []string{"", "x"}}},
		Shared: nodes.State{"layout": []int{1, 2}, "inner": innerState{Version: 1, Node: "a", Shared: nodes.State{"k": "v"}},
			"state": nodes.State{"a": 1}, "n": 7, "big": int64(1) << 60, "f": 0.000001, "s": []string{"<&>"}, "nil": nil}}
	checkFlowEncoding(t, fl)
	var back Flow
	if err := unmarshalFlow(fl.marshal(), &back); err != nil || back.Journey != "j" || back.Shared["n"] != 7.0 || !back.Done || back.Lead != 1 {
		t.Fatalf("round trip: %+v, %v", back, err)
	}
}
