package keys

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"testing"
)

func TestSignerSumAndVerify(t *testing.T) {
	r := Generate()
	s := r.Signer(PurposeCSRF)
	tag := s.Sum("label", "alice")
	if len(tag) != sha256.Size {
		t.Fatalf("tag is %d bytes", len(tag))
	}
	// The message is each part behind its length: 5 "label", 5 "alice".
	m := hmac.New(sha256.New, r.Key(PurposeCSRF))
	m.Write([]byte("\x05label\x05alice"))
	if !bytes.Equal(tag, m.Sum(nil)) {
		t.Fatal("Sum is not HMAC-SHA256 of the length-prefixed parts under the purpose key")
	}
	for _, tc := range []struct {
		name  string
		tag   []byte
		parts []string
		want  bool
	}{
		{"whole tag", tag, []string{"label", "alice"}, true},
		{"truncated to 16", tag[:16], []string{"label", "alice"}, true},
		{"truncated to 15", tag[:15], []string{"label", "alice"}, false},
		{"empty tag", nil, []string{"label", "alice"}, false},
		{"too long", append(bytes.Clone(tag), 0), []string{"label", "alice"}, false},
		{"other value", tag, []string{"label", "bob"}, false},
		{"other label", tag, []string{"other", "alice"}, false},
		// Without the lengths these two lists would be one message.
		{"parts split elsewhere", tag, []string{"labela", "lice"}, false},
		{"parts joined", tag, []string{"labelalice"}, false},
	} {
		if got := s.Verify(tc.tag, tc.parts...); got != tc.want {
			t.Errorf("%s: Verify = %v, want %v", tc.name, got, tc.want)
		}
	}
	if r.Signer(PurposeCookie).Verify(tag, "label", "alice") {
		t.Error("a tag verified under another purpose")
	}
	if Generate().Signer(PurposeCSRF).Verify(tag, "label", "alice") {
		t.Error("a tag verified under another master secret")
	}
}

func TestRingVerify(t *testing.T) {
	r := Generate()
	tag := r.MAC(PurposePoll, []byte("msg"))
	if !r.Verify(PurposePoll, []byte("msg"), tag) {
		t.Error("the MAC did not verify")
	}
	if r.Verify(PurposePoll, []byte("msh"), tag) || r.Verify(PurposeFlow, []byte("msg"), tag) || r.Verify(PurposePoll, []byte("msg"), tag[:31]) {
		t.Error("a wrong message, purpose or length verified")
	}
}
