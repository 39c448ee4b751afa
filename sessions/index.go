package sessions

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/arbor-auth/arbor/store"
)

// MaxPerUser bounds a user's live sessions. A login past it ends the user's oldest
// session (AM's "destroy oldest" quota), so the per-user index stays small.
const MaxPerUser = 32

// indexEntry is one session in a user's index: its handle, the store key of its record
// (the token's hash, never the token), and when the entry expires (the session's lease).
type indexEntry struct {
	Handle string
	Key    string
	Until  int64 // unix milliseconds
}

// A user's index is a store bounded list (store.OpPush adds to it without a read) that
// owns its sessions' records: each entry expires at its session's lease, and its member
// is the handle, a space and the record's key (store.KeyMember), neither of which holds
// a space or a newline (hex, and "session:{hex}"), so a push that drops the oldest
// entry past MaxPerUser deletes that session's record with it (store.PushOwningOp).

// member is e as a bounded list member.
func (e indexEntry) member() []byte {
	return store.KeyMember(e.Handle, e.Key)
}

// parseMember reads a member that member wrote.
func parseMember(m []byte) (indexEntry, bool) {
	k, ok := store.MemberKey(m)
	if !ok {
		return indexEntry{}, false
	}
	h := string(m[:len(m)-len(k)-1])
	return indexEntry{Handle: h, Key: k}, h != "" && !strings.Contains(h, " ")
}

func encodeIndex(list []indexEntry) []byte {
	entries := make([]store.ListEntry, len(list))
	for i, e := range list {
		entries[i] = store.ListEntry{Expires: e.Until, Member: e.member()}
	}
	return store.EncodeList(entries)
}

func decodeIndex(data []byte) ([]indexEntry, error) {
	entries, err := store.DecodeList(data)
	if err != nil {
		return nil, err
	}
	list := make([]indexEntry, 0, len(entries))
	for _, le := range entries {
		e, ok := parseMember(le.Member)
		if !ok {
			return nil, fmt.Errorf("session index entry %q is not a handle and a key", le.Member)
		}
		e.Until = le.Expires
		list = append(list, e)
	}
	return list, nil
}

// indexKey is the key of a user's session index. User names are compared without case,
// as identity looks them up.
func indexKey(realm, user string) string {
	return "usersessions:{" + realm + "\x00" + strings.ToLower(user) + "}"
}

// updateIndex applies change to the user's index through store.Update, pruning expired
// entries first, and returns what change removed. A change that keeps the entries as
// they were writes nothing.
func (m *Manager) updateIndex(ctx context.Context, realm, user string, change func([]indexEntry) (keep, removed []indexEntry)) ([]indexEntry, error) {
	var removed []indexEntry
	fn := func(cur []byte, exists bool) ([]byte, time.Duration, error) {
		var list []indexEntry
		if exists {
			var err error
			if list, err = decodeIndex(cur); err != nil {
				list = nil // a corrupt index is rebuilt from here on; sessions themselves are intact
			}
		}
		now := m.cfg.Now().UnixMilli()
		live := make([]indexEntry, 0, len(list)+1)
		for _, e := range list {
			if e.Until > now {
				live = append(live, e)
			}
		}
		var keep []indexEntry
		keep, removed = change(live)
		if len(live) == len(list) && slices.Equal(keep, live) && (exists || len(keep) == 0) {
			return nil, 0, store.ErrNoChange
		}
		var end int64
		for _, e := range keep {
			end = max(end, e.Until)
		}
		ttl := time.Duration(end-now) * time.Millisecond
		if len(keep) == 0 {
			// Nothing left: the record lives a moment, long enough to win the CAS.
			ttl = time.Second
		}
		return encodeIndex(keep), ttl, nil
	}
	if _, err := store.Update(ctx, m.st, indexKey(realm, user), fn); err != nil {
		return nil, fmt.Errorf("session index: %w", err)
	}
	return removed, nil
}

// dropLeft ends the sessions whose entries push (an OpPush of Prepare's, as Do left it)
// dropped past MaxPerUser, unless the store deleted them with the push.
func (m *Manager) dropLeft(ctx context.Context, push *store.Op) error {
	left := leftBehind(push)
	if len(left) == 0 {
		return nil
	}
	return m.drop(ctx, left)
}

