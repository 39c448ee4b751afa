package api

import (
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var testAuthKey = []byte("0123456789abcdef0123456789abcdef")

// rawToken signs header and payload (both JSON text) with key, as any HS256 JWT library
// would, so tests can build well-signed tokens the codec must still refuse.
func rawToken(c *authIDCodec, header, payload string) string {
	in := base64.RawURLEncoding.EncodeToString([]byte(header)) + "." + base64.RawURLEncoding.EncodeToString([]byte(payload))
	return string(c.sign([]byte(in+"."), []byte(in)))
}

func TestAuthIDRoundTrip(t *testing.T) {
	c := newAuthIDCodec(testAuthKey)
	now := time.Unix(1_800_000_000, 400_000_000)
	exp := now.Add(5 * time.Minute)
	for _, tc := range []struct{ flow, journey, realm, sealed string }{
		{"abc_DEF-123", "login", "/", ""},
		{"f", "push-login", "/alpha/sub", ""},
		{"f2", `odd "name" <&> ünïcode`, "/alpha", ""},
		{"f3", "login", "/", strings.Repeat("sealedFlow-_", 85)}, // engine.MaxSealedLen
	} {
		tok := c.issue(tc.flow, tc.journey, tc.realm, tc.sealed, exp, now)
		if strings.Count(tok, ".") != 2 || !strings.HasPrefix(tok, authIDHeader+".") {
			t.Fatalf("not a compact JWS: %s", tok)
		}
		cl, err := c.parse([]byte(tok), now)
		if err != nil {
			t.Fatalf("parse own token: %v", err)
		}
		if cl.SessionID != tc.flow || cl.AuthIndexValue != tc.journey || cl.Realm != tc.realm || cl.AuthIndexType != "service" ||
			len(cl.OTK) != 28 || *cl.Exp != float64(exp.Unix()) || cl.Iat == nil || *cl.Iat != float64(now.Unix()) || cl.Flow != tc.sealed {
			t.Fatalf("claims: %+v", cl)
		}
		if again := c.issue(tc.flow, tc.journey, tc.realm, tc.sealed, exp, now); again == tok {
			t.Fatal("two authIds for one step are identical: otk is not random")
		}
	}
}

// oldClaims are the claims as golang-jwt wrote them before the hand-written codec.
type oldClaims struct {
	OTK            string `json:"otk"`
	AuthIndexType  string `json:"authIndexType"`
	AuthIndexValue string `json:"authIndexValue"`
	Realm          string `json:"realm"`
	SessionID      string `json:"sessionId"`
	jwt.RegisteredClaims
}

// The codec and a standard JWT library agree both ways, so authIds issued before an
// upgrade keep working and AM tooling can decode Arbor's.
func TestAuthIDCompatibleWithJWTLibrary(t *testing.T) {
	c := newAuthIDCodec(testAuthKey)
	now := time.Now()
	exp := now.Add(time.Minute)
	old, err := jwt.NewWithClaims(jwt.SigningMethodHS256, oldClaims{
		OTK: "ABCDEFGHIJKLMNOPQRSTUVWXYZ23", AuthIndexType: "service", AuthIndexValue: "login", Realm: "/", SessionID: "flow1",
		RegisteredClaims: jwt.RegisteredClaims{ExpiresAt: jwt.NewNumericDate(exp), IssuedAt: jwt.NewNumericDate(now)},
	}).SignedString(testAuthKey)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := c.parse([]byte(old), now)
	if err != nil || cl.SessionID != "flow1" || cl.AuthIndexValue != "login" {
		t.Fatalf("golang-jwt token: %+v, %v", cl, err)
	}
	var got oldClaims
	_, err = jwt.ParseWithClaims(c.issue("flow2", "login", "/alpha", "", exp, now), &got, func(*jwt.Token) (any, error) { return testAuthKey, nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired())
	if err != nil || got.SessionID != "flow2" || got.Realm != "/alpha" || got.ExpiresAt.Unix() != exp.Unix() {
		t.Fatalf("golang-jwt parsing ours: %+v, %v", got, err)
	}
}

func TestAuthIDRefusesForgeries(t *testing.T) {
	c := newAuthIDCodec(testAuthKey)
	now := time.Now()
	exp := now.Add(time.Minute)
	good := c.issue("flow1", "login", "/", "", exp, now)
	if _, err := c.parse([]byte(good), now); err != nil {
		t.Fatal(err)
	}
	payload := `{"otk":"X","authIndexType":"service","authIndexValue":"login","realm":"/","sessionId":"flow1","exp":` +
		jsonInt(exp.Unix()) + `}`
	parts := strings.Split(good, ".")
	body, sig := parts[1], parts[2]
	hs512, _ := jwt.NewWithClaims(jwt.SigningMethodHS512, oldClaims{SessionID: "flow1",
		RegisteredClaims: jwt.RegisteredClaims{ExpiresAt: jwt.NewNumericDate(exp)}}).SignedString(testAuthKey)
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, oldClaims{SessionID: "flow1",
		RegisteredClaims: jwt.RegisteredClaims{ExpiresAt: jwt.NewNumericDate(exp)}}).SignedString(jwt.UnsafeAllowNoneSignatureType)
	other := newAuthIDCodec([]byte("another key, another server....."))

	cases := map[string]string{
		"empty":                  "",
		"header only":            authIDHeader,
		"two segments":           authIDHeader + "." + body,
		"four segments":          good + ".x",
		"empty signature":        authIDHeader + "." + body + ".",
		"empty payload":          authIDHeader + ".." + sig,
		"padded signature":       good + "=",
		"newline in signature":   authIDHeader + "." + body + "." + sig[:10] + "\n" + sig[10:],
		"space":                  good[:50] + " " + good[50:],
		"standard base64 +":      authIDHeader + "." + body + "." + "+" + sig[1:],
		"standard base64 /":      authIDHeader + "." + body + "." + sig[:20] + "/" + sig[21:],
		"too long":               good + strings.Repeat("A", maxAuthIDLen),
		"wrong key":              other.issue("flow1", "login", "/", "", exp, now),
		"alg none":               none,
		"alg none, our payload":  base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + body + ".",
		"HS512":                  hs512,
		"RS256 header, HMAC sig": rawToken(c, `{"alg":"RS256","typ":"JWT"}`, payload),
		"header reordered":       rawToken(c, `{"typ":"JWT","alg":"HS256"}`, payload),
		"header with kid":        rawToken(c, `{"alg":"HS256","kid":"x","typ":"JWT"}`, payload),
		"no exp":                 rawToken(c, `{"alg":"HS256","typ":"JWT"}`, `{"sessionId":"flow1"}`),
		"exp as string":          rawToken(c, `{"alg":"HS256","typ":"JWT"}`, `{"sessionId":"flow1","exp":"`+jsonInt(exp.Unix())+`"}`),
		"no sessionId":           rawToken(c, `{"alg":"HS256","typ":"JWT"}`, `{"exp":`+jsonInt(exp.Unix())+`}`),
		"payload not JSON":       rawToken(c, `{"alg":"HS256","typ":"JWT"}`, `not json`),
	}
	// Every single-character change anywhere in a good token is refused.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i := 0; i < len(good); i++ {
		if good[i] == '.' {
			continue
		}
		for _, r := range []byte{alphabet[(strings.IndexByte(alphabet, good[i])+1)%64], alphabet[(strings.IndexByte(alphabet, good[i])+32)%64]} {
			cases["changed at "+jsonInt(int64(i))+" to "+string(r)] = good[:i] + string(r) + good[i+1:]
		}
	}
	for name, tok := range cases {
		if _, err := c.parse([]byte(tok), now); !errors.Is(err, errAuthIDInvalid) {
			t.Errorf("%s: got %v, want errAuthIDInvalid", name, err)
		}
	}
	// A well-formed payload under our header and key is accepted: the cases above fail
	// for what they change, not for how rawToken builds them.
	if _, err := c.parse([]byte(rawToken(c, `{"alg":"HS256","typ":"JWT"}`, payload)), now); err != nil {
		t.Fatalf("control token: %v", err)
	}
}

