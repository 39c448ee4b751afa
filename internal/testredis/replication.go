package testredis

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// WaitReplicated waits until every master's replicas have processed everything the
// master had written when it was called, so that a test can kill a master knowing what
// its replica holds. It fails the test after 30 seconds, or at once when a master has no
// replica attached.
func (c *Cluster) WaitReplicated(tb testing.TB) {
	tb.Helper()
	for _, m := range c.Masters(tb) {
		m.WaitReplicated(tb)
	}
}

// WaitReplicated waits until the master's replica has processed everything the master
// had written when it was called, as Cluster.WaitReplicated.
func (s *Sentinel) WaitReplicated(tb testing.TB) {
	tb.Helper()
	s.Master(tb).WaitReplicated(tb)
}

// WaitReplicated waits until every replica of s, a master, has processed everything s
// had written when it was called: each replica's offset (INFO replication) reaches
// the master's. It fails the test after 30 seconds, or at once when s has no replica.
// Unlike WAIT, it also covers writes other clients made.
func (s *Server) WaitReplicated(tb testing.TB) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), topologyTimeout)
	defer cancel()
	if err := waitReplicated(ctx, s.Addr); err != nil {
		tb.Fatalf("testredis: %v", err)
	}
}

// waitReplicated is WaitReplicated for the master at addr.
func waitReplicated(ctx context.Context, addr string) error {
	info, err := replication(ctx, addr)
	if err != nil {
		return err
	}
	offset, replicas := info["master_repl_offset"], replicasOf(info)
	if info["role"] != "master" || len(replicas) == 0 {
		return fmt.Errorf("%s is %s with %d replicas online, want a master with a replica", addr, info["role"], len(replicas))
	}
	want, err := strconv.ParseInt(offset, 10, 64)
	if err != nil {
		return fmt.Errorf("%s: master_repl_offset %q: %w", addr, offset, err)
	}
	for _, r := range replicas {
		err := poll(ctx, 10*time.Millisecond, "replica "+r+" behind its master "+addr, func(ctx context.Context) error {
			ri, err := replication(ctx, r)
			if err != nil {
				return err
			}
			got, err := strconv.ParseInt(ri["slave_repl_offset"], 10, 64)
			if err != nil {
				return fmt.Errorf("slave_repl_offset %q: %w", ri["slave_repl_offset"], err)
			}
			if got < want {
				return fmt.Errorf("at offset %d of %d", got, want)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// replication returns the fields of INFO replication of the server at addr.
func replication(ctx context.Context, addr string) (map[string]string, error) {
	rc := client(addr)
	defer rc.Close()
	raw, err := rc.Info(ctx, "replication").Result()
	if err != nil {
		return nil, fmt.Errorf("%s: info replication: %w", addr, err)
	}
	m := map[string]string{}
	for _, line := range strings.Split(raw, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			m[k] = v
		}
	}
	if len(m) == 0 {
		return nil, fmt.Errorf("%s: info replication: empty answer", addr)
	}
	return m, nil
}

// replicasOf returns the addresses of the online replicas a master's INFO replication
// lists (slave0:ip=…,port=…,state=online,…).
func replicasOf(info map[string]string) []string {
	var out []string
	for k, v := range info {
		if !strings.HasPrefix(k, "slave") || strings.HasPrefix(k, "slave_") {
			continue
		}
		f := map[string]string{}
		for _, kv := range strings.Split(v, ",") {
			if a, b, ok := strings.Cut(kv, "="); ok {
				f[a] = b
			}
		}
		if f["state"] == "online" {
			out = append(out, net.JoinHostPort(f["ip"], f["port"]))
		}
	}
	return out
}