// leftBehind returns the entries push dropped past MaxPerUser whose sessions the store
// did not delete with it (store.Op.KeysDeleted false: on a Redis Cluster).
func leftBehind(push *store.Op) []indexEntry {
	if push.KeysDeleted || len(push.Dropped) == 0 {
		return nil
	}
	left := make([]indexEntry, 0, len(push.Dropped))
	for _, mb := range push.Dropped {
		if e, ok := parseMember(mb); ok {
			left = append(left, e)
		}
	}
	return left
}

// drop deletes the sessions of entries, all in one batch.
func (m *Manager) drop(ctx context.Context, entries []indexEntry) error {
	ops := make([]store.Op, 0, len(entries))
	seen := make(map[string]bool, len(entries))
	for _, e := range entries {
		if !seen[e.Key] { // a batch touches each key once
			seen[e.Key] = true
			ops = append(ops, store.DeleteOp(e.Key))
		}
	}
	if err := store.Do(ctx, m.st, ops); err != nil {
		return fmt.Errorf("end sessions: %w", err)
	}
	return nil
}

// List returns the user's live sessions, oldest first.
func (m *Manager) List(ctx context.Context, realm, user string) ([]Session, error) {
	it, err := m.st.Get(ctx, indexKey(realm, user))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	list, err := decodeIndex(it.Value)
	if err != nil {
		return nil, fmt.Errorf("list sessions: corrupt index: %w", err)
	}
	now := m.cfg.Now()
	var out []Session
	for _, e := range list {
		it, err := m.st.Get(ctx, e.Key)
		if errors.Is(err, store.ErrNotFound) {
			continue // logged out or expired
		}
		if err != nil {
			return nil, fmt.Errorf("list sessions: %w", err)
		}
		var s Session
		if err := decode(it.Value, &s); err != nil || !now.Before(s.IdleEnd) || !now.Before(s.MaxEnd) {
			continue
		}
		out = append(out, s)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out, nil
}

// EndAll ends every session of the user except the one whose handle is keep (empty
// keeps none) and returns how many it ended: after a password or factor change every
// other session ends, and on a lock all of them.
func (m *Manager) EndAll(ctx context.Context, realm, user, keep string) (int, error) {
	removed, err := m.updateIndex(ctx, realm, user, func(list []indexEntry) ([]indexEntry, []indexEntry) {
		var kept, gone []indexEntry
		for _, e := range list {
			if keep != "" && e.Handle == keep {
				kept = append(kept, e)
			} else {
				gone = append(gone, e)
			}
		}
		return kept, gone
	})
	if err != nil {
		return 0, err
	}
	return len(removed), m.drop(ctx, removed)
}

// End ends the user's session whose handle is handle and reports whether it had one:
// a user signs out a session of theirs elsewhere, or an admin ends one, by its handle,
// never by its token.
func (m *Manager) End(ctx context.Context, realm, user, handle string) (bool, error) {
	if handle == "" {
		return false, nil
	}
	removed, err := m.updateIndex(ctx, realm, user, withoutHandle(handle))
	if err != nil {
		return false, err
	}
	return len(removed) > 0, m.drop(ctx, removed)
}

// extendLease extends the index entry of s, whose record is at k, to s's lease as of its
// IdleEnd (never shortening it) and returns when the entry now expires. An entry the
// index no longer holds is left out, and the session keeps the end it had (listed).
func (m *Manager) extendLease(ctx context.Context, s *Session, k string) (int64, error) {
	want := m.lease(s)
	var until int64
	_, err := m.updateIndex(ctx, s.Realm, s.Username, func(list []indexEntry) ([]indexEntry, []indexEntry) {
		until = listed(s).UnixMilli() // set on every call: updateIndex calls again after a conflict
		for i, e := range list {
			if e.Key == k && e.Handle == s.Handle {
				until = max(e.Until, want)
				if until == e.Until {
					return list, nil
				}
				keep := slices.Clone(list)
				keep[i].Until = until
				return keep, nil
			}
		}
		return list, nil
	})
	if err != nil {
		return 0, fmt.Errorf("extend index entry: %w", err)
	}
	return until, nil
}

// withoutHandle is an index change (updateIndex) that removes the entry whose handle is
// handle, if the index has one.
func withoutHandle(handle string) func([]indexEntry) (keep, removed []indexEntry) {
	return func(list []indexEntry) ([]indexEntry, []indexEntry) {
		for i, e := range list {
			if e.Handle == handle {
				return append(list[:i:i], list[i+1:]...), list[i : i+1]
			}
		}
		return list, nil
	}
}
