package testredis

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// CLI is the name of the Redis command-line client, which creates clusters.
const CLI = "redis-cli"

// MasterName is the name under which a Sentinel set monitors its master.
const MasterName = "arbor"

// Timings of the topologies. They are short so that a failover in a test takes a
// few seconds, not the production defaults' half a minute.
const (
	// clusterNodeTimeout is cluster-node-timeout: a master silent this long is
	// suspected, and its replica takes over about a second or two later.
	clusterNodeTimeout = 1000 * time.Millisecond
	// sentinelDownAfter is down-after-milliseconds: how long Sentinels wait before
	// they call a silent master down.
	sentinelDownAfter = 1000 * time.Millisecond
	// topologyTimeout bounds starting a topology and waiting for a failover.
	topologyTimeout = 30 * time.Second
)

// scope says where a topology's files live and who stops it: one test (Start*), or
// the whole test binary (Shared*, stopped by Main).
type scope struct {
	tb      testing.TB
	tempDir func() (string, error)
	cleanup func(func())
}

// testScope ties a topology to tb: it stops when tb's test ends.
func testScope(tb testing.TB) scope {
	return scope{
		tb:      tb,
		tempDir: func() (string, error) { return tb.TempDir(), nil },
		cleanup: tb.Cleanup,
	}
}

// newServer starts one server of a topology with the arguments args returns for its
// port, on a free port.
func (sc scope) newServer(bin string, args func(dir string, port int) []string) (*Server, error) {
	dir, err := sc.tempDir()
	if err != nil {
		return nil, fmt.Errorf("temporary directory: %w", err)
	}
	s := &Server{tb: sc.tb, bin: bin, dir: dir}
	s.args = func(port int) []string { return args(dir, port) }
	sc.cleanup(s.Stop)
	if err := s.startOnFreePort(); err != nil {
		return nil, err
	}
	return s, nil
}

