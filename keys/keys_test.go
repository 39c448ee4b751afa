package keys

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arbor-auth/arbor/internal/testtamper"
)

func TestDerivedKeysDifferByPurpose(t *testing.T) {
	r := Generate()
	if bytes.Equal(r.Key(PurposeAuthID), r.Key(PurposeSession)) {
		t.Fatal("two purposes derived the same key")
	}
	if !bytes.Equal(r.Key(PurposeAuthID), r.Key(PurposeAuthID)) {
		t.Fatal("derivation is not deterministic")
	}
}

func TestSealOpen(t *testing.T) {
	s := Generate().Sealer(PurposeDevice)
	sealed := s.Seal([]byte("secret"), []byte("alice"))
	if bytes.Contains([]byte(sealed), []byte("secret")) {
		t.Fatal("sealed text contains the plaintext")
	}
	got, err := s.Open(sealed, []byte("alice"))
	if err != nil || string(got) != "secret" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	for name, tc := range map[string]struct{ sealed, ctx string }{
		"other context":  {sealed, "bob"},
		"tampered":       {testtamper.Base64(sealed), "alice"},
		"other spelling": {respell(t, sealed), "alice"},
		"garbage":        {"!!", "alice"},
		"short":          {"AAAA", "alice"},
	} {
		if _, err := s.Open(tc.sealed, []byte(tc.ctx)); err != ErrOpen {
			t.Errorf("%s: err = %v, want ErrOpen", name, err)
		}
	}
	if _, err := Generate().Sealer(PurposeDevice).Open(sealed, []byte("alice")); err != ErrOpen {
		t.Errorf("other key: err = %v", err)
	}
}

// respell sets an unused trailing bit of unpadded base64 text: a lenient decoder reads the
// same bytes from it, a strict one refuses it.
func respell(t *testing.T, s string) string {
	t.Helper()
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	if len(s)%4 == 0 {
		t.Fatalf("sealed text of %d characters has no trailing bits to set", len(s))
	}
	last := strings.IndexByte(alphabet, s[len(s)-1])
	return s[:len(s)-1] + string(alphabet[last|1])
}

func TestLoadOrCreatePersists(t *testing.T) {
	p := filepath.Join(t.TempDir(), "sub", "secret.key")
	a, err := LoadOrCreate(p)
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadOrCreate(p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Key("x"), b.Key("x")) {
		t.Fatal("reloaded ring derives other keys")
	}
}

func TestParseRejectsShortOrBad(t *testing.T) {
	for _, s := range []string{"", "c2hvcnQ=", "not base64 !!"} {
		if _, err := Parse(s); err == nil {
			t.Errorf("Parse(%q) accepted", s)
		}
	}
}
