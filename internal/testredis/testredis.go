// Package testredis starts a real, throwaway redis-server for tests.
//
// Start launches the redis-server binary found on PATH on a free loopback port, with
// persistence switched off, waits until it answers PING and stops it when the test
// ends. Tests that need Redis therefore run against the real server, never a mock.
//
// StartCluster and StartSentinel start the other two topologies Arbor supports, a
// Redis Cluster of three masters with a replica each and a Sentinel set, with short
// failure timeouts so that tests can kill a master and watch the failover. A package
// whose tests share one of them calls SharedCluster or SharedSentinel and runs its
// tests through Main, which stops them at the end.
//
// When redis-server is not installed, Start skips the test, except when the CI
// environment variable is true: there a missing server is a broken build, so Start
// fails the test with instructions instead.
package testredis

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Binary is the name of the server executable looked up on PATH.
const Binary = "redis-server"

// startTimeout bounds how long a freshly started server may take to answer PING.
const startTimeout = 10 * time.Second

// stopTimeout bounds how long a server may take to exit after SIGTERM before it is killed.
const stopTimeout = 5 * time.Second

// Server is a running redis-server owned by one test. Its methods are safe for
// concurrent use.
type Server struct {
	// Addr is the server's "127.0.0.1:port" address. It stays the same across Restart.
	Addr string
	// Socket is the path of the Unix socket that a server from Start also listens
	// on (empty for the nodes of a Cluster or Sentinel set). It stays the same across
	// Restart.
	Socket string

	tb   testing.TB
	bin  string
	port int
	dir  string
	// args returns the redis-server arguments for port; nil means a plain server.
	args func(port int) []string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
	log  *lockedBuffer
}

// Start starts a redis-server on a free loopback port and returns it once it answers
// PING. The server is stopped when the test and its subtests finish. If redis-server
// is not on PATH, Start skips the test, or fails it when the environment variable CI
// is true.
func Start(tb testing.TB) *Server {
	tb.Helper()
	bin := lookPath(tb, Binary)
	if bin == "" {
		return nil
	}
	s := &Server{tb: tb, bin: bin, dir: tb.TempDir()}
	// A socket path must fit in 108 bytes, which a test's TempDir under a long test
	// name may not leave room for, so the socket gets a short directory of its own.
	sockDir, err := os.MkdirTemp("", "redis")
	if err != nil {
		tb.Fatalf("testredis: socket directory: %v", err)
		return nil
	}
	tb.Cleanup(func() { _ = os.RemoveAll(sockDir) })
	s.Socket = filepath.Join(sockDir, "redis.sock")
	tb.Cleanup(s.Stop)
	if err := s.startOnFreePort(); err != nil {
		tb.Fatalf("testredis: start redis-server: %v", err)
		return nil
	}
	return s
}

// lookPath finds a Redis executable on PATH. When it is missing it skips tb, or fails
// it when the environment variable CI is true, and returns "".
func lookPath(tb testing.TB, name string) string {
	tb.Helper()
	bin, err := exec.LookPath(name)
	if err != nil {
		if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
			tb.Fatalf("testredis: %s not found: install it with apt-get install redis-server (%v)", name, err)
			return ""
		}
		tb.Skipf("testredis: %s not found on PATH, skipping (install it with apt-get install redis-server): %v", name, err)
		return ""
	}
	return bin
}

// startOnFreePort starts the server on a free loopback port.
func (s *Server) startOnFreePort() error {

	// A free port found by listening on :0 may be taken again before redis-server binds
	// it, so try a few ports before giving up.
	var lastErr error
	for range 5 {
		port, err := freePort()
		if err != nil {
			return fmt.Errorf("find a free port: %w", err)
		}
		s.port = port
		s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		if lastErr = s.start(); lastErr == nil {
			return nil
		}
	}
	return lastErr
}

// URL returns the server's address as a Redis URL for database 0,
// "redis://127.0.0.1:port/0".
func (s *Server) URL() string {
	return "redis://" + s.Addr + "/0"
}

