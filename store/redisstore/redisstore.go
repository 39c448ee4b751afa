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
// # Client
//
// The client is rueidis, which pipelines automatically: the commands that concurrent
// callers send to one node share a few connections (by default, to a server or
// Sentinel master 4 on four or more CPUs and 2 on two; 1 per Cluster node), so under
// load many commands go out in one write and their replies come back in one read, and
// no connection is health-checked per command. A call made while no other is in
// flight is written and read on the caller's goroutine, as a pooled client would. This
// cut the CPU per login by 12 to 35 % at 8 and 32 logins in flight against go-redis,
// the client before (README, Speed); it costs a goroutine hand-off each way per
// pipelined call, and a slow reply delays the calls queued behind it on its connection.
// The client is created on first use, not by Open (rueidis contacts Redis when it is
// created), and created again after a failure, at most every retryGap. Client-side
// caching is off.
//
// # Failures
//
// Every error from Redis or the network, timeouts included, wraps
// store.ErrUnavailable. Timeouts are short by default (dial 2s, reply 1s) and
// commands are not retried, so during an outage calls fail within about two seconds
// instead of piling up. The reply timeout bounds how long a connection may go without
// answering: a call alone on its connection gives up after it, and pipelined calls
// fail when the connection's watchdog PING, sent after a read timeout of silence,
// gets no answer within another (so at most twice the read timeout); a caller's
// shorter context deadline wins. As with any networked store, a CAS or Set whose reply
// is lost (the connection drops after Redis applied the write) reports ErrUnavailable
// even though it took effect; callers that must know read the key again.
//
// On a Cluster a connection that fails has the client reload the slot map (rueidis
// does so on any network error, MOVED or CLUSTERDOWN), so commands follow a promoted
// replica within about a second; a Sentinel client follows +switch-master and also
// asks the Sentinels every two seconds, in case it missed the event.
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
//	read_timeout       reply timeout (default 1s; see Failures)
//	write_timeout      send timeout (default 1s); a connection's deadline is the larger
//	pool_size          connections per node that pipeline commands, rounded down to a
//	                   power of two, at most 256 (default 2 or 4, 1 per Cluster node)
//	min_idle_conns     accepted for compatibility; pipelining connections stay open
//	max_retries        retries of a read (GET) that failed on the network (default 0:
//	                   none); writes are never retried
//	client_name        name shown by CLIENT LIST
//	protocol           RESP version, 2 or 3 (default: 3 if the server speaks it)
//	skip_verify        rediss only: true skips TLS certificate verification
//
// A Redis on the same host can be reached over its Unix socket instead:
//
//	unix://[[user]:password@]/path/to/redis.sock[?db=N&param=value...]
//
// (redis+unix:// works too). The path is the socket's, so the database goes in the db
// parameter. The socket reaches a single server: master_name, cluster, skip_verify and
// WithTLSConfig are refused. The other parameters apply as above.
//
// Examples:
//
//	redis://localhost:6379/0
//	rediss://:s3cret@redis.example.com:6380/2?read_timeout=500ms
//	redis://h1:6379,h2:6379,h3:6379                        (Cluster)
//	redis://:s3cret@s1,s2,s3/0?master_name=mymaster         (Sentinel)
//	unix:///run/redis/redis.sock?db=0                      (Unix socket)
//
// Options passed to Open override what the URL says.
package redisstore

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"math/bits"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/redis/rueidis"

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

// retryGap is how long after a failed attempt to create the client the next call
// fails at once instead of dialing again, so that an outage at start does not queue
// every caller behind a dial timeout.
const retryGap = 250 * time.Millisecond

// sentinelRefresh is how often a Sentinel client asks the Sentinels for the master,
// besides following their +switch-master events, so that a missed event cannot bind
// it to a demoted master.
const sentinelRefresh = 2 * time.Second

// script is a Lua script: rueidis runs it alone (EVALSHA, then EVAL if the server
// lost it), and Do puts its EVALSHA in a pipeline, which needs the hash.
type script struct {
	lua *rueidis.Lua
	sha string
}

func newScript(src string) script {
	sum := sha1.Sum([]byte(src))
	return script{lua: rueidis.NewLuaScript(src), sha: hex.EncodeToString(sum[:])}
}

// Hash is the script's SHA-1, as EVALSHA and SCRIPT EXISTS name it.
func (s script) Hash() string { return s.sha }

