// Package redisstore implements store.Store on Redis, for several Arbor instances
// sharing state. It works with a single Redis server, Redis Sentinel and Redis
// Cluster, and needs Redis 6.2 or later (for GETDEL).
//
// # Data layout
//
// A value key is stored as one Redis string under prefix+"v:"+key holding the
// revision in decimal, a colon and the value bytes ("3:{...}"), so that Get is one
// GET and a value costs only a few bytes more than its own size. Set and CAS are one
// Lua script each (EVALSHA, falling back to EVAL after a script cache flush) that
// reads only the revision prefix and writes value and expiry atomically. Take is one
// GETDEL. A bounded list (store.OpPush) is a value like any other, its entries one line
// each; a push is one script that reads, prunes, appends and writes it, and deletes the
// keys of the members it dropped where the list owns them (store.Op.OwnsKeys), except on
// a Cluster, where those keys live in other slots. Counters live under prefix+"n:"+key
// as plain Redis integers, so they never collide with values; Incr is one Lua script
// that sets the expiry only when it creates the counter.
//
// The prefix goes before the whole key, so a Redis Cluster hash tag in the key
// ("flow:{abc}") keeps working: all keys with the same tag, values and counters, land
// in the same slot. The prefix itself must not contain braces.
//
// # Failures
//
// Every error from Redis or the network, timeouts included, wraps
// store.ErrUnavailable. Timeouts are short by default (dial 2s, read and write 1s) and
// commands are not retried, so during an outage calls fail within about two seconds
// instead of piling up. As with any networked store, a CAS or Set whose reply is lost
// (the connection drops after Redis applied the write) reports ErrUnavailable even
// though it took effect; callers that must know read the key again.
//
// # URLs
//
// Open takes a URL of this form:
//
//	redis[s]://[[user]:password@]host[:port][,host[:port]...][/db][?param=value&...]
//
// The scheme rediss uses TLS. One host means a single server. Several hosts mean a
// Redis Cluster (the hosts are seed nodes), unless master_name is set, in which case
// they are Sentinels and the client follows the named master. The port defaults to
// 6379, or 26379 for Sentinels. User and password authenticate to the data nodes.
// Parameters:
//
//	db                 database number, like the path (not with Cluster)
//	master_name        Sentinel master name: the hosts are Sentinels
//	sentinel_username  user for the Sentinels
//	sentinel_password  password for the Sentinels
//	cluster            true: Cluster mode even with one host (a configuration endpoint)
//	dial_timeout       connect timeout, a Go duration or seconds (default 2s)
//	read_timeout       reply timeout (default 1s)
//	write_timeout      send timeout (default 1s)
//	pool_size          connections per node (go-redis default: 10 per CPU)
//	min_idle_conns     idle connections kept open per node
//	max_retries        retries of a failed command (default 0: none)
//	client_name        name shown by CLIENT LIST
//	protocol           RESP version, 2 or 3
//	skip_verify        rediss only: true skips TLS certificate verification
//
// Examples:
//
//	redis://localhost:6379/0
//	rediss://:s3cret@redis.example.com:6380/2?read_timeout=500ms
//	redis://h1:6379,h2:6379,h3:6379                        (Cluster)
//	redis://:s3cret@s1,s2,s3/0?master_name=mymaster         (Sentinel)
//
// Options passed to Open override what the URL says.
package redisstore

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/arbor-auth/arbor/store"
)

// Defaults applied by Open when neither the URL nor an Option sets them.
const (
	// DefaultPrefix is the key prefix used by Open.
	DefaultPrefix = "arbor:"
	// DefaultDialTimeout bounds connecting to a Redis node.
	DefaultDialTimeout = 2 * time.Second
	// DefaultReadTimeout bounds waiting for a reply.
	DefaultReadTimeout = time.Second
	// DefaultWriteTimeout bounds sending a command.
	DefaultWriteTimeout = time.Second
)

// Key spaces under the prefix.
const (
	valueSpace   = "v:"
	counterSpace = "n:"
)

// maxRevDigits is the most digits a revision can have (uint64), so the revision
// prefix of a stored value always fits in the first maxRevDigits+1 bytes.
const maxRevDigits = 20

