package radius_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"encoding/binary"
	"net/netip"
	"strings"
	"testing"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2869"

	"github.com/arbor-auth/arbor/audit"
)

var gateway = netip.MustParseAddrPort("127.0.0.1:40000")

// request builds an Access-Request from alice with the password, edited by edit,
// signed with a Message-Authenticator unless edit leaves one in place.
func request(t testing.TB, sec string, edit func(p *radius.Packet)) []byte {
	t.Helper()
	p := radius.New(radius.CodeAccessRequest, []byte(sec))
	rfc2865.UserName_SetString(p, "alice")
	if err := rfc2865.UserPassword_SetString(p, password); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(p)
	}
	return sign(t, p)
}

// sign fills the packet's Message-Authenticator (added if missing unless the packet
// has a type-80 attribute already, which is then left as it is).
func sign(t testing.TB, p *radius.Packet) []byte {
	t.Helper()
	if _, ok := p.Lookup(rfc2869.MessageAuthenticator_Type); !ok {
		p.Add(rfc2869.MessageAuthenticator_Type, make(radius.Attribute, 16))
		raw, err := p.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		m := hmac.New(md5.New, p.Secret)
		m.Write(raw)
		p.Set(rfc2869.MessageAuthenticator_Type, m.Sum(nil))
	}
	raw, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// checkReply checks that reply is a well-formed answer to raw: authentic, with a
// Message-Authenticator first, of an Access code; it returns the parsed reply.
func checkReply(t testing.TB, raw, reply []byte) *radius.Packet {
	t.Helper()
	if !radius.IsAuthenticResponse(reply, raw, []byte(secret)) {
		t.Fatalf("reply has a wrong Response Authenticator")
	}
	q, err := radius.Parse(reply, []byte(secret))
	if err != nil {
		t.Fatalf("reply does not parse: %v", err)
	}
	if len(q.Attributes) == 0 || q.Attributes[0].Type != rfc2869.MessageAuthenticator_Type {
		t.Fatalf("Message-Authenticator is not the first attribute")
	}
	// The reply's Message-Authenticator is over the reply with the Request
	// Authenticator in place and the attribute zeroed.
	z := *q
	copy(z.Authenticator[:], raw[4:20])
	z.Attributes = append(radius.Attributes{{Type: rfc2869.MessageAuthenticator_Type, Attribute: make(radius.Attribute, 16)}}, q.Attributes[1:]...)
	b, _ := z.MarshalBinary()
	m := hmac.New(md5.New, []byte(secret))
	m.Write(b)
	if !hmac.Equal(m.Sum(nil), q.Attributes[0].Attribute) {
		t.Fatalf("reply's Message-Authenticator is wrong")
	}
	switch q.Code {
	case radius.CodeAccessAccept, radius.CodeAccessReject, radius.CodeAccessChallenge:
	default:
		t.Fatalf("reply code %v", q.Code)
	}
	return q
}

// TestRetransmissionSameAnswer: a retransmission (same address, identifier and
// authenticator) gets the first answer byte for byte and runs nothing; a new request
// with the same identifier is a new request.
func TestRetransmissionSameAnswer(t *testing.T) {
	e := newEnv(t, "login", "")
	ctx := context.Background()
	raw := request(t, secret, nil)
	first := e.app.RADIUS.Handle(ctx, raw, gateway)
	q := checkReply(t, raw, first)
	if q.Code != radius.CodeAccessAccept {
		t.Fatalf("code %v", q.Code)
	}
	for range 3 {
		if again := e.app.RADIUS.Handle(ctx, raw, gateway); !bytes.Equal(again, first) {
			t.Fatalf("a retransmission got another answer")
		}
	}
	if n := e.audit.Count(audit.LoginSuccess); n != 1 {
		t.Errorf("%d logins ran, want 1", n)
	}
	if got := e.count("vpn-gw", "duplicate"); got != 3 {
		t.Errorf("duplicate counter %v, want 3", got)
	}
	// The same bytes from another port of the gateway are another request.
	other := netip.MustParseAddrPort("127.0.0.1:40001")
	checkReply(t, raw, e.app.RADIUS.Handle(ctx, raw, other))
	if n := e.audit.Count(audit.LoginSuccess); n != 2 {
		t.Errorf("%d logins ran, want 2", n)
	}
}

// TestBadInput sends packets that must get no answer, or Access-Reject, without
// running a login or crashing the listener; the listener answers normally afterwards.
func TestBadInput(t *testing.T) {
	e := newEnv(t, "login", "")
	ctx := context.Background()
	good := request(t, secret, nil)
	setLen := func(b []byte, n int) []byte {
		c := append([]byte(nil), b...)
		binary.BigEndian.PutUint16(c[2:4], uint16(n))
		return c
	}
	tests := []struct {
		name   string
		raw    []byte
		from   netip.AddrPort
		reject string // "" for no answer
		logins int    // logins the request may run (an unknown user's failure)
	}{
		{name: "empty", raw: nil},
		{name: "short", raw: good[:19]},
		{name: "length beyond the data", raw: setLen(good, len(good)+10)},
		{name: "length below the header", raw: setLen(good, 12)},
		{name: "oversized datagram", raw: append(append([]byte(nil), good...), make([]byte, 4100)...)},
		{name: "truncated attribute", raw: func() []byte { b := append(setLen(good, len(good)+2), 1, 9); return b }()},
		{name: "Access-Accept from a client", raw: func() []byte { b := append([]byte(nil), good...); b[0] = 2; return b }()},
		{name: "Accounting-Request", raw: func() []byte { b := append([]byte(nil), good...); b[0] = 4; return b }()},
		{name: "unknown client", raw: good, from: netip.MustParseAddrPort("192.0.2.1:1812")},
		{name: "wrong secret", raw: request(t, "not-the-secret", nil)},
		{name: "Message-Authenticator of a bad length", raw: request(t, secret, func(p *radius.Packet) {
			p.Add(rfc2869.MessageAuthenticator_Type, radius.Attribute("short"))
		})},
		{name: "two Message-Authenticators", raw: func() []byte {
			p := radius.New(radius.CodeAccessRequest, []byte(secret))
			rfc2865.UserName_SetString(p, "alice")
			p.Add(rfc2869.MessageAuthenticator_Type, make(radius.Attribute, 16))
			p.Add(rfc2869.MessageAuthenticator_Type, make(radius.Attribute, 16))
			b, _ := p.Encode()
			return b
		}()},
		{name: "no User-Name", raw: request(t, secret, func(p *radius.Packet) { p.Del(rfc2865.UserName_Type) }), reject: "Login failure"},
		{name: "two User-Names", raw: request(t, secret, func(p *radius.Packet) { rfc2865.UserName_AddString(p, "bob") }), reject: "Login failure"},
		{name: "control characters in User-Name", raw: request(t, secret, func(p *radius.Packet) { rfc2865.UserName_SetString(p, "al\x00ice") }), reject: "Login failure"},
		{name: "User-Name not UTF-8", raw: request(t, secret, func(p *radius.Packet) { rfc2865.UserName_Set(p, []byte{0xff, 0xfe}) }), reject: "Login failure"},
		{name: "253-byte User-Name", raw: request(t, secret, func(p *radius.Packet) { rfc2865.UserName_SetString(p, strings.Repeat("a", 253)) }), reject: "Login failure", logins: 1},
		{name: "no User-Password", raw: request(t, secret, func(p *radius.Packet) { p.Del(rfc2865.UserPassword_Type) }), reject: "Login failure"},
		{name: "User-Password of a bad length", raw: request(t, secret, func(p *radius.Packet) { p.Set(rfc2865.UserPassword_Type, radius.Attribute("abc")) }), reject: "Login failure"},
		{name: "CHAP", raw: request(t, secret, func(p *radius.Packet) { rfc2865.CHAPPassword_Set(p, make([]byte, 17)) }), reject: "Login failure"},
		{name: "garbage State", raw: request(t, secret, func(p *radius.Packet) { rfc2865.State_Set(p, []byte("{\"f\":\"x\"}0123456789abcdef")) }), reject: "The login has expired or is not valid: start again."},
		{name: "two States", raw: request(t, secret, func(p *radius.Packet) { rfc2865.State_Add(p, []byte("a")); rfc2865.State_Add(p, []byte("b")) }), reject: "Login failure"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			from := tc.from
			if !from.IsValid() {
				from = gateway
			}
			before := e.audit.Count(audit.LoginSuccess) + e.audit.Count(audit.LoginFailure)
			reply := e.app.RADIUS.Handle(ctx, tc.raw, from)
			switch {
			case tc.reject == "" && reply != nil:
				t.Fatalf("answered %v, want no answer", reply[0])
			case tc.reject != "":
				if reply == nil {
					t.Fatal("no answer, want Access-Reject")
				}
				q := checkReply(t, tc.raw, reply)
				if q.Code != radius.CodeAccessReject || rfc2865.ReplyMessage_GetString(q) != tc.reject {
					t.Fatalf("%v %q, want Access-Reject %q", q.Code, rfc2865.ReplyMessage_GetString(q), tc.reject)
				}
			}
			if n := e.audit.Count(audit.LoginSuccess) + e.audit.Count(audit.LoginFailure) - before; n != tc.logins {
				t.Errorf("%d logins ran, want %d", n, tc.logins)
			}
		})
	}
	// Unknown attributes are ignored; the listener still answers.
	raw := request(t, secret, func(p *radius.Packet) { p.Add(200, radius.Attribute("whatever")) })
	if q := checkReply(t, raw, e.app.RADIUS.Handle(ctx, raw, gateway)); q.Code != radius.CodeAccessAccept {
		t.Errorf("with an unknown attribute: %v", q.Code)
	}
	if got := e.count("vpn-gw", "error"); got != 0 {
		t.Errorf("%v requests crashed or failed", got)
	}
}