// baseArgs are the arguments every server of a topology starts with: loopback only,
// no persistence, logs to stdout.
func baseArgs(dir string, port int) []string {
	return []string{
		"--port", strconv.Itoa(port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--daemonize", "no",
		"--dir", dir,
		"--logfile", "",
		// A replica's first sync starts at once, not after the default 5 s wait for
		// more replicas to share it.
		"--repl-diskless-sync-delay", "0",
	}
}

// Cluster is a Redis Cluster of three masters with one replica each, all on loopback
// ports. Failovers happen within a few seconds of a master's death
// (cluster-node-timeout 1s). Its methods are safe for concurrent use.
type Cluster struct {
	// Nodes are the six servers. Which of them are masters changes with failovers.
	Nodes []*Server
}

// StartCluster starts a Redis Cluster of three masters with one replica each and
// returns it once every node reports the cluster healthy. It stops when the test
// ends. Like Start, it skips the test (or fails it under CI=true) when redis-server or
// redis-cli is missing.
func StartCluster(tb testing.TB) *Cluster {
	tb.Helper()
	return started(tb, "start cluster", startCluster)
}

// started returns the topology start made for the test tb, and fails tb, saying what
// did not start, when start failed.
func started[T any](tb testing.TB, what string, start func(scope) (T, error)) T {
	tb.Helper()
	v, err := start(testScope(tb))
	if err != nil {
		tb.Fatalf("testredis: %s: %v", what, err)
	}
	return v
}

func startCluster(sc scope) (*Cluster, error) {
	sc.tb.Helper()
	bin, cli := lookPath(sc.tb, Binary), lookPath(sc.tb, CLI)
	if bin == "" || cli == "" {
		return nil, errors.New("redis-server or redis-cli missing")
	}
	c := &Cluster{}
	for range 6 {
		bus, err := freePort()
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		s, err := sc.newServer(bin, func(dir string, port int) []string {
			return append(baseArgs(dir, port),
				"--cluster-enabled", "yes",
				"--cluster-config-file", "nodes.conf",
				"--cluster-port", strconv.Itoa(bus),
				"--cluster-node-timeout", strconv.Itoa(int(clusterNodeTimeout/time.Millisecond)),
				// A replica may always take over, however long it was disconnected:
				// test clusters are young and losing no availability is the point.
				"--cluster-replica-validity-factor", "0",
			)
		})
		if err != nil {
			return nil, fmt.Errorf("start cluster node: %w", err)
		}
		c.Nodes = append(c.Nodes, s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), topologyTimeout)
	defer cancel()
	args := []string{"--cluster", "create"}
	for _, n := range c.Nodes {
		args = append(args, n.Addr)
	}
	args = append(args, "--cluster-replicas", "1", "--cluster-yes")
	if out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("redis-cli --cluster create: %w\n%s", err, out)
	}
	if err := c.waitHealthy(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// URL returns the cluster as a Redis URL listing every node as a seed, which
// redisstore.Open reads as Cluster mode.
func (c *Cluster) URL() string {
	addrs := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		addrs[i] = n.Addr
	}
	return "redis://" + strings.Join(addrs, ",")
}

// MasterOf returns the server that is the master of the slot of key (a full Redis
// key, hash tag included), as the first running node sees it.
func (c *Cluster) MasterOf(tb testing.TB, key string) *Server {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, n := range c.Nodes {
		if !n.running() {
			continue
		}
		rc := n.client()
		slot, err := rc.ClusterKeySlot(ctx, key).Result()
		if err != nil {
			rc.Close()
			continue
		}
		ranges, err := slotMasters(ctx, rc)
		rc.Close()
		if err != nil {
			continue
		}
		for _, r := range ranges {
			if r.start <= slot && slot <= r.end {
				if s := c.byAddr(r.master); s != nil {
					return s
				}
			}
		}
	}
	tb.Fatalf("testredis: no running node knows the master of %q", key)
	return nil
}

// Masters returns the servers that are masters now, as the first running node sees it.
func (c *Cluster) Masters(tb testing.TB) []*Server {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, n := range c.Nodes {
		if !n.running() {
			continue
		}
		rc := n.client()
		ranges, err := slotMasters(ctx, rc)
		rc.Close()
		if err != nil {
			continue
		}
		var out []*Server
		for _, r := range ranges {
			if s := c.byAddr(r.master); s != nil && !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
		return out
	}
	tb.Fatal("testredis: no running cluster node")
	return nil
}

// WaitHealthy waits until every running node reports the cluster healthy and every
// slot is served by a running master, that is, after a failover, until the replica has
// been promoted and everyone knows. It fails the test after 30 seconds.
func (c *Cluster) WaitHealthy(tb testing.TB) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), topologyTimeout)
	defer cancel()
	if err := c.waitHealthy(ctx); err != nil {
		tb.Fatalf("testredis: %v", err)
	}
}

func (c *Cluster) waitHealthy(ctx context.Context) error {
	return poll(ctx, 50*time.Millisecond, "cluster not healthy", c.healthy)
}

// poll calls check every interval until it returns nil, and returns nil then. When ctx
// ends first, it returns what check said last, prefixed with notYet.
func poll(ctx context.Context, interval time.Duration, notYet string, check func(context.Context) error) error {
	start := time.Now()
	for {
		last := check(ctx)
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s after %v: %w", notYet, time.Since(start).Round(time.Millisecond), last)
		case <-time.After(interval):
		}
	}
}

// healthy returns why the cluster is not healthy yet, or nil.
func (c *Cluster) healthy(ctx context.Context) error {
	for _, n := range c.Nodes {
		if !n.running() {
			continue
		}
		rc := n.client()
		info, err := rc.ClusterInfo(ctx).Result()
		if err != nil {
			rc.Close()
			return fmt.Errorf("node %s: cluster info: %w", n.Addr, err)
		}
		if !strings.Contains(info, "cluster_state:ok") {
			rc.Close()
			return fmt.Errorf("node %s: cluster state not ok", n.Addr)
		}
		ranges, err := slotMasters(ctx, rc)
		if err != nil {
			rc.Close()
			return fmt.Errorf("node %s: cluster shards: %w", n.Addr, err)
		}
		covered := 0
		for _, r := range ranges {
			m := c.byAddr(r.master)
			if m == nil || !m.running() {
				rc.Close()
				return fmt.Errorf("node %s: slots %d-%d served by %q, which is down", n.Addr, r.start, r.end, r.master)
			}
			covered += int(r.end - r.start + 1)
		}
		if covered != 16384 {
			rc.Close()
			return fmt.Errorf("node %s: %d of 16384 slots covered", n.Addr, covered)
		}
		repl, err := rc.Info(ctx, "replication").Result()
		rc.Close()
		if err != nil {
			return fmt.Errorf("node %s: info replication: %w", n.Addr, err)
		}
		if strings.Contains(repl, "role:slave") && !strings.Contains(repl, "master_link_status:up") {
			return fmt.Errorf("replica %s: link to its master is down", n.Addr)
		}
	}
	return nil
}

