package sessions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/arbor-auth/arbor/store"
)

// MaxPerUser bounds a user's live sessions. A login past it ends the user's oldest
// session (AM's "destroy oldest" quota), so the per-user index stays small.
const MaxPerUser = 32

// indexEntry is one session in a user's index: its handle, the store key of its record
// (the token's hash, never the token), and when it ends at the latest.
type indexEntry struct {
	Handle string `json:"h"`
	Key    string `json:"k"`
	MaxEnd int64  `json:"e"` // unix milliseconds
}

// indexKey is the key of a user's session index. User names are compared without case,
// as identity looks them up.
func indexKey(realm, user string) string {
	return "usersessions:{" + realm + "\x00" + strings.ToLower(user) + "}"
}

// updateIndex applies change to the user's index through store.Update, pruning entries
// past their maximum lifetime first, and returns what change removed. A change that
// removes nothing and adds nothing writes nothing.
func (m *Manager) updateIndex(ctx context.Context, realm, user string, change func([]indexEntry) (keep, removed []indexEntry)) ([]indexEntry, error) {
	var removed []indexEntry
	_, err := store.Update(ctx, m.st, indexKey(realm, user), func(cur []byte, exists bool) ([]byte, time.Duration, error) {
		var list []indexEntry
		if exists {
			if err := json.Unmarshal(cur, &list); err != nil {
				list = nil // a corrupt index is rebuilt from here on; sessions themselves are intact
			}
		}
		now := m.cfg.Now().UnixMilli()
		live := make([]indexEntry, 0, len(list)+1)
		for _, e := range list {
			if e.MaxEnd > now {
				live = append(live, e)
			}
		}
		var keep []indexEntry
		keep, removed = change(live)
		unchanged := len(live) == len(list) && len(removed) == 0 && len(keep) == len(live)
		if unchanged && (exists || len(keep) == 0) {
			return nil, 0, store.ErrNoChange
		}
		var end int64
		for _, e := range keep {
			end = max(end, e.MaxEnd)
		}
		ttl := time.Duration(end-now) * time.Millisecond
		if len(keep) == 0 {
			// Nothing left: the record lives a moment, long enough to win the CAS.
			ttl = time.Second
		}
		b, err := json.Marshal(keep)
		return b, ttl, err
	})
	if err != nil {
		return nil, fmt.Errorf("session index: %w", err)
	}
	return removed, nil
}

// index adds s to its user's index and ends the oldest sessions past MaxPerUser.
func (m *Manager) index(ctx context.Context, token string, s *Session) error {
	removed, err := m.updateIndex(ctx, s.Realm, s.Username, func(list []indexEntry) ([]indexEntry, []indexEntry) {
		list = append(list, indexEntry{Handle: s.Handle, Key: key(token), MaxEnd: s.MaxEnd.UnixMilli()})
		if len(list) <= MaxPerUser {
			return list, nil
		}
		// Entries are appended in login order, so the oldest are first.
		n := len(list) - MaxPerUser
		return list[n:], list[:n]
	})
	if err != nil {
		return err
	}
	return m.drop(ctx, removed)
}

func (m *Manager) drop(ctx context.Context, entries []indexEntry) error {
	var errs []error
	for _, e := range entries {
		if err := m.st.Delete(ctx, e.Key); err != nil && !errors.Is(err, store.ErrNotFound) {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("end sessions: %w", errors.Join(errs...))
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
	var list []indexEntry
	if err := json.Unmarshal(it.Value, &list); err != nil {
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
	removed, err := m.updateIndex(ctx, realm, user, func(list []indexEntry) ([]indexEntry, []indexEntry) {
		for i, e := range list {
			if e.Handle == handle {
				return append(list[:i:i], list[i+1:]...), list[i : i+1]
			}
		}
		return list, nil
	})
	if err != nil {
		return false, err
	}
	return len(removed) > 0, m.drop(ctx, removed)
}