// setScript writes a value with the next revision. KEYS[1] is the value key,
// ARGV[1] the value, ARGV[2] the ttl in milliseconds (0: none). It returns the new
// revision. GETRANGE reads the revision without copying the value.
var setScript = redis.NewScript(`
local head = redis.call('GETRANGE', KEYS[1], 0, 20)
local rev = 1
if head ~= '' then
  local i = string.find(head, ':', 1, true)
  if not i then return redis.error_reply('ERR arbor: malformed value') end
  rev = tonumber(string.sub(head, 1, i - 1)) + 1
end
local v = string.format('%d:', rev) .. ARGV[1]
if ARGV[2] ~= '0' then
  redis.call('SET', KEYS[1], v, 'PX', ARGV[2])
else
  redis.call('SET', KEYS[1], v)
end
return rev
`)

// casScript writes a value if the key is at the expected revision. KEYS[1] is the
// value key, ARGV[1] the encoded new value ("<rev+1>:<value>"), ARGV[2] the expected
// revision in decimal ("0": the key must not exist), ARGV[3] the ttl in milliseconds
// (0: none). It returns 1 if it wrote and 0 on a conflict. Revisions are compared as
// strings, which is exact for any uint64.
var casScript = redis.NewScript(`
local head = redis.call('GETRANGE', KEYS[1], 0, 20)
local cur = '0'
if head ~= '' then
  local i = string.find(head, ':', 1, true)
  if not i then return redis.error_reply('ERR arbor: malformed value') end
  cur = string.sub(head, 1, i - 1)
end
if cur ~= ARGV[2] then return 0 end
if ARGV[3] ~= '0' then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
else
  redis.call('SET', KEYS[1], ARGV[1])
end
return 1
`)

// incrScript adds to a counter and sets its expiry if it created it. KEYS[1] is the
// counter key, ARGV[1] the delta (not 0), ARGV[2] the ttl in milliseconds (0: none).
// It returns the new value as a string: Lua numbers are doubles, which would round
// counters beyond 2^53.
var incrScript = redis.NewScript(`
local existed = redis.call('EXISTS', KEYS[1])
redis.call('INCRBY', KEYS[1], ARGV[1])
if existed == 0 and ARGV[2] ~= '0' then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return redis.call('GET', KEYS[1])
`)

// pushScript is store.Push on a bounded list value (store.OpPush). KEYS[1] is the
// value key, ARGV[1] the member, ARGV[2] its expiry and ARGV[4] the caller's clock, in
// unix milliseconds, ARGV[3] the bound. It keeps the entries that expire after the
// clock, appends the member, drops the oldest past the bound, writes the list at the
// next revision with an expiry at its last entry's, and returns the new revision
// followed by the members dropped for the bound. A value that is not a list is
// replaced, as store.Push does. Expiries and revisions go through Lua numbers
// (doubles): exact up to 2^53, far beyond either.
//
// ARGV[5], when not empty, is the value-key prefix of a list that owns its members'
// keys (store.Op.OwnsKeys): the script deletes the value key of each dropped member's
// key (store.MemberKey: what follows its last space), atomically with the push. Those
// keys are not in KEYS, which Redis allows outside Cluster mode: a single server or a
// Sentinel-managed master holds every key, so the script reaches them, and nothing
// routes by KEYS there. A Cluster node would refuse a key of another slot, so Do passes
// an empty ARGV[5] there and the caller deletes the keys (store.Op.KeysDeleted false).
var pushScript = redis.NewScript(`
local raw = redis.call('GET', KEYS[1])
local rev, body = 0, ''
if raw then
  local i = string.find(raw, ':', 1, true)
  if not i then return redis.error_reply('ERR arbor: malformed value') end
  rev = tonumber(string.sub(raw, 1, i - 1))
  body = string.sub(raw, i + 1)
end
local now = tonumber(ARGV[4])
local exps, members, n = {}, {}, 0
local pos = 1
while pos <= #body do
  local nl = string.find(body, '\n', pos, true)
  local sp = string.find(body, ' ', pos, true)
  local e = sp and nl and sp < nl and tonumber(string.sub(body, pos, sp - 1))
  if not e then exps, members, n = {}, {}, 0; break end
  if e > now then
    n = n + 1
    exps[n], members[n] = e, string.sub(body, sp + 1, nl - 1)
  end
  pos = nl + 1
end
n = n + 1
exps[n], members[n] = tonumber(ARGV[2]), ARGV[1]
local first = math.max(1, n - tonumber(ARGV[3]) + 1)
local out = {rev + 1}
for i = 1, first - 1 do out[#out + 1] = members[i] end
local parts, last = {string.format('%d:', rev + 1)}, 0
for i = first, n do
  parts[#parts + 1] = string.format('%d ', exps[i]) .. members[i] .. '\n'
  if exps[i] > last then last = exps[i] end
end
redis.call('SET', KEYS[1], table.concat(parts), 'PX', math.max(last - now, 1))
if ARGV[5] ~= '' then
  for i = 2, #out do
    local k = string.match(out[i], ' ([^ ]+)$')
    if k then redis.call('DEL', ARGV[5] .. k) end
  end
end
return out
`)