// slotRange is a range of slots and the address of the master serving it.
type slotRange struct {
	start, end int64
	master     string // "" when the shard has no master that is up
}

// slotMasters asks one node, with CLUSTER SHARDS, which master serves which slots.
func slotMasters(ctx context.Context, rc *redis.Client) ([]slotRange, error) {
	shards, err := rc.ClusterShards(ctx).Result()
	if err != nil {
		return nil, err
	}
	var out []slotRange
	for _, sh := range shards {
		master := ""
		for _, n := range sh.Nodes {
			if n.Role == "master" && n.Health == "online" {
				master = net.JoinHostPort(n.IP, strconv.FormatInt(n.Port, 10))
			}
		}
		for _, r := range sh.Slots {
			out = append(out, slotRange{start: r.Start, end: r.End, master: master})
		}
	}
	return out, nil
}

func (c *Cluster) byAddr(addr string) *Server {
	for _, n := range c.Nodes {
		if n.Addr == addr {
			return n
		}
	}
	return nil
}

// Sentinel is a Redis master with one replica, watched by three Sentinels (quorum
// two), all on loopback ports. The Sentinels call a silent master down after one
// second and promote the replica. Its methods are safe for concurrent use.
type Sentinel struct {
	// Data are the master and the replica as started (master first). Which is master
	// changes with failovers: ask Master.
	Data []*Server
	// Sentinels are the three Sentinel processes.
	Sentinels []*Server
}

// StartSentinel starts a master, its replica and three Sentinels, and returns them
// once the Sentinels know the replica and each other, so that a failover can happen.
// They stop when the test ends. Like Start, it skips (or fails under CI=true) when
// redis-server is missing.
func StartSentinel(tb testing.TB) *Sentinel {
	tb.Helper()
	return started(tb, "start sentinel set", startSentinel)
}

func startSentinel(sc scope) (*Sentinel, error) {
	sc.tb.Helper()
	bin := lookPath(sc.tb, Binary)
	if bin == "" {
		return nil, errors.New("redis-server missing")
	}
	ss := &Sentinel{}
	master, err := sc.newServer(bin, baseArgs)
	if err != nil {
		return nil, fmt.Errorf("start master: %w", err)
	}
	host, mport, _ := net.SplitHostPort(master.Addr)
	replica, err := sc.newServer(bin, func(dir string, port int) []string {
		return append(baseArgs(dir, port), "--replicaof", host, mport)
	})
	if err != nil {
		return nil, fmt.Errorf("start replica: %w", err)
	}
	ss.Data = []*Server{master, replica}
	for range 3 {
		s, err := sc.newServer(bin, func(dir string, port int) []string {
			// A Sentinel rewrites its configuration file, so it is written only once:
			// a restarted Sentinel keeps what it learnt.
			conf := filepath.Join(dir, "sentinel.conf")
			if _, err := os.Stat(conf); err != nil {
				body := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\n"+
					"sentinel monitor %s %s %s 2\n"+
					"sentinel down-after-milliseconds %s %d\n"+
					"sentinel failover-timeout %s 5000\n",
					port, dir, MasterName, host, mport,
					MasterName, sentinelDownAfter/time.Millisecond, MasterName)
				_ = os.WriteFile(conf, []byte(body), 0o600)
			}
			return []string{conf, "--sentinel"}
		})
		if err != nil {
			return nil, fmt.Errorf("start sentinel: %w", err)
		}
		ss.Sentinels = append(ss.Sentinels, s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), topologyTimeout)
	defer cancel()
	if err := ss.waitReady(ctx, master); err != nil {
		return nil, err
	}
	return ss, nil
}

