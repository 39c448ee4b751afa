package store

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// A bounded list is a value holding entries, each an opaque member with its own expiry,
// oldest first: a user's session index is one. OpPush adds to it in one store call with
// no read by the caller, expired entries pruned and the oldest dropped past a bound, so
// that a login's session and its index cost no read-modify-write round trip. The list is
// an ordinary value otherwise: Get returns it (DecodeList reads it), CAS replaces it
// (EncodeList writes it), with the usual revisions.
//
// The encoding is one line per entry, "<expiry in unix milliseconds> <member>\n", which
// the Redis store's script parses without a JSON library; members therefore hold no
// newline.

// ListEntry is one entry of a bounded list.
type ListEntry struct {
	// Expires is when the entry stops counting, in unix milliseconds; Push prunes it then.
	Expires int64
	// Member is the caller's bytes, without a newline.
	Member []byte
}

// errNotList reports a value that is not a bounded list.
var errNotList = errors.New("store: value is not a bounded list")

// DecodeList reads a bounded list's entries, oldest first. It fails on a value that is
// not a list; Push and OpPush replace such a value rather than fail.
func DecodeList(b []byte) ([]ListEntry, error) {
	var out []ListEntry
	for len(b) > 0 {
		exp, member, rest, err := cutEntry(b)
		if err != nil {
			return nil, fmt.Errorf("%w: entry %d %w", errNotList, len(out)+1, err)
		}
		out = append(out, ListEntry{Expires: exp, Member: member})
		b = rest
	}
	return out, nil
}

// EncodeList writes entries as a bounded list. Members must not hold a newline
// (CheckMember).
func EncodeList(entries []ListEntry) []byte {
	n := 0
	for _, e := range entries {
		n += 22 + len(e.Member)
	}
	b := make([]byte, 0, n)
	for _, e := range entries {
		b = appendEntry(b, e.Expires, e.Member)
	}
	return b
}

// CheckMember refuses a member a bounded list cannot hold: empty, or with a newline.
func CheckMember(member []byte) error {
	if len(member) == 0 || bytes.IndexByte(member, '\n') >= 0 {
		return errors.New("store: a list member must be non-empty and hold no newline")
	}
	return nil
}

// Push is what OpPush does to a list's current value cur (nil: none): it drops the
// entries expired at now, appends e, drops the oldest entries beyond bound, and returns
// the new value, the members dropped for the bound (not the expired ones), and the TTL
// the value needs: until its last entry expires. A cur that is not a list is replaced,
// as a corrupt index is rebuilt. Backends without a script language run it under their
// lock; the Redis store runs the same steps in a script, and the conformance suite
// holds both to it.
func Push(cur []byte, e ListEntry, bound int, now time.Time) (next []byte, dropped [][]byte, ttl time.Duration) {
	return AppendPush(nil, cur, e, bound, now)
}

// AppendPush is Push appending the new value to dst and returning the extended slice,
// the new value being what follows dst's old length, so that a caller with a buffer of
// its own (the embedded store's, reused under its lock) allocates nothing but the
// dropped members. It reads cur twice in
// place, once to check it and count its live entries and once to copy the kept ones,
// instead of decoding it into entries and encoding them again: a login pushes onto a
// 32-entry index, and DecodeList plus EncodeList were 3 % of the embedded store's
// login CPU and 5 % of its allocated bytes (BenchmarkPush in list_test.go). The
// value is byte for byte what EncodeList of the kept entries writes. Neither it nor
// any dropped member aliases cur.
func AppendPush(dst, cur []byte, e ListEntry, bound int, now time.Time) (out []byte, dropped [][]byte, ttl time.Duration) {
	nowMs := now.UnixMilli()
	live, ok := countLive(cur, nowMs)
	if !ok {
		cur, live = nil, 0 // not a list: replaced
	}
	drop := live + 1 - bound // the oldest live entries beyond the bound
	start := len(dst)
	end := e.Expires
	for b := cur; len(b) > 0; {
		exp, member, rest, _ := cutEntry(b) // countLive accepted cur
		b = rest
		if exp <= nowMs {
			continue
		}
		if drop > 0 {
			drop--
			dropped = append(dropped, bytes.Clone(member))
			continue
		}
		end = max(end, exp)
		dst = appendEntry(dst, exp, member)
	}
	if drop > 0 {
		// A bound below one drops the new entry too, as EncodeList of live[n:] did.
		return dst[:start], append(dropped, bytes.Clone(e.Member)), time.Millisecond
	}
	dst = appendEntry(dst, e.Expires, e.Member)
	return dst, dropped, max(time.Duration(end-nowMs)*time.Millisecond, time.Millisecond)
}