// errClosed is returned by every method after Close.
var errClosed = fmt.Errorf("store closed: %w", store.ErrUnavailable)

// Store is the Redis store.Store. Create it with Open or New. All methods are safe
// for concurrent use.
type Store struct {
	c      redis.UniversalClient
	prefix string
	owned  bool // Close closes c
	closed atomic.Bool
}

var _ store.Store = (*Store)(nil)

// Option adjusts Open.
type Option func(*settings)

type settings struct {
	prefix  string
	tweaks  []func(*redis.UniversalOptions)
	rejects []error
}

// WithPrefix sets the prefix put before every Redis key, DefaultPrefix by default. Use
// a different prefix per environment sharing one Redis. It must not contain braces,
// which would break Redis Cluster hash tags.
func WithPrefix(prefix string) Option {
	return func(s *settings) {
		if strings.ContainsAny(prefix, "{}") {
			s.rejects = append(s.rejects, fmt.Errorf("prefix %q contains a brace, which would break Redis Cluster hash tags", prefix))
		}
		s.prefix = prefix
	}
}

// WithDialTimeout sets how long connecting to a node may take (default 2s).
func WithDialTimeout(d time.Duration) Option {
	return WithUniversalOptions(func(o *redis.UniversalOptions) { o.DialTimeout = d })
}

// WithReadTimeout sets how long waiting for a reply may take (default 1s).
func WithReadTimeout(d time.Duration) Option {
	return WithUniversalOptions(func(o *redis.UniversalOptions) { o.ReadTimeout = d })
}

// WithWriteTimeout sets how long sending a command may take (default 1s).
func WithWriteTimeout(d time.Duration) Option {
	return WithUniversalOptions(func(o *redis.UniversalOptions) { o.WriteTimeout = d })
}

// WithTLSConfig sets the TLS configuration, for example to trust a private CA. It
// turns TLS on even for a redis:// URL. An empty ServerName is taken from each node's
// address.
func WithTLSConfig(c *tls.Config) Option {
	return WithUniversalOptions(func(o *redis.UniversalOptions) { o.TLSConfig = c })
}

// WithUniversalOptions lets the caller adjust the go-redis client options after the
// URL and the other Options have been applied, for settings this package does not
// expose (credentials providers, pool tuning, hooks through a custom Dialer).
func WithUniversalOptions(f func(*redis.UniversalOptions)) Option {
	return func(s *settings) { s.tweaks = append(s.tweaks, f) }
}

// Open parses rawURL (see the package documentation for its form), creates a go-redis
// client and returns a Store that owns it. Open does not contact Redis; call Ping to
// check the connection.
func Open(rawURL string, opts ...Option) (*Store, error) {
	uo, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	st := settings{prefix: DefaultPrefix}
	for _, o := range opts {
		o(&st)
	}
	if err := errors.Join(st.rejects...); err != nil {
		return nil, fmt.Errorf("redisstore: %w", err)
	}
	for _, f := range st.tweaks {
		f(uo)
	}
	s := New(redis.NewUniversalClient(uo), st.prefix)
	s.owned = true
	return s, nil
}

// New returns a Store using an existing client, with keys under prefix (which must not
// contain braces). Close does not close the client: its owner does. Configure the
// client with short timeouts and ContextTimeoutEnabled, as Open does, so that an
// outage fails fast.
func New(c redis.UniversalClient, prefix string) *Store {
	return &Store{c: c, prefix: prefix}
}

// Client returns the underlying go-redis client, for health checks and metrics.
func (s *Store) Client() redis.UniversalClient { return s.c }

