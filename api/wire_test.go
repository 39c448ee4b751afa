package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/arbor-auth/arbor/nodes"
)

var bodySeeds = []string{
	`{"authId":"a.b.c","callbacks":[{"_id":0,"input":[{"name":"IDToken1","value":"demo"}],"output":[{"name":"prompt","value":"User Name"}],"type":"NameCallback"},{"_id":1,"input":[{"name":"IDToken2","value":"p\"w\\d é"}],"output":[{"name":"prompt","value":"Password"}],"type":"PasswordCallback"}],"header":"Sign in","stage":"UsernamePassword"}`,
	`{"authId":"x","callbacks":[{"type":"ChoiceCallback","input":[{"name":"IDToken1","value":1}]},{"type":"ConfirmationCallback","input":[{"name":"IDToken2","value":true}]},{"type":"T","input":null}],"status":200,"ok":true}`,
	`{"authId":null,"callbacks":null}`, `{"authId":"x","callbacks":[]}`, `{"callbacks":[{"type":"T","input":[{"name":"IDToken1","value":{"a":[1]}}]}]}`,
	`{"AuthId":"x"}`, `{"authId":"x","authId":"y"}`, `{"callbacks":[{"type":"T","TYPE":"U"}]}`, `{"callbacks":[null]}`, `{"authId":5}`,
	`{"authId":"x"} trailing`, `[]`, `null`, `{"authId":"\u00e9\ud83d\ude00"}`, `{"callbacks":[{"input":[{"name":null}]}]}`,
	`{"callbacks":[{"type":"Name\u0043allback","input":[{"name":"IDToken\u0031","value":"x"}]},{"type":"NameCallbackX","input":[{"name":"IDToken10","value":"y"},{"name":"IDToken","value":"z"}]}]}`,
}

// The fast path decodes a body to what encoding/json decodes it to, or steps aside.
func FuzzContinueBodyAgreesWithEncodingJSON(f *testing.F) {
	for _, s := range bodySeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var fast continueBody
		fastErr := fast.decodeJSON(data)
		normalize(&fast)
		var want continueBody
		err := json.Unmarshal(data, &want)
		if fastErr == nil {
			if err != nil {
				t.Fatalf("%s: fast path decoded, json.Unmarshal: %v", data, err)
			}
			if !reflect.DeepEqual(fast, want) {
				t.Fatalf("%s:\nfast %#v\njson %#v", data, fast, want)
			}
		}
		// Whatever the path, decodeContinueBody answers as a json.Decoder does.
		got, gotErr := decodeContinueBody(data)
		normalize(&got)
		var dec continueBody
		decErr := json.NewDecoder(bytes.NewReader(data)).Decode(&dec)
		if (gotErr == nil) != (decErr == nil) || gotErr != nil && gotErr.Error() != decErr.Error() || gotErr == nil && !reflect.DeepEqual(got, dec) {
			t.Fatalf("%s: decodeContinueBody %#v, %v; json.Decoder %#v, %v", data, got, gotErr, dec, decErr)
		}
	})
}