// countLive checks that b is a bounded list, as DecodeList does, and counts its
// entries not expired at nowMs, without allocating.
func countLive(b []byte, nowMs int64) (live int, ok bool) {
	for len(b) > 0 {
		exp, _, rest, err := cutEntry(b)
		if err != nil {
			return 0, false
		}
		if exp > nowMs {
			live++
		}
		b = rest
	}
	return live, true
}

// Why an entry of a value is not one of a bounded list.
var (
	errNoNewline = errors.New("has no newline")
	errNoExpiry  = errors.New("has no expiry")
)

// cutEntry splits the first entry off b, a bounded list's encoding: its expiry, its
// member (within b) and what follows it. The expiry's string conversion does not
// allocate (it does not escape, and fits the compiler's stack buffer).
func cutEntry(b []byte) (exp int64, member, rest []byte, err error) {
	line, rest, ok := bytes.Cut(b, []byte{'\n'})
	if !ok {
		return 0, nil, nil, errNoNewline
	}
	e, member, ok := bytes.Cut(line, []byte{' '})
	exp, perr := strconv.ParseInt(string(e), 10, 64)
	if !ok || perr != nil || exp < 0 {
		return 0, nil, nil, errNoExpiry
	}
	return exp, member, rest, nil
}

// appendEntry appends one entry in the list encoding to b.
func appendEntry(b []byte, exp int64, member []byte) []byte {
	b = strconv.AppendInt(b, exp, 10)
	b = append(b, ' ')
	b = append(b, member...)
	return append(b, '\n')
}

// KeyMember is a list member carrying data and the key it owns: data, a space, key.
// A push with OwnsKeys (PushOwningOp) deletes that key when the bound drops the member.
// data may hold spaces, key may not, and neither may hold a newline (CheckMember).
func KeyMember(data, key string) []byte {
	b := make([]byte, 0, len(data)+1+len(key))
	b = append(b, data...)
	b = append(b, ' ')
	return append(b, key...)
}

// MemberKey returns the key a member names (KeyMember): what follows its last space. A
// member with no space, or ending in one, names none.
func MemberKey(member []byte) (string, bool) {
	i := bytes.LastIndexByte(member, ' ')
	if i < 0 || i == len(member)-1 {
		return "", false
	}
	return string(member[i+1:]), true
}

// PushOp appends member, expiring at expires, to the bounded list at key, keeping at
// most bound entries (see Push). now is the caller's clock, against which entries
// expire, so that every backend prunes alike.
func PushOp(key string, member []byte, expires time.Time, bound int, now time.Time) Op {
	return Op{Kind: OpPush, Key: key, Value: member, Expires: expires, Bound: bound, Now: now}
}

// PushOwningOp is PushOp on a list that owns the keys its members name (KeyMember): the
// keys of the members the bound drops are deleted with the push, where the backend can
// (Op.OwnsKeys, Op.KeysDeleted).
func PushOwningOp(key string, member []byte, expires time.Time, bound int, now time.Time) Op {
	op := PushOp(key, member, expires, bound, now)
	op.OwnsKeys = true
	return op
}