// URL returns the Sentinel set as a Redis URL (the Sentinels as hosts, master_name
// set), which redisstore.Open reads as Sentinel mode.
func (s *Sentinel) URL() string {
	addrs := make([]string, len(s.Sentinels))
	for i, n := range s.Sentinels {
		addrs[i] = n.Addr
	}
	return "redis://" + strings.Join(addrs, ",") + "/0?master_name=" + MasterName
}

// Master returns the data server the Sentinels call master now, as the first running
// Sentinel sees it.
func (s *Sentinel) Master(tb testing.TB) *Server {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, sen := range s.Sentinels {
		if !sen.running() {
			continue
		}
		addr, err := sen.sentinelMaster(ctx)
		if err != nil {
			continue
		}
		for _, d := range s.Data {
			if d.Addr == addr {
				return d
			}
		}
	}
	tb.Fatal("testredis: no Sentinel names a known master")
	return nil
}

// WaitPromoted waits until every running Sentinel names a running master other than
// old, that master says it is one, and, if another data server runs, it replicates
// from it. It fails the test after 30 seconds.
func (s *Sentinel) WaitPromoted(tb testing.TB, old *Server) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), topologyTimeout)
	defer cancel()
	if err := poll(ctx, 50*time.Millisecond, "no promotion", func(ctx context.Context) error { return s.promoted(ctx, old) }); err != nil {
		tb.Fatalf("testredis: %v", err)
	}
}

func (s *Sentinel) promoted(ctx context.Context, old *Server) error {
	var master string
	for _, sen := range s.Sentinels {
		if !sen.running() {
			continue
		}
		addr, err := sen.sentinelMaster(ctx)
		if err != nil {
			return fmt.Errorf("sentinel %s: %w", sen.Addr, err)
		}
		if addr == old.Addr {
			return fmt.Errorf("sentinel %s still names %s", sen.Addr, addr)
		}
		if master != "" && addr != master {
			return fmt.Errorf("sentinels disagree: %s and %s", master, addr)
		}
		master = addr
	}
	for _, d := range s.Data {
		if d.Addr != master || !d.running() {
			continue
		}
		rc := d.client()
		role, err := rc.Do(ctx, "ROLE").Slice()
		rc.Close()
		if err != nil {
			return fmt.Errorf("role of %s: %w", d.Addr, err)
		}
		if len(role) == 0 || role[0] != "master" {
			return fmt.Errorf("%s is not master yet: %v", d.Addr, role)
		}
		return nil
	}
	return fmt.Errorf("master %s is not a running data server", master)
}

// waitReady waits until every Sentinel names master, knows a healthy replica and the
// two other Sentinels: only then can they agree on a failover.
func (s *Sentinel) waitReady(ctx context.Context, master *Server) error {
	return poll(ctx, 100*time.Millisecond, "sentinels not ready", func(ctx context.Context) error { return s.ready(ctx, master) })
}

func (s *Sentinel) ready(ctx context.Context, master *Server) error {
	for _, sen := range s.Sentinels {
		addr, err := sen.sentinelMaster(ctx)
		if err != nil {
			return fmt.Errorf("sentinel %s: %w", sen.Addr, err)
		}
		if addr != master.Addr {
			return fmt.Errorf("sentinel %s names %s, want %s", sen.Addr, addr, master.Addr)
		}
		rc := sen.client()
		replicas, err := rc.Do(ctx, "SENTINEL", "REPLICAS", MasterName).Slice()
		if err != nil {
			rc.Close()
			return fmt.Errorf("sentinel %s: replicas: %w", sen.Addr, err)
		}
		others, err := rc.Do(ctx, "SENTINEL", "SENTINELS", MasterName).Slice()
		rc.Close()
		if err != nil {
			return fmt.Errorf("sentinel %s: sentinels: %w", sen.Addr, err)
		}
		if len(others) != len(s.Sentinels)-1 {
			return fmt.Errorf("sentinel %s knows %d other sentinels", sen.Addr, len(others))
		}
		healthy := false
		for _, r := range replicas {
			f := fields(r)
			if f["master-link-status"] == "ok" && !strings.Contains(f["flags"], "down") {
				healthy = true
			}
		}
		if !healthy {
			return fmt.Errorf("sentinel %s knows no healthy replica: %v", sen.Addr, replicas)
		}
	}
	return nil
}