// evalsha builds the script's EVALSHA on key with args, for a pipeline.
func (s script) evalsha(c rueidis.Client, key string, args ...string) rueidis.Completed {
	return c.B().Evalsha().Sha1(s.sha).Numkeys(1).Key(key).Arg(args...).Build()
}

// run runs the script alone on key with args.
func (s script) run(ctx context.Context, c rueidis.Client, key string, args ...string) rueidis.RedisResult {
	return s.lua.Exec(ctx, c, []string{key}, args)
}

// setScript writes a value with the next revision. KEYS[1] is the value key,
// ARGV[1] the value, ARGV[2] the ttl in milliseconds (0: none). It returns the new
// revision. GETRANGE reads the revision without copying the value.
var setScript = newScript(`
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
var casScript = newScript(`
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
var incrScript = newScript(`
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
var pushScript = newScript(`
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
	prefix  string
	opt     *rueidis.ClientOption // how to create the client; nil when New was given one
	cluster bool                  // Cluster mode, known before the client exists
	owned   bool                  // Close closes the client
	closed  atomic.Bool

	c       atomic.Pointer[rueidis.Client] // nil until the first call creates it
	mu      sync.Mutex                     // serialises creating the client and Close
	lastErr error                          // the last failure to create it
	lastTry time.Time                      // when that was
}

var _ store.Store = (*Store)(nil)

// Option adjusts Open.
type Option func(*settings)

type settings struct {
	prefix            string
	dial, read, write time.Duration
	tls               *tls.Config
	tweaks            []func(*rueidis.ClientOption)
	rejects           []error
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
	return func(s *settings) { s.dial = d }
}

// WithReadTimeout sets how long waiting for a reply may take (default 1s; see the
// package documentation's Failures).
func WithReadTimeout(d time.Duration) Option {
	return func(s *settings) { s.read = d }
}

// WithWriteTimeout sets how long sending a command may take (default 1s).
func WithWriteTimeout(d time.Duration) Option {
	return func(s *settings) { s.write = d }
}

// WithTLSConfig sets the TLS configuration, for example to trust a private CA. It
// turns TLS on even for a redis:// URL, for the data nodes and the Sentinels. An empty
// ServerName is taken from each node's address.
func WithTLSConfig(c *tls.Config) Option {
	return func(s *settings) { s.tls = c }
}

// WithClientOption lets the caller adjust the rueidis client options after the URL
// and the other Options have been applied, for settings this package does not expose
// (credentials providers, buffer sizes, a custom dialer).
func WithClientOption(f func(*rueidis.ClientOption)) Option {
	return func(s *settings) { s.tweaks = append(s.tweaks, f) }
}

// Open parses rawURL (see the package documentation for its form) and returns a Store
// that owns a rueidis client made from it. Open does not contact Redis: the first call
// does (call Ping to check the connection).
func Open(rawURL string, opts ...Option) (*Store, error) {
	u, err := parseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("redisstore: parse URL %q: %w", redactURL(rawURL), err)
	}
	st := settings{prefix: DefaultPrefix, dial: u.dial, read: u.read, write: u.write}
	for _, o := range opts {
		o(&st)
	}
	if err := errors.Join(st.rejects...); err != nil {
		return nil, fmt.Errorf("redisstore: %w", err)
	}
	opt := &u.opt
	applyTimeouts(opt, st.dial, st.read, st.write)
	if st.tls != nil && opt.DialCtxFn != nil {
		return nil, errors.New("redisstore: TLS over a Unix socket: Redis serves TLS only over TCP")
	}
	if st.tls != nil {
		opt.TLSConfig = st.tls
		if opt.Sentinel.MasterSet != "" {
			opt.Sentinel.TLSConfig = st.tls
		}
	}
	for _, f := range st.tweaks {
		f(opt)
	}
	return &Store{prefix: st.prefix, opt: opt, cluster: isCluster(opt), owned: true}, nil
}

// New returns a Store using an existing client, with keys under prefix (which must not
// contain braces). Close does not close the client: its owner does. Give the client a
// short ConnWriteTimeout and DisableRetry, as Open does, so that an outage fails fast.
func New(c rueidis.Client, prefix string) *Store {
	s := &Store{prefix: prefix, cluster: c.Mode() == rueidis.ClientModeCluster}
	s.c.Store(&c)
	return s
}