func TestAuthIDExpiry(t *testing.T) {
	c := newAuthIDCodec(testAuthKey)
	now := time.Unix(1_800_000_000, 0)
	tok := c.issue("flow1", "login", "/", "", now.Add(10*time.Second), now)
	if _, err := c.parse([]byte(tok), now.Add(9*time.Second+999*time.Millisecond)); err != nil {
		t.Fatalf("before expiry: %v", err)
	}
	for _, at := range []time.Duration{10 * time.Second, time.Hour} {
		if _, err := c.parse([]byte(tok), now.Add(at)); !errors.Is(err, errAuthIDExpired) {
			t.Fatalf("at +%s: got %v, want errAuthIDExpired", at, err)
		}
	}
	// A forged token is invalid, not expired, whatever its exp says.
	forged := newAuthIDCodec([]byte("x")).issue("flow1", "login", "/", "", now.Add(-time.Hour), now)
	if _, err := c.parse([]byte(forged), now); !errors.Is(err, errAuthIDInvalid) {
		t.Fatalf("forged expired token: %v", err)
	}
}

func jsonInt(n int64) string { return strconv.FormatInt(n, 10) }

func BenchmarkAuthID(b *testing.B) {
	c := newAuthIDCodec(testAuthKey)
	now := time.Now()
	exp := now.Add(5 * time.Minute)
	b.ReportAllocs()
	for b.Loop() {
		tok := c.issue("Zm9vYmFyYmF6cXV4cXV1eA", "login", "/", "", exp, now)
		if _, err := c.parse([]byte(tok), now); err != nil {
			b.Fatal(err)
		}
	}
}

// Only the exact tokens issued verify: no other byte string, however close, is accepted
// (no malleable encoding, no second form of a signature).
func FuzzAuthIDOnlyIssuedTokensVerify(f *testing.F) {
	c := newAuthIDCodec(testAuthKey)
	now := time.Unix(1_800_000_000, 0)
	issued := map[string]bool{}
	for _, j := range []string{"login", "push-mfa"} {
		// Built as issue builds them, with a fixed otk: fuzzing workers rebuild the
		// same set.
		tok := rawToken(c, `{"alg":"HS256","typ":"JWT"}`, `{"otk":"ABCDEFGHIJKLMNOPQRSTUVWXYZ23","authIndexType":"service","authIndexValue":"`+j+
			`","realm":"/","sessionId":"flow-`+j+`","exp":`+jsonInt(now.Add(time.Minute).Unix())+`,"iat":`+jsonInt(now.Unix())+`}`)
		if _, err := c.parse([]byte(tok), now); err != nil {
			f.Fatal(err)
		}
		issued[tok] = true
		f.Add([]byte(tok))
	}
	f.Fuzz(func(t *testing.T, tok []byte) {
		cl, err := c.parse(tok, now)
		if err == nil && !issued[string(tok)] {
			t.Fatalf("accepted a token never issued: %q (%+v)", tok, cl)
		}
	})
}