// FuzzHandle feeds the packet handler arbitrary datagrams from a configured client: it
// never panics (a recovered panic counts as an error), and what it answers is a
// well-formed, authentic reply. Run it with go test ./radius -fuzz FuzzHandle.
func FuzzHandle(f *testing.F) {
	e := newEnv(f, "radius", "")
	f.Add(request(f, secret, nil))
	f.Add(request(f, secret, func(p *radius.Packet) { p.Del(rfc2865.UserPassword_Type) }))
	f.Add(request(f, secret, func(p *radius.Packet) {
		rfc2865.State_Set(p, []byte(`{"f":"x","e":9999999999,"s":[{"t":"P","i":["",""]}]}0123456789abcdef`))
	}))
	f.Add(request(f, secret, func(p *radius.Packet) {
		p.Add(26, radius.Attribute{0, 0, 0x30, 0x44, 1, 8, 'L', 'O', 'C', 'A', 'L', 'S'})
	}))
	f.Add([]byte{1, 0, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, raw []byte) {
		reply := e.app.RADIUS.Handle(ctx, raw, gateway)
		if reply != nil {
			checkReply(t, raw, reply)
		}
		if got := e.count("vpn-gw", "error") + e.count("", "error"); got != 0 {
			t.Fatalf("the handler failed on %x", raw)
		}
	})
}