// ParseURL turns a URL of the form described in the package documentation into
// go-redis options, with this package's defaults for timeouts and retries filled in.
func ParseURL(rawURL string) (*redis.UniversalOptions, error) {
	uo, err := parseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("redisstore: parse URL %q: %w", redactURL(rawURL), err)
	}
	return uo, nil
}

func parseURL(rawURL string) (*redis.UniversalOptions, error) {
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		return nil, errors.New("missing scheme, want redis:// or rediss://")
	}
	if scheme != "redis" && scheme != "rediss" {
		return nil, fmt.Errorf("unsupported scheme %q, want redis or rediss", scheme)
	}
	// The host list may hold commas, which net/url rejects, so split off the authority
	// by hand and let net/url parse the rest.
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority, tail := rest[:end], rest[end:]
	var userinfo, hostList string
	if i := strings.LastIndex(authority, "@"); i >= 0 {
		userinfo, hostList = authority[:i+1], authority[i+1:]
	} else {
		hostList = authority
	}
	u, err := url.Parse(scheme + "://" + userinfo + "placeholder" + tail)
	if err != nil {
		return nil, err
	}
	if u.Fragment != "" {
		return nil, errors.New("unexpected fragment")
	}
	q := u.Query()
	param := func(name string) string {
		v := q.Get(name)
		q.Del(name)
		return v
	}

	uo := &redis.UniversalOptions{
		DialTimeout:           DefaultDialTimeout,
		ReadTimeout:           DefaultReadTimeout,
		WriteTimeout:          DefaultWriteTimeout,
		MaxRetries:            -1, // go-redis: -1 is none, 0 is its default of 3
		DialerRetries:         1,  // one dial attempt, bounded by DialTimeout
		ContextTimeoutEnabled: true,
	}
	if u.User != nil {
		uo.Username = u.User.Username()
		uo.Password, _ = u.User.Password()
	}
	uo.MasterName = param("master_name")
	uo.SentinelUsername = param("sentinel_username")
	uo.SentinelPassword = param("sentinel_password")
	uo.ClientName = param("client_name")

	defaultPort := "6379"
	if uo.MasterName != "" {
		defaultPort = "26379"
	}
	if hostList == "" {
		hostList = "localhost"
	}
	for h := range strings.SplitSeq(hostList, ",") {
		addr, err := hostPort(strings.TrimSpace(h), defaultPort)
		if err != nil {
			return nil, err
		}
		uo.Addrs = append(uo.Addrs, addr)
	}

	switch path := strings.Trim(u.Path, "/"); {
	case path == "":
	case strings.Contains(path, "/"):
		return nil, fmt.Errorf("invalid path %q, want /db", u.Path)
	default:
		if uo.DB, err = strconv.Atoi(path); err != nil || uo.DB < 0 {
			return nil, fmt.Errorf("invalid database number %q", path)
		}
	}
	if v := param("db"); v != "" {
		if uo.DB, err = strconv.Atoi(v); err != nil || uo.DB < 0 {
			return nil, fmt.Errorf("invalid db %q", v)
		}
	}

	boolParam := func(name string) (bool, error) {
		v := param(name)
		if v == "" {
			return false, nil
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			return false, fmt.Errorf("invalid %s %q, want true or false", name, v)
		}
		return b, nil
	}
	if uo.IsClusterMode, err = boolParam("cluster"); err != nil {
		return nil, err
	}
	skipVerify, err := boolParam("skip_verify")
	if err != nil {
		return nil, err
	}
	for name, dst := range map[string]*time.Duration{
		"dial_timeout": &uo.DialTimeout, "read_timeout": &uo.ReadTimeout, "write_timeout": &uo.WriteTimeout,
	} {
		v := param(name)
		if v == "" {
			continue
		}
		d, err := parseDuration(v)
		if err != nil {
			return nil, fmt.Errorf("invalid %s %q: %w", name, v, err)
		}
		*dst = d
	}
	for name, dst := range map[string]*int{
		"pool_size": &uo.PoolSize, "min_idle_conns": &uo.MinIdleConns,
		"max_retries": &uo.MaxRetries, "protocol": &uo.Protocol,
	} {
		v := param(name)
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("invalid %s %q", name, v)
		}
		*dst = n
	}
	if uo.MaxRetries == 0 {
		uo.MaxRetries = -1
	}
	if len(q) > 0 {
		names := make([]string, 0, len(q))
		for name := range q {
			names = append(names, name)
		}
		return nil, fmt.Errorf("unknown parameters %s", strings.Join(names, ", "))
	}

	cluster := uo.MasterName == "" && (len(uo.Addrs) > 1 || uo.IsClusterMode)
	switch {
	case uo.MasterName != "" && uo.IsClusterMode:
		return nil, errors.New("master_name (Sentinel) and cluster=true exclude each other")
	case cluster && uo.DB != 0:
		return nil, fmt.Errorf("cluster mode has only database 0, got %d", uo.DB)
	}
	if scheme == "rediss" {
		// ServerName stays empty: crypto/tls then checks each node against its own
		// host name, which a Cluster or Sentinel setup needs.
		uo.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: skipVerify}
	} else if skipVerify {
		return nil, errors.New("skip_verify needs the rediss scheme")
	}
	return uo, nil
}

