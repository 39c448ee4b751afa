// Package testtamper alters tokens in tests the way an attacker would, in ways that
// always change what they carry: a test that a tampered value is refused must not pass
// by luck, nor fail by luck when the tampering happens to change nothing.
package testtamper

// Base64 changes one character in the middle of unpadded base64 text (a sealed value,
// a JWT segment), never the last, which always changes the bytes it decodes to.
// Replacing the last characters instead may leave them as they were, or change only
// unused trailing bits (one CI run in about a thousand left a sealed value intact).
func Base64(s string) string {
	b := []byte(s)
	if len(b) == 0 {
		return "A"
	}
	if i := (len(b) - 1) / 2; b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}
