package testtamper

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"testing"
)

// TestBase64ChangesTheBytes: whatever the text, what Base64 returns decodes to other
// bytes than the original.
func TestBase64ChangesTheBytes(t *testing.T) {
	for n := 1; n < 64; n++ {
		for range 20 {
			raw := make([]byte, n)
			rand.Read(raw)
			if n%7 == 0 {
				raw = bytes.Repeat([]byte{0}, n) // all 'A's
			}
			s := base64.RawURLEncoding.EncodeToString(raw)
			got, err := base64.RawURLEncoding.DecodeString(Base64(s))
			if err == nil && bytes.Equal(got, raw) {
				t.Fatalf("Base64(%q) decodes to the same %d bytes", s, n)
			}
		}
	}
}
