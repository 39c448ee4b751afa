package apptest

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Transcript is a golden transcript: what a test says happened, line by line, with the
// values that change from run to run (ids, tokens, codes) replaced by stable
// placeholders, compared with a file under testdata. Its Buffer holds the lines so far.
// The zero value is ready to use.
type Transcript struct {
	bytes.Buffer
	seen map[string]string // kind, NUL, value -> placeholder
}

// Say adds a line, formatted as fmt.Sprintf does.
func (tr *Transcript) Say(format string, args ...any) {
	fmt.Fprintf(&tr.Buffer, format+"\n", args...)
}

// Mask returns the placeholder of v, a volatile value of kind: <kind1> for the first
// value of that kind, <kind2> for the second, and the same placeholder whenever v comes
// again.
func (tr *Transcript) Mask(kind, v string) string {
	if p, ok := tr.seen[kind+"\x00"+v]; ok {
		return p
	}
	if tr.seen == nil {
		tr.seen = map[string]string{}
	}
	n := 0
	for k := range tr.seen {
		if strings.HasPrefix(k, kind+"\x00") {
			n++
		}
	}
	p := fmt.Sprintf("<%s%d>", kind, n+1)
	tr.seen[kind+"\x00"+v] = p
	return p
}

// Replace returns s with every value already masked as one of kinds replaced by its
// placeholder: for values that turn up inside other text (a code in a query string).
func (tr *Transcript) Replace(s string, kinds ...string) string {
	for k, p := range tr.seen {
		kind, v, _ := strings.Cut(k, "\x00")
		if slices.Contains(kinds, kind) {
			s = strings.ReplaceAll(s, v, p)
		}
	}
	return s
}

// Golden compares the transcript with the file at path, or, with update (the test's
// -update flag), writes it there.
func (tr *Transcript) Golden(t testing.TB, path string, update bool) {
	t.Helper()
	if update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, tr.Buffer.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run the test with -update to write it)", err)
	}
	if !bytes.Equal(want, tr.Buffer.Bytes()) {
		t.Errorf("transcript differs from %s (run the test with -update, then read the diff):\n--- got\n%s\n--- want\n%s", path, tr.Buffer.Bytes(), want)
	}
}