// Client returns the underlying rueidis client, creating it if no call has yet, for
// health checks and metrics. It fails while Redis cannot be reached.
func (s *Store) Client() (rueidis.Client, error) {
	return s.client("client", "")
}

// ParseURL turns a URL of the form described in the package documentation into
// rueidis client options, with this package's defaults for timeouts and retries filled
// in.
func ParseURL(rawURL string) (*rueidis.ClientOption, error) {
	u, err := parseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("redisstore: parse URL %q: %w", redactURL(rawURL), err)
	}
	applyTimeouts(&u.opt, u.dial, u.read, u.write)
	return &u.opt, nil
}

// parsedURL is what a URL says: client options, and the timeouts that Open's Options
// may still override before they go into the options.
type parsedURL struct {
	opt               rueidis.ClientOption
	dial, read, write time.Duration
}

// isCluster reports whether opt makes a Cluster client.
func isCluster(opt *rueidis.ClientOption) bool {
	return opt.Sentinel.MasterSet == "" && !opt.ForceSingleClient
}

// applyTimeouts puts the dial, read and write timeouts into opt. rueidis has one
// timeout per connection (ConnWriteTimeout: the socket deadline of a call alone on
// its connection, and how long the watchdog PING may wait), and pings a connection
// after Dialer.KeepAlive without replies, so a silent server is found within read
// plus the larger of read and write.
func applyTimeouts(opt *rueidis.ClientOption, dial, read, write time.Duration) {
	opt.Dialer.Timeout = dial
	opt.Dialer.KeepAlive = read
	opt.ConnWriteTimeout = max(read, write)
	if opt.Sentinel.MasterSet != "" {
		opt.Sentinel.Dialer.Timeout = dial
		opt.Sentinel.Dialer.KeepAlive = read
	}
}

// retryReads is the rueidis RetryDelay for max_retries=n: reads that failed on the
// network are tried again up to n times, 50 ms apart.
func retryReads(n int) rueidis.RetryDelayFn {
	return func(attempts int, _ rueidis.Completed, _ error) time.Duration {
		if attempts > n {
			return -1
		}
		return 50 * time.Millisecond
	}
}