// fields turns a Sentinel reply's flat list of names and values into a map.
func fields(reply any) map[string]string {
	list, _ := reply.([]any)
	m := make(map[string]string, len(list)/2)
	for i := 0; i+1 < len(list); i += 2 {
		m[fmt.Sprint(list[i])] = fmt.Sprint(list[i+1])
	}
	return m
}

// sentinelMaster asks a Sentinel for the master's address.
func (s *Server) sentinelMaster(ctx context.Context) (string, error) {
	rc := s.client()
	defer rc.Close()
	hp, err := rc.Do(ctx, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", MasterName).StringSlice()
	if err != nil {
		return "", err
	}
	if len(hp) != 2 {
		return "", fmt.Errorf("unexpected master address %v", hp)
	}
	return net.JoinHostPort(hp[0], hp[1]), nil
}

// client returns a plain client of this one server, for the topology's own queries.
// The caller closes it.
func (s *Server) client() *redis.Client { return client(s.Addr) }

// client returns a plain client of the server at addr, for the topology's own queries.
// The caller closes it.
func client(addr string) *redis.Client {
	return redis.NewClient(&redis.Options{
		Addr: addr, MaxRetries: -1, DialTimeout: time.Second,
		ReadTimeout: 2 * time.Second, WriteTimeout: time.Second, Protocol: 2,
	})
}

// running reports whether the server process runs.
func (s *Server) running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd != nil
}

// shared holds the topologies that the tests of one package share (Shared*), stopped
// by Main.
var shared struct {
	mu          sync.Mutex
	cluster     *Cluster
	clusterErr  error
	sentinel    *Sentinel
	sentinelErr error
	stops       []func()
	dirs        []string
}

// sharedScope makes servers that outlive the test starting them; Main stops them.
// tb only reports how starting went, so a shared topology must never be stopped,
// killed or paused by a test: start a topology of its own for that.
func sharedScope(tb testing.TB) scope {
	return scope{
		tb: tb,
		tempDir: func() (string, error) {
			d, err := os.MkdirTemp("", "testredis-")
			if err == nil {
				shared.dirs = append(shared.dirs, d)
			}
			return d, err
		},
		cleanup: func(f func()) { shared.stops = append(shared.stops, f) },
	}
}

// SharedCluster returns the Redis Cluster shared by the tests of this package, started
// on first use. Tests must give their keys a prefix of their own and must not stop or
// kill its nodes. The package's TestMain must call Main, which stops it.
func SharedCluster(tb testing.TB) *Cluster {
	tb.Helper()
	return sharedTopology(tb, &shared.cluster, &shared.clusterErr, "shared cluster", startCluster)
}

// SharedSentinel returns the Sentinel set shared by the tests of this package, started
// on first use, with the same rules as SharedCluster.
func SharedSentinel(tb testing.TB) *Sentinel {
	tb.Helper()
	return sharedTopology(tb, &shared.sentinel, &shared.sentinelErr, "shared sentinel set", startSentinel)
}

// sharedTopology returns *t, started with start on first use. A start that failed
// fails every test that asks again, without trying again.
func sharedTopology[T any](tb testing.TB, t **T, terr *error, what string, start func(scope) (*T, error)) *T {
	tb.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if *t == nil && *terr == nil {
		*t, *terr = start(sharedScope(tb))
	}
	if *terr != nil {
		tb.Fatalf("testredis: %s: %v", what, *terr)
	}
	return *t
}

// Main runs the package's tests, then stops the shared topologies. Call it from
// TestMain:
//
//	func TestMain(m *testing.M) { testredis.Main(m) }
//
// It also silences go-redis's own log, which prints a line for every refused
// connection and every Sentinel master lookup, drowning the tests' output during
// failovers; the tests report what matters.
func Main(m *testing.M) {
	redis.SetLogger(quiet{})
	code := m.Run()
	shared.mu.Lock()
	for i := len(shared.stops) - 1; i >= 0; i-- {
		shared.stops[i]()
	}
	for _, d := range shared.dirs {
		os.RemoveAll(d)
	}
	shared.mu.Unlock()
	os.Exit(code)
}

// quiet is a go-redis logger that drops everything.
type quiet struct{}

// Printf drops the message.
func (quiet) Printf(context.Context, string, ...any) {}