// hostPort validates one host[:port] of the host list and adds the default port.
func hostPort(h, defaultPort string) (string, error) {
	if h == "" {
		return "", errors.New("empty host in host list")
	}
	host, port := h, defaultPort
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") { // IPv6 literal, no port
		host = h[1 : len(h)-1]
	} else if strings.Contains(h, ":") {
		var err error
		if host, port, err = net.SplitHostPort(h); err != nil {
			return "", fmt.Errorf("invalid host %q: %w", h, err)
		}
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("invalid port in %q", h)
	}
	if host == "" {
		return "", fmt.Errorf("missing host name in %q", h)
	}
	return net.JoinHostPort(host, port), nil
}

// parseDuration accepts a Go duration or a number of seconds.
func parseDuration(v string) (time.Duration, error) {
	if n, err := strconv.Atoi(v); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	return time.ParseDuration(v)
}

// redactURL hides the passwords in rawURL for error messages.
func redactURL(rawURL string) string {
	out := rawURL
	if scheme, rest, ok := strings.Cut(rawURL, "://"); ok {
		end := strings.IndexAny(rest, "/?#")
		if end < 0 {
			end = len(rest)
		}
		if at := strings.LastIndex(rest[:end], "@"); at >= 0 {
			if user, _, hasPass := strings.Cut(rest[:at], ":"); hasPass {
				out = scheme + "://" + user + ":xxxxx" + rest[at:]
			}
		}
	}
	if i := strings.Index(out, "sentinel_password="); i >= 0 {
		i += len("sentinel_password=")
		j := strings.IndexAny(out[i:], "&#")
		if j < 0 {
			j = len(out) - i
		}
		out = out[:i] + "xxxxx" + out[i+j:]
	}
	return out
}

func (s *Store) valueKey(key string) string   { return s.prefix + valueSpace + key }
func (s *Store) counterKey(key string) string { return s.prefix + counterSpace + key }

// begin checks ctx and whether the store is closed before op on key.
func (s *Store) begin(ctx context.Context, op, key string) error {
	if s.closed.Load() {
		return fmt.Errorf("redis %s %q: %w", op, key, errClosed)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redis %s %q: %w", op, key, err)
	}
	return nil
}

// unavailable wraps a Redis or network error (see wrapUnavailable)
// and, on a Cluster, has the client reload its slot map, so that the next command
// goes to whichever master serves the key now.
//
// go-redis reloads the map by itself only on MOVED and ASK redirections, READONLY
// errors and once a minute. A command whose master died gets none of these, only
// refused connections, so without this it kept dialing the dead address for up to a
// minute after the replica had taken over: flows on the failed master's slots answered
// 503 long after the Cluster was healthy again (issue 12). go-redis runs one reload at
// a time, 200 ms apart at most, so an outage costs a few CLUSTER SLOTS a second.
func (s *Store) unavailable(ctx context.Context, op, key string, err error) error {
	if cc, ok := s.c.(*redis.ClusterClient); ok && ctx.Err() == nil {
		cc.ReloadState(ctx)
	}
	return wrapUnavailable(ctx, op, key, err)
}

// wrapUnavailable wraps a Redis or network error. When the caller's context ended, which
// go-redis reports as a plain i/o timeout, the context's error is wrapped too, so that
// callers can tell their own deadline from an outage.
func wrapUnavailable(ctx context.Context, op, key string, err error) error {
	what := "redis " + op
	if key != "" {
		what += " " + strconv.Quote(key)
	}
	cerr := ctx.Err()
	if d, ok := ctx.Deadline(); ok && cerr == nil && !time.Now().Before(d) {
		// go-redis sets the socket deadline to the context's, so the read can time
		// out a hair before the context notices.
		cerr = context.DeadlineExceeded
	}
	if cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%s: %w: %w: %w", what, store.ErrUnavailable, cerr, err)
	}
	return fmt.Errorf("%s: %w: %w", what, store.ErrUnavailable, err)
}

