package store

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// pushByEntries is Push as it was written before AppendPush: decode the whole list,
// filter, append, trim, encode. AppendPush must answer exactly as it does.
func pushByEntries(cur []byte, e ListEntry, bound int, now time.Time) ([]byte, [][]byte, time.Duration) {
	old, err := DecodeList(cur)
	if err != nil {
		old = nil
	}
	nowMs := now.UnixMilli()
	var live []ListEntry
	for _, o := range old {
		if o.Expires > nowMs {
			live = append(live, o)
		}
	}
	live = append(live, e)
	var dropped [][]byte
	if n := len(live) - bound; n > 0 {
		for _, o := range live[:n] {
			dropped = append(dropped, bytes.Clone(o.Member))
		}
		live = live[n:]
	}
	var end int64
	for _, o := range live {
		end = max(end, o.Expires)
	}
	return EncodeList(live), dropped, max(time.Duration(end-nowMs)*time.Millisecond, time.Millisecond)
}

func TestAppendPush(t *testing.T) {
	now := time.UnixMilli(1_000_000)
	tests := []struct {
		name        string
		cur         string
		e           ListEntry
		bound       int
		want        string
		wantDropped []string
		wantTTL     time.Duration
	}{
		{"empty", "", ListEntry{1_005_000, []byte("a")}, 3, "1005000 a\n", nil, 5 * time.Second},
		{"appends", "1002000 a\n", ListEntry{1_001_000, []byte("b")}, 3, "1002000 a\n1001000 b\n", nil, 2 * time.Second},
		{"prunes expired", "999000 a\n1000000 b\n1003000 c\n", ListEntry{1_001_000, []byte("d")}, 3, "1003000 c\n1001000 d\n", nil, 3 * time.Second},
		{"drops oldest", "1002000 a\n1003000 b\n1004000 c\n", ListEntry{1_001_000, []byte("d")}, 2, "1004000 c\n1001000 d\n", []string{"a", "b"}, 4 * time.Second},
		{"expired do not count towards the bound", "999000 x\n1002000 a\n", ListEntry{1_001_000, []byte("d")}, 2, "1002000 a\n1001000 d\n", nil, 2 * time.Second},
		{"members with spaces", "1002000 a b c\n", ListEntry{1_001_000, []byte("d e")}, 1, "1001000 d e\n", []string{"a b c"}, time.Second},
		{"not a list: no newline", "1002000 a", ListEntry{1_001_000, []byte("d")}, 3, "1001000 d\n", nil, time.Second},
		{"not a list: no expiry", "a\n", ListEntry{1_001_000, []byte("d")}, 3, "1001000 d\n", nil, time.Second},
		{"not a list: negative expiry", "-5 a\n", ListEntry{1_001_000, []byte("d")}, 3, "1001000 d\n", nil, time.Second},
		{"not a list: JSON", `["a"]`, ListEntry{1_001_000, []byte("d")}, 3, "1001000 d\n", nil, time.Second},
		{"non-canonical expiry re-encoded", "+001002000 a\n", ListEntry{1_001_000, []byte("d")}, 3, "1002000 a\n1001000 d\n", nil, 2 * time.Second},
		{"new entry already expired", "", ListEntry{999_000, []byte("d")}, 3, "999000 d\n", nil, time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix := []byte("kept:")
			cur := []byte(tt.cur)
			out, dropped, ttl := AppendPush(bytes.Clone(prefix), cur, tt.e, tt.bound, now)
			if !bytes.HasPrefix(out, prefix) {
				t.Fatalf("AppendPush lost dst: %q", out)
			}
			next := out[len(prefix):]
			if string(next) != tt.want || ttl != tt.wantTTL {
				t.Errorf("AppendPush = %q, ttl %v; want %q, ttl %v", next, ttl, tt.want, tt.wantTTL)
			}
			var got []string
			for _, d := range dropped {
				got = append(got, string(d))
			}
			if !reflect.DeepEqual(got, tt.wantDropped) {
				t.Errorf("dropped %q, want %q", got, tt.wantDropped)
			}
			// Nothing returned aliases cur: a caller may overwrite cur at once (the
			// embedded store's arena) and keep what Push returned.
			for i := range cur {
				cur[i] = 'X'
			}
			if string(next) != tt.want {
				t.Errorf("next changed with cur: %q", next)
			}
			for i, d := range dropped {
				if string(d) != tt.wantDropped[i] {
					t.Errorf("dropped %d changed with cur: %q", i, d)
				}
			}
		})
	}
}

// TestAppendPushMatchesEntries holds AppendPush to the decode-and-encode Push on
// random lists: expired and live entries in any order, bounds above and below the
// length, and damaged lists.
func TestAppendPushMatchesEntries(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	now := time.UnixMilli(1_000_000)
	for i := range 5000 {
		var entries []ListEntry
		for j := range r.IntN(40) {
			entries = append(entries, ListEntry{Expires: 1_000_000 + r.Int64N(4000) - 2000, Member: fmt.Appendf(nil, "m%d data key:%d", j, r.IntN(100))})
		}
		cur := EncodeList(entries)
		if i%50 == 0 && len(cur) > 0 {
			cur = cur[:r.IntN(len(cur))] // damaged: cut anywhere
		}
		e := ListEntry{Expires: 1_000_000 + r.Int64N(4000) - 1000, Member: []byte("new")}
		bound := 1 + r.IntN(40)
		wantNext, wantDropped, wantTTL := pushByEntries(cur, e, bound, now)
		next, dropped, ttl := Push(cur, e, bound, now)
		if !bytes.Equal(next, wantNext) || ttl != wantTTL || !reflect.DeepEqual(dropped, wantDropped) {
			t.Fatalf("list %q, push %q bound %d:\n got %q %q %v\nwant %q %q %v", cur, e.Member, bound, next, dropped, ttl, wantNext, wantDropped, wantTTL)
		}
	}
}

// BenchmarkPush pushes onto a full 32-entry session index, as every login of a user
// with 32 sessions does.
//
//	go test ./store -run '^$' -bench Push -benchmem
func BenchmarkPush(b *testing.B) {
	now := time.Now()
	var entries []ListEntry
	for i := range 32 {
		entries = append(entries, ListEntry{Expires: now.Add(time.Hour).UnixMilli(), Member: fmt.Appendf(nil, `{"c":1796029667497,"x":"login"} session:{%022d}`, i)})
	}
	cur := EncodeList(entries)
	e := ListEntry{Expires: now.Add(2 * time.Hour).UnixMilli(), Member: entries[0].Member}
	b.Run("decode-encode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			pushByEntries(cur, e, 32, now)
		}
	})
	b.Run("append", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			buf, _, _ = AppendPush(buf[:0], cur, e, 32, now)
		}
	})
}