func parseURL(rawURL string) (*parsedURL, error) {
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		return nil, errors.New("missing scheme, want redis://, rediss:// or unix://")
	}
	var (
		u        *url.URL
		hostList string
		socket   string // the Unix socket's path, for the unix schemes
		err      error
	)
	switch scheme {
	case "redis", "rediss":
		// The host list may hold commas, which net/url rejects, so split off the
		// authority by hand and let net/url parse the rest.
		end := strings.IndexAny(rest, "/?#")
		if end < 0 {
			end = len(rest)
		}
		authority, tail := rest[:end], rest[end:]
		var userinfo string
		if i := strings.LastIndex(authority, "@"); i >= 0 {
			userinfo, hostList = authority[:i+1], authority[i+1:]
		} else {
			hostList = authority
		}
		if u, err = url.Parse(scheme + "://" + userinfo + "placeholder" + tail); err != nil {
			return nil, err
		}
	case "unix", "redis+unix":
		if u, err = url.Parse(rawURL); err != nil {
			return nil, err
		}
		if u.Host != "" {
			return nil, fmt.Errorf("unexpected host %q in a Unix socket URL, want %s:///path/to/redis.sock", u.Host, scheme)
		}
		if socket = u.Path; !strings.HasPrefix(socket, "/") || strings.HasSuffix(socket, "/") {
			return nil, fmt.Errorf("invalid socket path %q, want an absolute file path", socket)
		}
	default:
		return nil, fmt.Errorf("unsupported scheme %q, want redis, rediss or unix", scheme)
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

	p := &parsedURL{
		dial: DefaultDialTimeout, read: DefaultReadTimeout, write: DefaultWriteTimeout,
		opt: rueidis.ClientOption{
			DisableCache: true, // no client-side caching: every read goes to Redis
			DisableRetry: true, // no retries unless max_retries asks
		},
	}
	o := &p.opt
	if u.User != nil {
		o.Username = u.User.Username()
		o.Password, _ = u.User.Password()
	}
	o.Sentinel.MasterSet = param("master_name")
	o.Sentinel.Username = param("sentinel_username")
	o.Sentinel.Password = param("sentinel_password")
	o.ClientName = param("client_name")
	if o.Sentinel.MasterSet != "" {
		o.Sentinel.TopologyRefreshInterval = sentinelRefresh
	}

	defaultPort := "6379"
	if o.Sentinel.MasterSet != "" {
		defaultPort = "26379"
	}
	if hostList == "" {
		hostList = "localhost"
	}
	if socket != "" {
		o.InitAddress = []string{socket}
		o.DialCtxFn = dialUnix
	} else {
		for h := range strings.SplitSeq(hostList, ",") {
			addr, err := hostPort(strings.TrimSpace(h), defaultPort)
			if err != nil {
				return nil, err
			}
			o.InitAddress = append(o.InitAddress, addr)
		}
	}

	switch path := strings.Trim(u.Path, "/"); {
	case socket != "", path == "":
	case strings.Contains(path, "/"):
		return nil, fmt.Errorf("invalid path %q, want /db", u.Path)
	default:
		if o.SelectDB, err = strconv.Atoi(path); err != nil || o.SelectDB < 0 {
			return nil, fmt.Errorf("invalid database number %q", path)
		}
	}
	if v := param("db"); v != "" {
		if o.SelectDB, err = strconv.Atoi(v); err != nil || o.SelectDB < 0 {
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
	clusterParam, err := boolParam("cluster")
	if err != nil {
		return nil, err
	}
	skipVerify, err := boolParam("skip_verify")
	if err != nil {
		return nil, err
	}
	for name, dst := range map[string]*time.Duration{
		"dial_timeout": &p.dial, "read_timeout": &p.read, "write_timeout": &p.write,
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
	var poolSize, retries, protocol int
	for name, dst := range map[string]*int{
		"pool_size": &poolSize, "min_idle_conns": new(int), "max_retries": &retries, "protocol": &protocol,
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
	if poolSize > 0 {
		// rueidis opens 2^PipelineMultiplex pipelining connections per node.
		o.PipelineMultiplex = min(bits.Len(uint(poolSize))-1, rueidis.MaxPipelineMultiplex)
	}
	if retries > 0 {
		o.DisableRetry = false
		o.RetryDelay = retryReads(retries)
	}
	switch protocol {
	case 0, 3:
	case 2:
		o.AlwaysRESP2 = true
	default:
		return nil, fmt.Errorf("invalid protocol %d, want 2 or 3", protocol)
	}
	if len(q) > 0 {
		names := make([]string, 0, len(q))
		for name := range q {
			names = append(names, name)
		}
		return nil, fmt.Errorf("unknown parameters %s", strings.Join(names, ", "))
	}

	sentinel := o.Sentinel.MasterSet != ""
	cluster := !sentinel && (len(o.InitAddress) > 1 || clusterParam)
	switch {
	case socket != "" && (sentinel || clusterParam || skipVerify):
		return nil, errors.New("a Unix socket reaches a single server: master_name, cluster and skip_verify do not apply")
	case sentinel && clusterParam:
		return nil, errors.New("master_name (Sentinel) and cluster=true exclude each other")
	case cluster && o.SelectDB != 0:
		return nil, fmt.Errorf("cluster mode has only database 0, got %d", o.SelectDB)
	}
	// rueidis would probe a lone host with CLUSTER SLOTS; the URL already says.
	o.ForceSingleClient = !sentinel && !cluster
	if scheme == "rediss" {
		// ServerName stays empty: crypto/tls then checks each node against its own
		// host name, which a Cluster or Sentinel setup needs.
		o.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: skipVerify}
		if sentinel {
			o.Sentinel.TLSConfig = o.TLSConfig
		}
	} else if skipVerify {
		return nil, errors.New("skip_verify needs the rediss scheme")
	}
	return p, nil
}

// dialUnix connects to the Unix socket at path, for the unix schemes: the dialer
// keeps its timeout, and Open refuses TLS, which Redis serves only over TCP.
func dialUnix(ctx context.Context, path string, d *net.Dialer, _ *tls.Config) (net.Conn, error) {
	return d.DialContext(ctx, "unix", path)
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

// begin checks ctx and whether the store is closed before op on key, and returns the
// client.
func (s *Store) begin(ctx context.Context, op, key string) (rueidis.Client, error) {
	if s.closed.Load() {
		return nil, fmt.Errorf("redis %s %q: %w", op, key, errClosed)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("redis %s %q: %w", op, key, err)
	}
	return s.client(op, key)
}

// client returns the rueidis client, creating it on first use. A failure to create it
// is remembered for retryGap, during which calls fail at once.
func (s *Store) client(op, key string) (rueidis.Client, error) {
	if s.closed.Load() {
		return nil, fmt.Errorf("redis %s %q: %w", op, key, errClosed)
	}
	if c := s.c.Load(); c != nil {
		return *c, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return nil, fmt.Errorf("redis %s %q: %w", op, key, errClosed)
	}
	if c := s.c.Load(); c != nil {
		return *c, nil
	}
	if s.lastErr != nil && time.Since(s.lastTry) < retryGap {
		return nil, wrapUnavailable(context.Background(), op, key, s.lastErr)
	}
	// A single server's client comes back even when its first dial failed
	// (ForceSingleClient) and dials again on the next command; a Cluster or Sentinel
	// client needs its topology first, so it comes back only once that was read.
	c, err := rueidis.NewClient(*s.opt)
	if c == nil {
		s.lastErr, s.lastTry = fmt.Errorf("connect: %w", err), time.Now()
		return nil, wrapUnavailable(context.Background(), op, key, s.lastErr)
	}
	s.c.Store(&c)
	return c, nil
}

// wrapUnavailable wraps a Redis or network error. When the caller's context ended, the
// context's error is wrapped too, so that callers can tell their own deadline from an
// outage.
func wrapUnavailable(ctx context.Context, op, key string, err error) error {
	what := "redis " + op
	if key != "" {
		what += " " + strconv.Quote(key)
	}
	cerr := ctx.Err()
	if d, ok := ctx.Deadline(); ok && cerr == nil && !time.Now().Before(d) {
		// rueidis sets the socket deadline to the context's, so the read can time
		// out a hair before the context notices.
		cerr = context.DeadlineExceeded
	}
	if cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%s: %w: %w: %w", what, store.ErrUnavailable, cerr, err)
	}
	return fmt.Errorf("%s: %w: %w", what, store.ErrUnavailable, err)
}

// decode splits a stored value into revision and value. The value is not copied: raw
// is a reply's bytes (rueidis AsBytes), which rueidis reads into a buffer of their own,
// allocated for that one reply and referenced by nothing once the reply is dropped
// (no client-side cache: every command here is a plain Do), so the caller owns them,
// as callers own what a store returns. That saves a copy and an allocation per value
// read, four per login (TestValueOwnedByCaller checks that writing into a returned
// value changes neither Redis nor the next read).
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
// a positive ttl never becomes 0 (no expiry), in decimal.
func ttlMillis(ttl time.Duration) string { return strconv.FormatInt(ttlMs(ttl), 10) }

// ttlMs is a validated ttl in whole milliseconds, rounded up so that a positive ttl
// never becomes 0 (no expiry).
func ttlMs(ttl time.Duration) int64 { return int64((ttl + time.Millisecond - 1) / time.Millisecond) }

// Get returns the value and revision of key in one GET, or an error wrapping
// store.ErrNotFound.
func (s *Store) Get(ctx context.Context, key string) (store.Item, error) {
	c, err := s.begin(ctx, "get", key)
	if err != nil {
		return store.Item{}, err
	}
	raw, err := c.Do(ctx, c.B().Get().Key(s.valueKey(key)).Build()).AsBytes()
	if rueidis.IsRedisNil(err) {
		return store.Item{}, &store.NotFoundError{Store: "redis", Op: "get", Key: key}
	}
	if err != nil {
		return store.Item{}, wrapUnavailable(ctx, "get", key, err)
	}
	return decode("get", key, raw)
}

// Set writes key unconditionally and returns its new revision, in one script call.
func (s *Store) Set(ctx context.Context, key string, value []byte, ttl time.Duration) (uint64, error) {
	c, err := s.begin(ctx, "set", key)
	if err != nil {
		return 0, err
	}
	if err := store.ValidateTTL(ttl); err != nil {
		return 0, fmt.Errorf("redis set %q: %w", key, err)
	}
	rev, err := setScript.run(ctx, c, s.valueKey(key), string(value), ttlMillis(ttl)).AsInt64()
	if err != nil {
		return 0, wrapUnavailable(ctx, "set", key, err)
	}
	return uint64(rev), nil
}

// CAS writes key only if its revision is rev (0: only if it does not exist), in one
// script call, and returns the new revision or an error wrapping store.ErrConflict.
func (s *Store) CAS(ctx context.Context, key string, value []byte, rev uint64, ttl time.Duration) (uint64, error) {
	c, err := s.begin(ctx, "cas", key)
	if err != nil {
		return 0, err
	}
	if err := store.ValidateTTL(ttl); err != nil {
		return 0, fmt.Errorf("redis cas %q: %w", key, err)
	}
	var a args
	ca := casArgs(&a, value, rev, ttl)
	won, err := casScript.run(ctx, c, s.valueKey(key), ca[:]...).AsInt64()
	if err != nil {
		return 0, wrapUnavailable(ctx, "cas", key, err)
	}
	if won == 0 {
		return 0, fmt.Errorf("redis cas %q at revision %d: %w", key, rev, store.ErrConflict)
	}
	return rev + 1, nil
}

// Delete removes key; a missing key is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	c, err := s.begin(ctx, "delete", key)
	if err != nil {
		return err
	}
	if err := c.Do(ctx, c.B().Del().Key(s.valueKey(key)).Build()).Error(); err != nil {
		return wrapUnavailable(ctx, "delete", key, err)
	}
	return nil
}

// Take atomically reads and deletes key with GETDEL, or returns an error wrapping
// store.ErrNotFound.
func (s *Store) Take(ctx context.Context, key string) ([]byte, error) {
	c, err := s.begin(ctx, "take", key)
	if err != nil {
		return nil, err
	}
	raw, err := c.Do(ctx, c.B().Getdel().Key(s.valueKey(key)).Build()).AsBytes()
	if rueidis.IsRedisNil(err) {
		return nil, &store.NotFoundError{Store: "redis", Op: "take", Key: key}
	}
	if err != nil {
		return nil, wrapUnavailable(ctx, "take", key, err)
	}
	item, err := decode("take", key, raw)
	return item.Value, err
}

// Incr adds delta to the counter at key and returns the new value. A missing counter
// starts from zero and gets ttl; an existing one keeps its expiry. Delta 0 reads the
// counter with a GET and creates nothing.
func (s *Store) Incr(ctx context.Context, key string, delta int64, ttl time.Duration) (int64, error) {
	c, err := s.begin(ctx, "incr", key)
	if err != nil {
		return 0, err
	}
	if err := store.ValidateTTL(ttl); err != nil {
		return 0, fmt.Errorf("redis incr %q: %w", key, err)
	}
	var n int64
	if delta == 0 {
		n, err = c.Do(ctx, c.B().Get().Key(s.counterKey(key)).Build()).AsInt64()
		if rueidis.IsRedisNil(err) {
			return 0, nil
		}
	} else {
		n, err = incrScript.run(ctx, c, s.counterKey(key), strconv.FormatInt(delta, 10), ttlMillis(ttl)).AsInt64()
	}
	if err != nil {
		return 0, wrapUnavailable(ctx, "incr", key, err)
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
	c, err := s.client("ping", "")
	if err != nil {
		return err
	}
	if err := c.Do(ctx, c.B().Ping().Build()).Error(); err != nil {
		return wrapUnavailable(ctx, "ping", "", err)
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
	s.mu.Lock() // a client being created is stored before this returns
	defer s.mu.Unlock()
	if c := s.c.Load(); c != nil {
		(*c).Close()
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
func (s *Store) BatchInOrder() bool { return !s.cluster }

// Do runs a batch (store.Do) in one pipeline (rueidis DoMulti): one round trip on a
// single server or Sentinel, its commands kept together and in order on one connection
// even when other callers' commands share it; on a Cluster, rueidis sends each node its
// share at once. Scripted ops go as EVALSHA; one that finds its script missing
// (NOSCRIPT: the cache was flushed, or a replica took over) did not run, so it is run
// again on its own, which loads the script. The ops touch different keys, so running
// one again later changes nothing for the others.
func (s *Store) Do(ctx context.Context, ops []store.Op) error {
	c, err := s.begin(ctx, "batch", ops[0].Key)
	if err != nil {
		return err
	}
	cmds := make(rueidis.Commands, len(ops))
	a := s.argsFor(ops)
	for i := range ops {
		op := &ops[i]
		switch op.Kind {
		case store.OpGet:
			cmds[i] = c.B().Get().Key(a.key(s.prefix, valueSpace, op.Key)).Build()
		case store.OpSet:
			cmds[i] = setScript.evalsha(c, a.key(s.prefix, valueSpace, op.Key), a.bytes(op.Value), a.ttl(op.TTL))
		case store.OpCAS:
			ca := casArgs(&a, op.Value, op.Rev, op.TTL)
			cmds[i] = casScript.evalsha(c, a.key(s.prefix, valueSpace, op.Key), ca[:]...)
		case store.OpDelete:
			cmds[i] = c.B().Del().Key(a.key(s.prefix, valueSpace, op.Key)).Build()
		case store.OpPush:
			pa := s.pushArgs(&a, op)
			cmds[i] = pushScript.evalsha(c, a.key(s.prefix, valueSpace, op.Key), pa[:]...)
		case store.OpIncr:
			if op.Delta == 0 {
				cmds[i] = c.B().Get().Key(a.key(s.prefix, counterSpace, op.Key)).Build()
			} else {
				cmds[i] = incrScript.evalsha(c, a.key(s.prefix, counterSpace, op.Key), a.int(op.Delta), a.ttl(op.TTL))
			}
		case store.OpZero:
			// One command, atomic, no script: XX leaves a missing counter missing,
			// KEEPTTL its expiry, GET returns what it held (Redis 6.2 or later).
			cmds[i] = c.B().Set().Key(a.key(s.prefix, counterSpace, op.Key)).Value("0").Xx().Get().Keepttl().Build()
		}
	}
	replies := c.DoMulti(ctx, cmds...)
	for i := range ops {
		op, reply := &ops[i], replies[i]
		err := reply.Error()
		if rerr, ok := rueidis.IsRedisErr(err); ok && rerr.IsNoScript() {
			if op.Kind == store.OpPush {
				// run loads the script, so the next batch finds it.
				var a args
				pa := s.pushArgs(&a, op)
				reply = pushScript.run(ctx, c, s.valueKey(op.Key), pa[:]...)
				err = reply.Error()
			} else {
				if err := store.DoOne(ctx, s, op); err != nil {
					return err
				}
				continue
			}
		}
		if err != nil && !rueidis.IsRedisNil(err) {
			return wrapUnavailable(ctx, "batch "+strings.ToLower(op.Kind.String()), op.Key, err)
		}
		if err := s.result(op, reply); err != nil {
			return err
		}
	}
	return nil
}

// casArgs are casScript's arguments, built in a: the encoded new value, the expected
// revision and the ttl. They come as an array, not a slice, so that Do's pipeline
// keeps them on its stack (evalsha copies the strings into the command): one
// allocation fewer per CAS.
func casArgs(a *args, value []byte, rev uint64, ttl time.Duration) [3]string {
	return [3]string{a.value(value, rev+1), a.uint(rev), a.ttl(ttl)}
}

// pushArgs are pushScript's arguments for op, built in a: with the value-key prefix
// that has the script delete the keys of dropped members where the list owns them and
// the script can reach them (not on a Cluster: see pushScript). An array, as casArgs.
func (s *Store) pushArgs(a *args, op *store.Op) [5]string {
	owned := ""
	if op.OwnsKeys && !s.clusterMode() {
		owned = a.key(s.prefix, valueSpace, "")
	}
	return [5]string{
		a.bytes(op.Value), a.int(op.Expires.UnixMilli()),
		a.int(int64(op.Bound)), a.int(op.Now.UnixMilli()), owned,
	}
}

// argsFor returns an args buffer large enough for every key and argument of ops, so
// that the batch's strings cost one allocation.
func (s *Store) argsFor(ops []store.Op) args {
	n := 0
	for i := range ops {
		op := &ops[i]
		n += len(s.prefix) + len(valueSpace) + len(op.Key)
		switch op.Kind {
		case store.OpSet:
			n += len(op.Value) + maxIntDigits
		case store.OpCAS:
			n += maxRevDigits + 1 + len(op.Value) + maxRevDigits + maxIntDigits
		case store.OpIncr:
			n += 2 * maxIntDigits
		case store.OpPush:
			n += len(op.Value) + 3*maxIntDigits + len(s.prefix) + len(valueSpace)
		}
	}
	return args{b: make([]byte, 0, n)}
}

// maxIntDigits is the most bytes an int64 takes in decimal, sign included.
const maxIntDigits = 20

// args builds the keys and arguments of a batch's commands in one append-only buffer
// and hands each out as a string over its own bytes, so that a batch's strings cost
// one allocation instead of one per key, number and value: 31 fewer allocations per
// login (go test ./api -bench LoginHandlerParallel/redis -benchmem: 498 -> 467). The
// bytes a string covers are never written again: the buffer only grows by append, and
// when append moves it the earlier strings keep the old array, which nothing writes to.
type args struct{ b []byte }

// str returns the bytes appended since start as a string.
func (a *args) str(start int) string {
	if len(a.b) == start {
		return ""
	}
	return unsafe.String(&a.b[start], len(a.b)-start)
}

// key returns prefix+space+key.
func (a *args) key(prefix, space, key string) string {
	start := len(a.b)
	a.b = append(append(append(a.b, prefix...), space...), key...)
	return a.str(start)
}

// bytes returns a copy of v.
func (a *args) bytes(v []byte) string {
	start := len(a.b)
	a.b = append(a.b, v...)
	return a.str(start)
}

// value returns v as stored at revision rev: the revision in decimal, a colon, the
// bytes.
func (a *args) value(v []byte, rev uint64) string {
	start := len(a.b)
	a.b = append(append(strconv.AppendUint(a.b, rev, 10), ':'), v...)
	return a.str(start)
}

// int returns n in decimal.
func (a *args) int(n int64) string {
	start := len(a.b)
	a.b = strconv.AppendInt(a.b, n, 10)
	return a.str(start)
}

// uint returns n in decimal.
func (a *args) uint(n uint64) string {
	start := len(a.b)
	a.b = strconv.AppendUint(a.b, n, 10)
	return a.str(start)
}

// ttl returns a validated ttl in whole milliseconds for PX, as ttlMillis does.
func (a *args) ttl(ttl time.Duration) string { return a.int(ttlMs(ttl)) }

// clusterMode reports whether s runs on a Redis Cluster.
func (s *Store) clusterMode() bool { return s.cluster }

// result records the reply of one pipelined op in it.
func (s *Store) result(op *store.Op, reply rueidis.RedisResult) error {
	missing := rueidis.IsRedisNil(reply.Error())
	switch op.Kind {
	case store.OpGet:
		if missing {
			op.Err = &store.NotFoundError{Store: "redis", Op: "get", Key: op.Key}
			return nil
		}
		raw, err := reply.AsBytes()
		if err != nil {
			return fmt.Errorf("redis get %q: %w", op.Key, err)
		}
		op.Item, err = decode("get", op.Key, raw)
		return err
	case store.OpSet:
		rev, err := reply.AsInt64()
		if err != nil {
			return fmt.Errorf("redis set %q: %w", op.Key, err)
		}
		op.Rev = uint64(rev)
	case store.OpCAS:
		won, err := reply.AsInt64()
		if err != nil {
			return fmt.Errorf("redis cas %q: %w", op.Key, err)
		}
		if won == 0 {
			op.Err = fmt.Errorf("redis cas %q at revision %d: %w", op.Key, op.Rev, store.ErrConflict)
			return nil
		}
		op.Rev++
	case store.OpIncr, store.OpZero:
		if missing {
			op.N = 0
			return nil
		}
		n, err := reply.AsInt64()
		if err != nil {
			return fmt.Errorf("redis %s %q: %w", strings.ToLower(op.Kind.String()), op.Key, err)
		}
		op.N = n
	case store.OpPush:
		reply, err := reply.ToArray()
		if err != nil {
			return fmt.Errorf("redis push %q: %w", op.Key, err)
		}
		if len(reply) == 0 || !reply[0].IsInt64() {
			return fmt.Errorf("redis push %q: unexpected reply of %d elements", op.Key, len(reply))
		}
		rev, _ := reply[0].AsInt64()
		op.Rev = uint64(rev)
		for _, m := range reply[1:] {
			member, err := m.AsBytes() // the caller's own, as decode's value
			if err != nil {
				return fmt.Errorf("redis push %q: unexpected member: %w", op.Key, err)
			}
			op.Dropped = append(op.Dropped, member)
		}
		op.KeysDeleted = op.OwnsKeys && !s.clusterMode()
	}
	return nil
}