// decode splits a stored value into revision and value.
func decode(op, key string, raw []byte) (store.Item, error) {
	i := bytes.IndexByte(raw, ':')
	if i <= 0 || i > maxRevDigits {
		return store.Item{}, fmt.Errorf("redis %s %q: malformed stored value (no revision prefix)", op, key)
	}
	rev, err := strconv.ParseUint(string(raw[:i]), 10, 64)
	if err != nil {
		return store.Item{}, fmt.Errorf("redis %s %q: malformed revision %q: %w", op, key, raw[:i], err)
	}
	return store.Item{Value: raw[i+1:], Rev: rev}, nil
}

// ttlMillis converts a validated ttl to whole milliseconds for PX, rounding up so that
// a positive ttl never becomes 0 (no expiry).
func ttlMillis(ttl time.Duration) int64 {
	return int64((ttl + time.Millisecond - 1) / time.Millisecond)
}

// Get returns the value and revision of key in one GET, or an error wrapping
// store.ErrNotFound.
func (s *Store) Get(ctx context.Context, key string) (store.Item, error) {
	if err := s.begin(ctx, "get", key); err != nil {
		return store.Item{}, err
	}
	raw, err := s.c.Get(ctx, s.valueKey(key)).Bytes()
	if errors.Is(err, redis.Nil) {
		return store.Item{}, fmt.Errorf("redis get %q: %w", key, store.ErrNotFound)
	}
	if err != nil {
		return store.Item{}, s.unavailable(ctx, "get", key, err)
	}
	return decode("get", key, raw)
}

// Set writes key unconditionally and returns its new revision, in one script call.
func (s *Store) Set(ctx context.Context, key string, value []byte, ttl time.Duration) (uint64, error) {
	if err := s.begin(ctx, "set", key); err != nil {
		return 0, err
	}
	if err := store.ValidateTTL(ttl); err != nil {
		return 0, fmt.Errorf("redis set %q: %w", key, err)
	}
	rev, err := setScript.Run(ctx, s.c, []string{s.valueKey(key)}, value, ttlMillis(ttl)).Int64()
	if err != nil {
		return 0, s.unavailable(ctx, "set", key, err)
	}
	return uint64(rev), nil
}

// CAS writes key only if its revision is rev (0: only if it does not exist), in one
// script call, and returns the new revision or an error wrapping store.ErrConflict.
func (s *Store) CAS(ctx context.Context, key string, value []byte, rev uint64, ttl time.Duration) (uint64, error) {
	if err := s.begin(ctx, "cas", key); err != nil {
		return 0, err
	}
	if err := store.ValidateTTL(ttl); err != nil {
		return 0, fmt.Errorf("redis cas %q: %w", key, err)
	}
	won, err := casScript.Run(ctx, s.c, []string{s.valueKey(key)}, encodeValue(value, rev+1), strconv.FormatUint(rev, 10), ttlMillis(ttl)).Int64()
	if err != nil {
		return 0, s.unavailable(ctx, "cas", key, err)
	}
	if won == 0 {
		return 0, fmt.Errorf("redis cas %q at revision %d: %w", key, rev, store.ErrConflict)
	}
	return rev + 1, nil
}

// Delete removes key; a missing key is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.begin(ctx, "delete", key); err != nil {
		return err
	}
	if err := s.c.Del(ctx, s.valueKey(key)).Err(); err != nil {
		return s.unavailable(ctx, "delete", key, err)
	}
	return nil
}

// Take atomically reads and deletes key with GETDEL, or returns an error wrapping
// store.ErrNotFound.
func (s *Store) Take(ctx context.Context, key string) ([]byte, error) {
	if err := s.begin(ctx, "take", key); err != nil {
		return nil, err
	}
	raw, err := s.c.GetDel(ctx, s.valueKey(key)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("redis take %q: %w", key, store.ErrNotFound)
	}
	if err != nil {
		return nil, s.unavailable(ctx, "take", key, err)
	}
	item, err := decode("take", key, raw)
	return item.Value, err
}

