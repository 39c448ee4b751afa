// Package sessions issues and checks login sessions. A session token is 32 random bytes
// handed to the client once (as AM's iPlanetDirectoryPro cookie and tokenId); the store
// keeps only its SHA-256, so a read of the store yields no usable token.
//
// A session ends at the first of: logout, its idle timeout passing without a refresh,
// or its maximum lifetime. Every login creates a new token.
package sessions

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/arbor-auth/arbor/store"
)

// ErrInvalid reports a token that is unknown, malformed, logged out or expired.
var ErrInvalid = errors.New("session is not valid")

// Config sets session lifetimes.
type Config struct {
	// IdleTimeout ends a session not refreshed for this long (default 30 minutes).
	IdleTimeout time.Duration
	// MaxLifetime ends a session this long after login whatever happens (default 8 hours).
	MaxLifetime time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Session is a logged-in user.
type Session struct {
	// Handle identifies the session in logs and admin views; it is not the token.
	Handle   string            `json:"handle"`
	Username string            `json:"username"`
	Realm    string            `json:"realm"`
	Journey  string            `json:"journey"`
	Created  time.Time         `json:"created"`
	Access   time.Time         `json:"access"`
	IdleEnd  time.Time         `json:"idle_end"`
	MaxEnd   time.Time         `json:"max_end"`
	Props    map[string]string `json:"props,omitempty"`
	// Factors are the factors the login verified (nodes.Factor values), in order.
	Factors []string `json:"factors,omitempty"`
	// Level is the authentication level the factors reached (package door's Level).
	Level int `json:"level,omitempty"`
	// Restricted marks a session granted below the account's level: it cannot manage
	// factors or reach admin pages.
	Restricted bool `json:"restricted,omitempty"`
	// Remember asks for a cookie that outlives the browser session.
	Remember bool `json:"remember,omitempty"`
	// IdleFor and LifeFor are this session's own idle timeout and lifetime, when its
	// door asked for other ones than the Manager's (zero: the Manager's).
	IdleFor time.Duration `json:"idle_for,omitempty"`
	LifeFor time.Duration `json:"life_for,omitempty"`
	// Listed is when the session's entry in its user's index expires, in unix
	// milliseconds (see lease): the session never outlives it. Zero on a session from
	// before entries had leases, whose entry lasts to MaxEnd.
	Listed int64 `json:"listed,omitempty"`
}

// Grant is what a new session records about how it was earned.
type Grant struct {
	Username, Realm, Journey string
	Factors                  []string
	Level                    int
	Restricted, Remember     bool
	Props                    map[string]string
	// IdleTimeout and MaxLifetime replace the Manager's for this session when not
	// zero, never beyond the Manager's MaxLifetime (a door's fixed-lifetime key:
	// both the same).
	IdleTimeout, MaxLifetime time.Duration
}

// Manager creates and checks sessions in a store.
type Manager struct {
	cfg Config
	st  store.Store
	// undoing holds a slot for each session whose Undo waits for the store to come back
	// (retryUndo).
	undoing chan struct{}
}

// maxUndoRetries bounds the sessions whose deletion is retried at once after an outage;
// beyond it an undone session is left to expire with its ttl (no one holds its token).
const maxUndoRetries = 1024

// undoRetryMax is the longest wait between two tries of an undone session's deletion.
const undoRetryMax = time.Second

// New returns a Manager.
func New(st store.Store, cfg Config) *Manager {
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 30 * time.Minute
	}
	if cfg.MaxLifetime <= 0 {
		cfg.MaxLifetime = 8 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Manager{cfg: cfg, st: st, undoing: make(chan struct{}, maxUndoRetries)}
}

func key(token string) string {
	// The token's bytes are copied onto the stack: []byte(token) allocates beyond 32
	// bytes, and a token is 43 (one allocation per session read, write or logout).
	var tb [maxTokenLen]byte
	data := tb[:0]
	if len(token) <= maxTokenLen {
		data = append(data, token...)
	} else {
		data = []byte(token)
	}
	sum := sha256.Sum256(data)
	var b [len("session:{}") + 32]byte
	k := append(b[:0], "session:{"...)
	k = hex.AppendEncode(k, sum[:16])
	return string(append(k, '}'))
}

// maxTokenLen bounds what is hashed and looked up; real tokens are 43 characters.
const maxTokenLen = 128

// Create starts a session for username and returns its token.
func (m *Manager) Create(ctx context.Context, username, realm, journey string, props map[string]string) (string, *Session, error) {
	return m.Grant(ctx, Grant{Username: username, Realm: realm, Journey: journey, Props: props})
}

// Grant starts a session as g describes and returns its token: one store round trip
// (the session and its index entry in one batch, see Prepare), which also ends the
// user's oldest session once they have MaxPerUser; on a Redis Cluster, one more ends it.
func (m *Manager) Grant(ctx context.Context, g Grant) (string, *Session, error) {
	p, err := m.Prepare(g)
	if err != nil {
		return "", nil, err
	}
	ops := p.Ops()
	if err := store.Do(ctx, m.st, ops); err != nil {
		p.Undo(ctx)
		return "", nil, fmt.Errorf("create session: %w", err)
	}
	if err := p.Finish(ctx, ops); err != nil {
		p.Undo(ctx)
		return "", nil, err
	}
	return p.Token, p.Session, nil
}

// Pending is a session Prepare made but did not write: its token, its record, and the
// store ops that write it, which the caller sends in a batch of its own (the engine's
// final write of the login's flow), then hands to Finish.
type Pending struct {
	// Token is the new session's token, for the client only.
	Token string
	// Session is the new session.
	Session *Session

	m   *Manager
	ops [2]store.Op
}

// Prepare builds a session as g describes, and the two store ops that start it: the
// session's record, created with a compare-and-swap at revision 0, and its entry in the
// user's index, added with store.OpPush, which prunes the index's expired entries and
// drops the oldest past MaxPerUser in the same call, deleting the dropped sessions'
// records with it where the store can (store.PushOwningOp). Neither needs a read first,
// so a session costs its caller no round trip of its own.
func (m *Manager) Prepare(g Grant) (*Pending, error) {
	token := newToken()
	h := make([]byte, 8)
	rand.Read(h)
	now := m.cfg.Now().UTC()
	s := &Session{
		Handle: hex.EncodeToString(h), Username: g.Username, Realm: g.Realm, Journey: g.Journey,
		Created: now, Access: now, Props: g.Props,
		Factors: g.Factors, Level: g.Level, Restricted: g.Restricted, Remember: g.Remember,
		IdleFor: min(max(g.IdleTimeout, 0), m.cfg.MaxLifetime), LifeFor: min(max(g.MaxLifetime, 0), m.cfg.MaxLifetime),
	}
	s.IdleEnd, s.MaxEnd = now.Add(m.idle(s)), now.Add(m.life(s))
	s.Listed = m.lease(s)
	b, err := encode(s)
	if err != nil {
		return nil, fmt.Errorf("create session: encode: %w", err)
	}
	ttl := m.ttl(s)
	if ttl <= 0 {
		return nil, fmt.Errorf("create session: %w", ErrInvalid)
	}
	k := key(token)
	entry := indexEntry{Handle: s.Handle, Key: k, Until: s.Listed}
	return &Pending{Token: token, Session: s, m: m, ops: [2]store.Op{
		store.CASOp(k, b, 0, ttl),
		store.PushOwningOp(indexKey(s.Realm, s.Username), entry.member(), time.UnixMilli(s.Listed), MaxPerUser, now),
	}}, nil
}

// Ops returns the store ops that start the session, to run in one batch (store.Do),
// each on a key of its own. They are p's own: Undo reads the results Do records in
// them.
func (p *Pending) Ops() []store.Op {
	return p.ops[:]
}

// Finish checks the results of Ops once they ran (ops as Do left them) and ends the
// sessions the index dropped past MaxPerUser that the store did not delete with the
// push (store.Op.KeysDeleted: on a Redis Cluster), in one batch. An error means the
// session must not be handed out: the caller undoes it.
func (p *Pending) Finish(ctx context.Context, ops []store.Op) error {
	if len(ops) != 2 || ops[0].Kind != store.OpCAS || ops[1].Kind != store.OpPush {
		return errors.New("create session: finish called without the session's ops")
	}
	if err := ops[0].Err; err != nil { // a token drawn twice: 256 random bits make it never happen
		return fmt.Errorf("create session: %w", err)
	}
	if err := p.m.dropLeft(ctx, &ops[1]); err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	return nil
}

// Undo ends the session again, when the batch that started it failed or the login it
// was for lost a race: a session no one holds the token of must not stay live. Its
// index entry stays until it expires; List skips it. The index's push took effect all
// the same, so the sessions it dropped are ended too if the store left them (a Redis
// Cluster): dropped from the index, they could no longer be listed or ended, and a
// password change's EndAll would miss them.
//
// When the store cannot be reached, the record may still be there: a Redis master can
// apply the write, replicate it and die before its answer leaves, and its promoted
// replica then holds a session no login got (TestFailoverMidJourney saw one in 60). The
// deletion is then retried in the background until it succeeds (retryUndo), and so is
// that of each session the push dropped and left.
func (p *Pending) Undo(ctx context.Context) {
	ctx = context.WithoutCancel(ctx)
	if err := p.m.st.Delete(ctx, key(p.Token)); err != nil {
		p.m.retryUndo(key(p.Token), expiry(p.Session))
	}
	if err := p.m.dropLeft(ctx, &p.ops[1]); err != nil {
		// A dropped session's own expiry is not known here; none outlives MaxLifetime.
		end := p.m.cfg.Now().Add(p.m.cfg.MaxLifetime)
		for _, e := range leftBehind(&p.ops[1]) {
			p.m.retryUndo(e.Key, end)
		}
	}
}

// retryUndo deletes the session record at k in the background, trying again after 50 ms,
// then twice as long each time up to undoRetryMax, until the deletion succeeds or the
// record would have expired anyway (end). At most maxUndoRetries run at once: past
// that, during a long outage, a record is left to its ttl.
func (m *Manager) retryUndo(k string, end time.Time) {
	select {
	case m.undoing <- struct{}{}:
	default:
		return
	}
	go func() {
		defer func() { <-m.undoing }()
		wait := 50 * time.Millisecond
		for m.cfg.Now().Before(end) {
			time.Sleep(wait)
			if m.st.Delete(context.Background(), k) == nil {
				return
			}
			wait = min(2*wait, undoRetryMax)
		}
	}()
}

// idle is s's idle timeout.
func (m *Manager) idle(s *Session) time.Duration {
	if s.IdleFor > 0 {
		return s.IdleFor
	}
	return m.cfg.IdleTimeout
}

// life is s's lifetime from its login, or from its last renewal.
func (m *Manager) life(s *Session) time.Duration {
	if s.LifeFor > 0 {
		return s.LifeFor
	}
	return m.cfg.MaxLifetime
}

// lease is when s's index entry is to expire, given its IdleEnd: one idle timeout after
// it, never past MaxEnd. An entry outlives its session's record, so the user's index
// always knows of every live session (EndAll reaches them all); and a session that
// idles out leaves the index within one more idle timeout, not at its MaxEnd, so
// abandoned sessions do not fill MaxPerUser and push out a live one (a script logging in
// every 10 minutes and never out filled it in about 5 hours). Refresh extends the lease
// only once IdleEnd would pass it: one index write per idle timeout of activity.
func (m *Manager) lease(s *Session) int64 {
	return min(s.IdleEnd.Add(m.idle(s)).UnixMilli(), s.MaxEnd.UnixMilli())
}

// listed is when s's index entry expires (Session.Listed; MaxEnd for a session from
// before leases).
func listed(s *Session) time.Time {
	if s.Listed == 0 {
		return s.MaxEnd
	}
	return time.UnixMilli(s.Listed)
}

func newToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (m *Manager) ttl(s *Session) time.Duration {
	return expiry(s).Sub(m.cfg.Now())
}

// expiry is when s's record expires in the store: its idle or its lifetime's end,
// whichever comes first.
func expiry(s *Session) time.Time {
	if s.MaxEnd.Before(s.IdleEnd) {
		return s.MaxEnd
	}
	return s.IdleEnd
}

func (m *Manager) save(ctx context.Context, token string, s *Session, rev uint64) error {
	b, err := encode(s)
	if err != nil {
		return fmt.Errorf("encode session: %w", err)
	}
	ttl := m.ttl(s)
	if ttl <= 0 {
		return ErrInvalid
	}
	_, err = m.st.CAS(ctx, key(token), b, rev, ttl)
	return err
}

func (m *Manager) load(ctx context.Context, token string) (*Session, uint64, error) {
	token = strings.TrimSpace(token)
	if token == "" || len(token) > maxTokenLen {
		return nil, 0, ErrInvalid
	}
	it, err := m.st.Get(ctx, key(token))
	if errors.Is(err, store.ErrNotFound) {
		return nil, 0, ErrInvalid
	}
	if err != nil {
		return nil, 0, fmt.Errorf("load session: %w", err)
	}
	var s Session
	if err := decode(it.Value, &s); err != nil {
		return nil, 0, fmt.Errorf("load session: corrupt: %w", err)
	}
	now := m.cfg.Now()
	if !now.Before(s.IdleEnd) || !now.Before(s.MaxEnd) {
		return nil, 0, ErrInvalid
	}
	return &s, it.Rev, nil
}

// Validate returns the session for token without extending it.
func (m *Manager) Validate(ctx context.Context, token string) (*Session, error) {
	s, _, err := m.load(ctx, token)
	return s, err
}

// Refresh extends the session's idle timeout (never past its maximum lifetime) and
// returns it. When the new idle end would pass the session's index entry, the entry's
// lease is extended first (lease); a session whose entry is gone from the index (ended
// with the user's others, or the index was rebuilt) is extended no further than its
// lease, so no session outlives its place in the index.
func (m *Manager) Refresh(ctx context.Context, token string) (*Session, error) {
	for attempt := 0; attempt < 5; attempt++ {
		s, rev, err := m.load(ctx, token)
		if err != nil {
			return nil, err
		}
		now := m.cfg.Now().UTC()
		s.Access = now
		s.IdleEnd = now.Add(m.idle(s))
		if expiry(s).After(listed(s)) {
			if s.Listed, err = m.extendLease(ctx, s, key(token)); err != nil {
				return nil, fmt.Errorf("refresh session: %w", err)
			}
			if end := listed(s); s.IdleEnd.After(end) {
				s.IdleEnd = end
			}
		}
		if err := m.save(ctx, token, s, rev); errors.Is(err, store.ErrConflict) {
			continue
		} else if err != nil {
			return nil, fmt.Errorf("refresh session: %w", err)
		}
		return s, nil
	}
	return nil, fmt.Errorf("refresh session: %w", store.ErrConflict)
}

// Renew replaces the session's token with a new one and returns it (the FortiGate-style
// door's renewal): the old token stops working at once, and the session, under the same
// handle, gets a fresh idle timeout and lifetime, never past the Manager's MaxLifetime
// from its login. Of two concurrent renewals of one token, one wins; the other gets
// ErrInvalid.
func (m *Manager) Renew(ctx context.Context, token string) (string, *Session, error) {
	s, _, err := m.load(ctx, token)
	if err != nil {
		return "", nil, err
	}
	// Take is the one winner: whoever takes the old record renews it.
	b, err := m.st.Take(ctx, key(token))
	if errors.Is(err, store.ErrNotFound) {
		return "", nil, ErrInvalid
	}
	if err != nil {
		return "", nil, fmt.Errorf("renew session: %w", err)
	}
	if err := decode(b, s); err != nil {
		return "", nil, fmt.Errorf("renew session: corrupt: %w", err)
	}
	now := m.cfg.Now().UTC()
	limit := s.Created.Add(m.cfg.MaxLifetime)
	s.Access = now
	s.MaxEnd = now.Add(m.life(s))
	if s.MaxEnd.After(limit) {
		s.MaxEnd = limit
	}
	s.IdleEnd = now.Add(m.idle(s))
	s.Listed = m.lease(s)
	fresh := newToken()
	if err := m.save(ctx, fresh, s, 0); err != nil {
		return "", nil, fmt.Errorf("renew session: %w", err)
	}
	oldKey, newKey := key(token), key(fresh)
	_, err = m.updateIndex(ctx, s.Realm, s.Username, func(list []indexEntry) ([]indexEntry, []indexEntry) {
		keep := make([]indexEntry, 0, len(list)+1)
		var gone []indexEntry
		for _, e := range list {
			if e.Key == oldKey {
				gone = append(gone, e)
			} else {
				keep = append(keep, e)
			}
		}
		return append(keep, indexEntry{Handle: s.Handle, Key: newKey, Until: s.Listed}), gone
	})
	if err != nil {
		// A session no index knows of could not be ended with the user's others.
		_ = m.st.Delete(context.WithoutCancel(ctx), newKey)
		return "", nil, fmt.Errorf("renew session: %w", err)
	}
	return fresh, s, nil
}

// Logout ends the session and takes it out of its user's index, so that it no longer
// counts toward MaxPerUser: a user who signed in and out 32 times elsewhere would
// otherwise have their oldest live session ended by the next login. It returns the
// ended session, or ErrInvalid if there was none.
func (m *Manager) Logout(ctx context.Context, token string) (*Session, error) {
	token = strings.TrimSpace(token)
	if token == "" || len(token) > maxTokenLen {
		return nil, ErrInvalid
	}
	b, err := m.st.Take(ctx, key(token))
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrInvalid
	}
	if err != nil {
		return nil, fmt.Errorf("logout: %w", err)
	}
	var s Session
	_ = decode(b, &s)
	if s.Username != "" && s.Handle != "" {
		// The session is ended already, so the logout stands whatever happens here: an
		// entry left behind by a failed update is skipped by List and expires with the
		// session's MaxEnd, as every entry of an idle-expired session does.
		_, _ = m.updateIndex(context.WithoutCancel(ctx), s.Realm, s.Username, withoutHandle(s.Handle))
	}
	return &s, nil
}
