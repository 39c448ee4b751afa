package testredis

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestStartStopRestart(t *testing.T) {
	s := Start(t)
	if err := ping(s.Addr); err != nil {
		t.Fatalf("fresh server does not answer: %v", err)
	}
	if want := "redis://" + s.Addr + "/0"; s.URL() != want {
		t.Errorf("URL() = %q, want %q", s.URL(), want)
	}
	if !strings.HasPrefix(s.Addr, "127.0.0.1:") {
		t.Errorf("Addr = %q, want a loopback address", s.Addr)
	}

	s.Stop()
	if err := ping(s.Addr); err == nil {
		t.Fatal("stopped server still answers PING")
	}
	s.Stop() // stopping twice is harmless

	addr := s.Addr
	s.Restart()
	if s.Addr != addr {
		t.Errorf("Restart moved the server from %s to %s", addr, s.Addr)
	}
	if err := ping(s.Addr); err != nil {
		t.Fatalf("restarted server does not answer: %v", err)
	}
	s.Restart() // restarting a running server works too
	if err := ping(s.Addr); err != nil {
		t.Fatalf("server restarted while running does not answer: %v", err)
	}
}

func TestTwoServersGetDistinctPorts(t *testing.T) {
	a, b := Start(t), Start(t)
	if a.Addr == b.Addr {
		t.Fatalf("two servers share %s", a.Addr)
	}
}

// fakeTB records Skipf and Fatalf instead of stopping the test.
type fakeTB struct {
	testing.TB
	skipped, fatal string
}

func (f *fakeTB) Helper()                           {}
func (f *fakeTB) Skipf(format string, args ...any)  { f.skipped = fmt.Sprintf(format, args...) }
func (f *fakeTB) Fatalf(format string, args ...any) { f.fatal = fmt.Sprintf(format, args...) }

func TestMissingBinary(t *testing.T) {
	t.Setenv("PATH", t.TempDir())

	t.Setenv("CI", "")
	f := &fakeTB{TB: t}
	if s := Start(f); s != nil || f.skipped == "" || f.fatal != "" {
		t.Errorf("without CI: server %v, skipped %q, fatal %q; want a skip", s, f.skipped, f.fatal)
	}

	t.Setenv("CI", "true")
	f = &fakeTB{TB: t}
	if s := Start(f); s != nil || f.fatal == "" || f.skipped != "" {
		t.Errorf("with CI=true: server %v, skipped %q, fatal %q; want a failure", s, f.skipped, f.fatal)
	}
	if !strings.Contains(f.fatal, "redis-server not found: install it with apt-get install redis-server") {
		t.Errorf("CI failure message %q does not say how to install redis-server", f.fatal)
	}
}

func TestPauseResume(t *testing.T) {
	s := Start(t)
	s.Pause()
	if err := ping(s.Addr); err == nil {
		t.Fatal("paused server answers PING")
	}
	s.Resume()
	if err := ping(s.Addr); err != nil {
		t.Fatalf("resumed server does not answer: %v", err)
	}
	s.Pause() // Stop (here through Cleanup) must cope with a paused server
}

func TestCluster(t *testing.T) {
	c := StartCluster(t)
	if len(c.Nodes) != 6 || len(c.Masters(t)) != 3 {
		t.Fatalf("%d nodes, %d masters; want 6 and 3", len(c.Nodes), len(c.Masters(t)))
	}
	m := c.MasterOf(t, "{a}")
	m.Kill()
	c.WaitHealthy(t)
	if again := c.MasterOf(t, "{a}"); again == m || !again.running() {
		t.Fatalf("after killing %s the slot of {a} is served by %s", m.Addr, again.Addr)
	}
}

func TestSentinel(t *testing.T) {
	s := StartSentinel(t)
	m := s.Master(t)
	if m != s.Data[0] {
		t.Fatalf("master %s, want %s", m.Addr, s.Data[0].Addr)
	}
	if !strings.Contains(s.URL(), "master_name="+MasterName) {
		t.Errorf("URL %q names no master", s.URL())
	}
	// Writes made by another client are on the replica once WaitReplicated returns.
	ctx := context.Background()
	mc, rc := m.client(), s.Data[1].client()
	defer mc.Close()
	defer rc.Close()
	pipe := mc.Pipeline()
	for i := range 2000 {
		pipe.Set(ctx, fmt.Sprintf("k%d", i), strings.Repeat("v", 100), 0)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	s.WaitReplicated(t)
	if got, err := rc.Get(ctx, "k1999").Result(); err != nil || len(got) != 100 {
		t.Fatalf("replica after WaitReplicated: k1999 = %q, %v", got, err)
	}
	m.Kill()
	s.WaitPromoted(t, m)
	if s.Master(t) != s.Data[1] {
		t.Fatalf("after the master died, %s is master; want the replica %s", s.Master(t).Addr, s.Data[1].Addr)
	}
}

func TestWaitReplicatedWithoutReplica(t *testing.T) {
	s := Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := waitReplicated(ctx, s.Addr)
	if err == nil || !strings.Contains(err.Error(), "want a master with a replica") {
		t.Fatalf("waitReplicated on a lone server = %v", err)
	}
}
