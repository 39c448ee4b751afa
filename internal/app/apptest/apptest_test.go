package apptest_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/arbor-auth/arbor/internal/app/apptest"
)

func TestClock(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	c := apptest.NewClock(t0)
	if !c.Now().Equal(t0) {
		t.Fatalf("Now = %v, want %v", c.Now(), t0)
	}
	c.Advance(time.Minute)
	if got := c.Now(); !got.Equal(t0.Add(time.Minute)) {
		t.Fatalf("after Advance: %v", got)
	}
	c.Run()
	time.Sleep(2 * time.Millisecond) // the clock must move with real time, by any amount
	if got := c.Now(); !got.After(t0.Add(time.Minute)) {
		t.Fatalf("a running clock stood still at %v", got)
	}
}

func TestTranscript(t *testing.T) {
	var tr apptest.Transcript
	for _, tc := range []struct{ kind, v, want string }{
		{"code", "111", "<code1>"},
		{"code", "222", "<code2>"},
		{"code", "111", "<code1>"},
		{"codes", "111", "<codes1>"}, // a kind that starts like another counts apart
		{"tx", "111", "<tx1>"},
	} {
		if got := tr.Mask(tc.kind, tc.v); got != tc.want {
			t.Errorf("Mask(%s, %s) = %s, want %s", tc.kind, tc.v, got, tc.want)
		}
	}
	if got := tr.Replace("a=222&b=111", "code"); got != "a=<code2>&b=<code1>" {
		t.Errorf("Replace = %q", got)
	}
	tr.Say("line %d", 1)
	path := filepath.Join(t.TempDir(), "golden", "x.txt")
	tr.Golden(t, path, true)
	if b, err := os.ReadFile(path); err != nil || string(b) != "line 1\n" {
		t.Fatalf("written golden = %q, %v", b, err)
	}
	tr.Golden(t, path, false)

	tr.Say("line 2")
	fake := &recorder{TB: t}
	tr.Golden(fake, path, false)
	if !strings.Contains(fake.msg, "line 2") {
		t.Errorf("a differing transcript was not reported: %q", fake.msg)
	}
}

// recorder is a test that records its failure.
type recorder struct {
	testing.TB
	msg string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.msg = format
	for _, a := range args {
		if b, ok := a.([]byte); ok {
			r.msg += string(b)
		}
	}
}
