package keys

import (
	"bytes"
	"path/filepath"
	"testing"
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
		"other context": {sealed, "bob"},
		"tampered":      {sealed[:len(sealed)-2] + "AA", "alice"},
		"garbage":       {"!!", "alice"},
		"short":         {"AAAA", "alice"},
	} {
		if _, err := s.Open(tc.sealed, []byte(tc.ctx)); err != ErrOpen {
			t.Errorf("%s: err = %v, want ErrOpen", name, err)
		}
	}
	if _, err := Generate().Sealer(PurposeDevice).Open(sealed, []byte("alice")); err != ErrOpen {
		t.Errorf("other key: err = %v", err)
	}
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