// TestContinueBodyStringsOwnTheirBytes checks that the strings a continuing request
// is decoded into, known callback types and input names (constants) or not (copies),
// keep their values when the body's buffer is reused.
func TestContinueBodyStringsOwnTheirBytes(t *testing.T) {
	body := []byte(`{"authId":"x","callbacks":[{"type":"NameCallback","input":[{"name":"IDToken1","value":"a"}]},{"type":"OtherCallback","input":[{"name":"IDToken12","value":"b"}]}]}`)
	cb, err := decodeContinueBody(body)
	if err != nil {
		t.Fatal(err)
	}
	for i := range body {
		body[i] = 'X'
	}
	got := *cb.Callbacks
	want := []wireAnswer{
		{Type: "NameCallback", Input: []wireField{{Name: "IDToken1", Value: "a"}}},
		{Type: "OtherCallback", Input: []wireField{{Name: "IDToken12", Value: "b"}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("decoded %+v\nwant %+v", got, want)
	}
}

// normalize moves an authId the fast path left as bytes to where encoding/json puts it.
func normalize(cb *continueBody) {
	if b, ok := cb.authIDBytes(); ok && cb.AuthID == nil {
		s := string(b)
		cb.AuthID = &s
	}
	cb.authID = nil
}

func FuzzClaimsAgreeWithEncodingJSON(f *testing.F) {
	for _, s := range []string{
		`{"otk":"A","authIndexType":"service","authIndexValue":"login","realm":"/","sessionId":"f","exp":1800000000,"iat":1799999700}`,
		`{"sessionId":"f","exp":1.8e9}`, `{"exp":null}`, `{"sessionId":"a\u00e9\"b","flow":"x\/y","iat":2,"exp":1}`, `{"exp":"1"}`, `{"sessionid":"f"}`, `{"sub":"x","exp":1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var want authIDClaims
		werr := json.Unmarshal(data, &want)
		for _, src := range []string{"", string(data)} {
			got, err := decodeClaims(data, src)
			if (err == nil) != (werr == nil) || err == nil && !reflect.DeepEqual(got, want) {
				t.Fatalf("%s (shared %v): decodeClaims %#v, %v; json.Unmarshal %#v, %v", data, src != "", got, err, want, werr)
			}
		}
	})
}

// The step and success bodies are written exactly as echo's c.JSON writes them.
func FuzzResponsesAgreeWithEchoJSON(f *testing.F) {
	f.Add("eyJ.x.y", "Sign <In>", "", "UsernamePassword", "prompt", "User Name", "IDToken1", []byte(`""`), true)
	f.Add("", "", "d\u2028", "", "", "", "", []byte(`[1,"a",{"b":null}]`), false)
	f.Fuzz(func(t *testing.T, authID, header, desc, stage, outName, outValue, inName string, inValue []byte, withID bool) {
		var v any
		if json.Unmarshal(inValue, &v) != nil {
			v = string(inValue)
		}
		cbs := []nodes.Callback{{Type: "NameCallback", Output: []nodes.Field{{Name: outName, Value: outValue}}, Input: []nodes.Field{{Name: inName, Value: v}}},
			{Type: "TextOutputCallback", Output: []nodes.Field{{Name: "messageType", Value: 0}, {Name: "options", Value: []string{"a", "<b>"}}}}}
		step := &stepBody{AuthID: authID, Callbacks: RenderCallbacks(cbs), Header: header, Description: desc, Stage: stage}
		if !withID {
			step.Callbacks[0].ID = nil
			step.Callbacks[1].Output = nil
		}
		compareWithEcho(t, step)
		compareWithEcho(t, &stepBody{AuthID: authID})
		compareWithEcho(t, &successBody{TokenID: outValue, SuccessURL: header, Realm: stage})
		compareWithEcho(t, logoutBody)
	})
}

func compareWithEcho(t *testing.T, v any) {
	t.Helper()
	e := echo.New()
	serve := func(f func(c echo.Context) error) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		c := e.NewContext(httptest.NewRequest(http.MethodPost, "/", nil), w)
		if err := f(c); err != nil {
			t.Fatal(err)
		}
		return w
	}
	got := serve(func(c echo.Context) error { return writeJSON(c, http.StatusOK, v) })
	if p, ok := v.(preencoded); ok {
		v = p.v
	}
	want := serve(func(c echo.Context) error { return c.JSON(http.StatusOK, v) })
	if got.Code != want.Code || !bytes.Equal(got.Body.Bytes(), want.Body.Bytes()) || !reflect.DeepEqual(got.Header(), want.Header()) {
		t.Fatalf("writeJSON: %d %v %s\nc.JSON:    %d %v %s", got.Code, got.Header(), got.Body.Bytes(), want.Code, want.Header(), want.Body.Bytes())
	}
}