// Incr adds delta to the counter at key and returns the new value. A missing counter
// starts from zero and gets ttl; an existing one keeps its expiry. Delta 0 reads the
// counter with a GET and creates nothing.
func (s *Store) Incr(ctx context.Context, key string, delta int64, ttl time.Duration) (int64, error) {
	if err := s.begin(ctx, "incr", key); err != nil {
		return 0, err
	}
	if err := store.ValidateTTL(ttl); err != nil {
		return 0, fmt.Errorf("redis incr %q: %w", key, err)
	}
	var (
		n   int64
		err error
	)
	if delta == 0 {
		n, err = s.c.Get(ctx, s.counterKey(key)).Int64()
		if errors.Is(err, redis.Nil) {
			return 0, nil
		}
	} else {
		n, err = incrScript.Run(ctx, s.c, []string{s.counterKey(key)}, delta, ttlMillis(ttl)).Int64()
	}
	if err != nil {
		return 0, s.unavailable(ctx, "incr", key, err)
	}
	return n, nil
}

// Ping reports whether Redis answers PING.
func (s *Store) Ping(ctx context.Context) error {
	if s.closed.Load() {
		return fmt.Errorf("redis ping: %w", errClosed)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redis ping: %w", err)
	}
	if err := s.c.Ping(ctx).Err(); err != nil {
		return s.unavailable(ctx, "ping", "", err)
	}
	return nil
}

// Close closes the client if Open created it. After Close every method returns an
// error wrapping store.ErrUnavailable.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return fmt.Errorf("redis close: %w", errClosed)
	}
	if !s.owned {
		return nil
	}
	if err := s.c.Close(); err != nil {
		return fmt.Errorf("redis close: %w", err)
	}
	return nil
}

var (
	_ store.Batcher = (*Store)(nil)
	_ store.InOrder = (*Store)(nil)
)

// BatchInOrder reports whether a batch is applied in order (store.InOrder): true on a
// single server or Sentinel, where one connection carries the whole pipeline and Redis
// runs its commands in turn; false on a Cluster, where each node gets its share at once
// and one node's share can run while another's fails. One exception on a single server:
// a scripted op whose script Redis lost (NOSCRIPT) runs again after the batch (see Do),
// so only an outage at that very moment can leave it undone behind later ops.
func (s *Store) BatchInOrder() bool {
	_, cluster := s.c.(*redis.ClusterClient)
	return !cluster
}

// Do runs a batch (store.Do) in one pipeline: one round trip on a single server or
// Sentinel; on a Cluster, go-redis sends each node its share at once. Scripted ops go as
// EVALSHA; one that finds its script missing (NOSCRIPT: the cache was flushed, or a
// replica took over) did not run, so it is run again on its own, which loads the
// script. The ops touch different keys, so running one again later changes nothing
// for the others.
func (s *Store) Do(ctx context.Context, ops []store.Op) error {
	if err := s.begin(ctx, "batch", ops[0].Key); err != nil {
		return err
	}
	pipe := s.c.Pipeline()
	cmds := make([]redis.Cmder, len(ops))
	for i := range ops {
		op := &ops[i]
		switch op.Kind {
		case store.OpGet:
			cmds[i] = pipe.Get(ctx, s.valueKey(op.Key))
		case store.OpSet:
			cmds[i] = setScript.EvalSha(ctx, pipe, []string{s.valueKey(op.Key)}, op.Value, ttlMillis(op.TTL))
		case store.OpCAS:
			cmds[i] = casScript.EvalSha(ctx, pipe, []string{s.valueKey(op.Key)}, encodeValue(op.Value, op.Rev+1),
				strconv.FormatUint(op.Rev, 10), ttlMillis(op.TTL))
		case store.OpDelete:
			cmds[i] = pipe.Del(ctx, s.valueKey(op.Key))
		case store.OpPush:
			cmds[i] = pushScript.EvalSha(ctx, pipe, []string{s.valueKey(op.Key)}, s.pushArgs(op)...)
		case store.OpIncr:
			if op.Delta == 0 {
				cmds[i] = pipe.Get(ctx, s.counterKey(op.Key))
			} else {
				cmds[i] = incrScript.EvalSha(ctx, pipe, []string{s.counterKey(op.Key)}, op.Delta, ttlMillis(op.TTL))
			}
		}
	}
	// Exec's own error is the first failed command's, a missing key included; each
	// command's error is read below.
	_, _ = pipe.Exec(ctx)
	for i := range ops {
		op, cmd := &ops[i], cmds[i]
		err := cmd.Err()
		if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
			if op.Kind == store.OpPush {
				// Run loads the script, so the next batch finds it.
				cmd = pushScript.Run(ctx, s.c, []string{s.valueKey(op.Key)}, s.pushArgs(op)...)
				err = cmd.Err()
			} else {
				if err := store.DoOne(ctx, s, op); err != nil {
					return err
				}
				continue
			}
		}
		if err != nil && !errors.Is(err, redis.Nil) {
			return s.unavailable(ctx, "batch "+strings.ToLower(op.Kind.String()), op.Key, err)
		}
		if err := s.result(op, cmd); err != nil {
			return err
		}
	}
	return nil
}