// SocketURL returns the server's Unix socket as a Redis URL for database 0,
// "unix:///path/redis.sock?db=0".
func (s *Server) SocketURL() string {
	return "unix://" + s.Socket + "?db=0"
}

// Stop stops the server and waits for it to exit. Stopping a stopped server does
// nothing. Clients see connection errors until Restart.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked()
}

// Restart stops the server if it is running and starts it again on the same port. The
// data set starts empty, since persistence is off. It fails the test if the server
// does not come back.
func (s *Server) Restart() {
	s.tb.Helper()
	s.mu.Lock()
	s.stopLocked()
	s.mu.Unlock()
	// The port was just released; on a busy machine another process may grab it, which
	// is rare enough to only retry briefly.
	var err error
	for range 10 {
		if err = s.start(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.tb.Fatalf("testredis: restart redis-server on %s: %v", s.Addr, err)
}

// Kill kills the server with SIGKILL, like a crash or a power loss: it writes
// nothing and closes every connection at once. Restart brings it back.
func (s *Server) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.done
	s.cmd, s.done = nil, nil
}

// Pause freezes the server with SIGSTOP: it keeps accepting TCP connections but
// answers nothing, like a hung or overloaded server. Clients see timeouts until
// Resume. Commands sent meanwhile run after Resume.
func (s *Server) Pause() {
	s.tb.Helper()
	s.signal(sigStop, "pause")
}

// Resume undoes Pause.
func (s *Server) Resume() {
	s.tb.Helper()
	s.signal(sigCont, "resume")
}

// signal sends sig to the running server, failing the test if it is not running.
func (s *Server) signal(sig os.Signal, what string) {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		s.tb.Fatalf("testredis: %s: server on %s is not running", what, s.Addr)
		return
	}
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.tb.Fatalf("testredis: %s server on %s: %v", what, s.Addr, err)
	}
}

// start launches redis-server on s.port and waits for PING.
func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return errors.New("server already running")
	}
	args := []string{
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--daemonize", "no",
		"--dir", s.dir,
		"--logfile", "",
	}
	if s.Socket != "" {
		args = append(args, "--unixsocket", s.Socket, "--unixsocketperm", "700")
	}
	if s.args != nil {
		args = s.args(s.port)
	}
	cmd := exec.Command(s.bin, args...)
	log := &lockedBuffer{}
	cmd.Stdout = log
	cmd.Stderr = log
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("exec %s: %w", s.bin, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	s.cmd, s.done, s.log = cmd, done, log

	deadline := time.Now().Add(startTimeout)
	for {
		err := ping(s.Addr)
		if err == nil {
			return nil
		}
		select {
		case <-done:
			s.cmd, s.done = nil, nil
			return fmt.Errorf("redis-server on port %d exited during startup: %s", s.port, log.tail())
		default:
		}
		if time.Now().After(deadline) {
			s.stopLocked()
			return fmt.Errorf("redis-server on port %d did not answer PING within %v: %w; log: %s",
				s.port, startTimeout, err, log.tail())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stopLocked terminates the running server, if any. s.mu must be held.
func (s *Server) stopLocked() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(sigTerm)
	_ = s.cmd.Process.Signal(sigCont) // a paused server must run to exit
	select {
	case <-s.done:
	case <-time.After(stopTimeout):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	s.cmd, s.done = nil, nil
}

// ping sends PING over a raw connection and checks for +PONG, so that this package
// does not depend on a Redis client.
func ping(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return fmt.Errorf("dial %s: %w", addr, err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(time.Second)); err != nil {
		return fmt.Errorf("set deadline: %w", err)
	}
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return fmt.Errorf("write PING: %w", err)
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return fmt.Errorf("read PING reply: %w", err)
	}
	if line != "+PONG\r\n" {
		return fmt.Errorf("unexpected PING reply %q", line)
	}
	return nil
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("listen on 127.0.0.1:0: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// lockedBuffer collects the server's output for error messages.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p to the buffer.
func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// tail returns the last 2 KiB of output.
func (b *lockedBuffer) tail() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := b.buf.Bytes()
	if len(out) > 2048 {
		out = out[len(out)-2048:]
	}
	return string(out)
}