// pushArgs are pushScript's arguments for op: with the value-key prefix that has the
// script delete the keys of dropped members where the list owns them and the script
// can reach them (not on a Cluster: see pushScript).
func (s *Store) pushArgs(op *store.Op) []any {
	owned := ""
	if op.OwnsKeys && !s.clusterMode() {
		owned = s.valueKey("")
	}
	return []any{op.Value, op.Expires.UnixMilli(), op.Bound, op.Now.UnixMilli(), owned}
}

// clusterMode reports whether s runs on a Redis Cluster.
func (s *Store) clusterMode() bool {
	_, ok := s.c.(*redis.ClusterClient)
	return ok
}

// result records the reply of one pipelined op in it.
func (s *Store) result(op *store.Op, cmd redis.Cmder) error {
	missing := errors.Is(cmd.Err(), redis.Nil)
	switch op.Kind {
	case store.OpGet:
		if missing {
			op.Err = fmt.Errorf("redis get %q: %w", op.Key, store.ErrNotFound)
			return nil
		}
		raw, err := cmd.(*redis.StringCmd).Bytes()
		if err != nil {
			return fmt.Errorf("redis get %q: %w", op.Key, err)
		}
		op.Item, err = decode("get", op.Key, raw)
		return err
	case store.OpSet:
		rev, err := cmd.(*redis.Cmd).Int64()
		if err != nil {
			return fmt.Errorf("redis set %q: %w", op.Key, err)
		}
		op.Rev = uint64(rev)
	case store.OpCAS:
		won, err := cmd.(*redis.Cmd).Int64()
		if err != nil {
			return fmt.Errorf("redis cas %q: %w", op.Key, err)
		}
		if won == 0 {
			op.Err = fmt.Errorf("redis cas %q at revision %d: %w", op.Key, op.Rev, store.ErrConflict)
			return nil
		}
		op.Rev++
	case store.OpIncr:
		if missing {
			op.N = 0
			return nil
		}
		var (
			n   int64
			err error
		)
		if op.Delta == 0 {
			n, err = cmd.(*redis.StringCmd).Int64()
		} else {
			n, err = cmd.(*redis.Cmd).Int64()
		}
		if err != nil {
			return fmt.Errorf("redis incr %q: %w", op.Key, err)
		}
		op.N = n
	case store.OpPush:
		reply, err := cmd.(*redis.Cmd).Slice()
		if err != nil {
			return fmt.Errorf("redis push %q: %w", op.Key, err)
		}
		var rev int64
		ok := len(reply) > 0
		if ok {
			rev, ok = reply[0].(int64)
		}
		if !ok {
			return fmt.Errorf("redis push %q: unexpected reply %v", op.Key, reply)
		}
		op.Rev = uint64(rev)
		for _, m := range reply[1:] {
			member, ok := m.(string)
			if !ok {
				return fmt.Errorf("redis push %q: unexpected member %v", op.Key, m)
			}
			op.Dropped = append(op.Dropped, []byte(member))
		}
		op.KeysDeleted = op.OwnsKeys && !s.clusterMode()
	}
	return nil
}

// encodeValue is a value as stored: its revision in decimal, a colon, the bytes.
func encodeValue(value []byte, rev uint64) []byte {
	enc := make([]byte, 0, maxRevDigits+1+len(value))
	enc = strconv.AppendUint(enc, rev, 10)
	enc = append(enc, ':')
	return append(enc, value...)
}
