// Package radius is Arbor's RADIUS door: VPN gateways, firewalls and other network
// gear authenticate users over RADIUS (RFC 2865, PAP) through the same journeys, push,
// throttling, lockout and audit as the REST and browser doors. It is a thin adapter:
// an Access-Request starts the client's journey with User-Name and User-Password
// filling its credential callbacks; a step that needs more becomes an Access-Challenge
// whose Reply-Message is the step's prompt and whose State names the flow; a push wait
// is held (the answer waits until the device answers); the journey's end is an
// Access-Accept, with the reply attributes configured for the client, or an
// Access-Reject. The journey decides what is asked; the door never checks a secret.
//
// Packets are parsed and encoded by layeh.com/radius. The door adds what the library
// leaves to servers: the Message-Authenticator (RFC 3579; required on every request by
// default and sent first in every reply, the BlastRADIUS mitigation), duplicate
// detection (RFC 5080: a retransmission gets the first answer again and never runs a
// step twice), clients matched by source network, and signed States bound to the
// client and the user. A request from an unknown address, with a wrong secret, a bad
// or missing Message-Authenticator, or that does not parse gets no answer; it is
// counted (arbor_radius_requests_total) and logged.
//
// Push over RADIUS: a step offering push (a hidden value pushOffered, sent by
// otp_or_push_collector) is asked with a Reply-Message starting with "+", FortiGate's
// sign that push is offered. With number matching, the number to tap is sent in an
// Access-Challenge before the wait (the user must see it, and a held request cannot
// show anything); the next Access-Request, blank, is held while the push waits. A push
// without number matching (tap) is held at once.
package radius

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime/debug"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"layeh.com/radius"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/door"
	"github.com/arbor-auth/arbor/identity"
	"github.com/arbor-auth/arbor/keys"
)

// Audit event types the door writes, with the client's name, its address, the user's
// Calling-Station-Id and (for refusals) the reason in Details. The journey's own
// events (login.success, push.sent, ...) are written by the engine and the nodes.
const (
	EventAccept  = "radius.accept"
	EventReject  = "radius.reject"
	EventDropped = "radius.dropped"
)

// Deps are the services the door uses.
type Deps struct {
	// Core runs the journeys under the door core's rules.
	Core *door.Core
	// Users supplies the user attributes reply attributes are read from.
	Users *identity.Store
	// Keys signs States.
	Keys *keys.Ring
	// Audit receives the door's events (nil: none).
	Audit *audit.Logger
	// Log is the logger (default slog.Default()).
	Log *slog.Logger
	// Metrics registers the door's counters (nil: none).
	Metrics prometheus.Registerer
	// Getenv reads secret_env (default os.Getenv through the caller).
	Getenv func(string) string
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Wait sleeps d or until ctx ends, between two looks at a held push (default: a
	// timer). Tests may shorten it.
	Wait func(ctx context.Context, d time.Duration) error
}

// Server is the RADIUS door.
type Server struct {
	cfg       Config
	clients   []*client
	flows     flows
	users     *identity.Store
	states    stateCodec
	audit     *audit.Logger
	log       *slog.Logger
	metrics   *metrics
	now       func() time.Time
	wait      func(ctx context.Context, d time.Duration) error
	dedup     *dedup
	requireMA bool

	mu     sync.Mutex
	conns  []net.PacketConn
	wg     sync.WaitGroup
	cancel context.CancelFunc
	ctx    context.Context
}

// maxInFlight bounds requests answered at once per server (held pushes included).
const maxInFlight = 4096

// New checks cfg and returns a Server; Serve or ListenAndServe starts it.
func New(cfg Config, d Deps) (*Server, error) {
	getenv := d.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	clients, err := cfg.resolve(getenv)
	if err != nil {
		return nil, err
	}
	if d.Core == nil || d.Keys == nil {
		return nil, errors.New("radius: the door core and keys are required")
	}
	if cfg.MaxHold == 0 {
		cfg.MaxHold = 2 * time.Minute
	}
	if cfg.DuplicateWindow == 0 {
		cfg.DuplicateWindow = 30 * time.Second
	}
	s := &Server{
		cfg: cfg, clients: clients, flows: d.Core, users: d.Users,
		states: stateCodec{signer: d.Keys.Signer(keys.PurposeRADIUSState)},
		audit:  d.Audit, log: d.Log, now: d.Now, wait: d.Wait,
		requireMA: cfg.RequireMessageAuthenticator == nil || *cfg.RequireMessageAuthenticator,
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.log = s.log.With("door", "radius")
	if s.now == nil {
		s.now = time.Now
	}
	if s.wait == nil {
		s.wait = sleep
	}
	s.dedup = newDedup(cfg.DuplicateWindow, 65536, s.now)
	s.metrics = newMetrics(d.Metrics)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Addr is the configured listen address.
func (s *Server) Addr() string { return s.cfg.Listen }

// ListenAndServe listens on the configured UDP address and serves until Shutdown.
func (s *Server) ListenAndServe() error {
	pc, err := net.ListenPacket("udp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("radius: listen %s: %w", s.cfg.Listen, err)
	}
	return s.Serve(pc)
}

// Serve answers requests arriving on pc until Shutdown, and closes pc. Each request is
// answered in its own goroutine (a held push must not stop the others), at most
// maxInFlight at once; beyond that, requests are dropped and the clients retry.
func (s *Server) Serve(pc net.PacketConn) error {
	s.mu.Lock()
	if s.ctx.Err() != nil {
		s.mu.Unlock()
		pc.Close()
		return errors.New("radius: server is shut down")
	}
	s.conns = append(s.conns, pc)
	s.mu.Unlock()
	s.log.Info("RADIUS door listening", "addr", pc.LocalAddr().String(), "clients", len(s.clients))
	sem := make(chan struct{}, maxInFlight)
	buf := make([]byte, radius.MaxPacketLength+1)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			if s.ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("radius: read: %w", err)
		}
		ua, ok := from.(*net.UDPAddr)
		if !ok {
			continue
		}
		raw := append([]byte(nil), buf[:n]...)
		select {
		case sem <- struct{}{}:
		default:
			s.metrics.request("", outcomeOverloaded)
			continue
		}
		s.wg.Add(1)
		go func(addr netip.AddrPort) {
			defer s.wg.Done()
			defer func() { <-sem }()
			if reply := s.Handle(s.ctx, raw, addr); reply != nil {
				if _, err := pc.WriteTo(reply, net.UDPAddrFromAddrPort(addr)); err != nil {
					s.log.Warn("RADIUS reply not sent", "to", addr.String(), "err", err)
				}
			}
		}(ua.AddrPort())
	}
}

// Shutdown stops reading, cancels held requests and waits for the others to finish or
// ctx to end.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.cancel()
	for _, c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Handle answers one datagram from addr: it returns the reply to send, or nil for no
// answer. It never panics on any input (fuzzed), and a retransmission gets the first
// answer again.
func (s *Server) Handle(ctx context.Context, raw []byte, from netip.AddrPort) (reply []byte) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("RADIUS request crashed its handler; dropped", "panic", r, "stack", string(debug.Stack()))
			s.metrics.request("", outcomeError)
			reply = nil
		}
	}()
	cl := clientFor(s.clients, from.Addr())
	if cl == nil {
		s.drop(ctx, nil, from, "unknown_client", "request from an address no client is configured for")
		return nil
	}
	if len(raw) < 20 || len(raw) > radius.MaxPacketLength {
		s.drop(ctx, cl, from, "malformed", "packet of a bad length")
		return nil
	}
	if radius.Code(raw[0]) != radius.CodeAccessRequest {
		s.drop(ctx, cl, from, "unsupported", fmt.Sprintf("packet code %d is not Access-Request", raw[0]))
		return nil
	}
	p, err := radius.Parse(raw, cl.secret)
	if err != nil {
		s.drop(ctx, cl, from, "malformed", err.Error())
		return nil
	}
	switch err := verifyMessageAuthenticator(p); {
	case errors.Is(err, errNoMessageAuthenticator):
		if s.requireMA {
			s.drop(ctx, cl, from, "no_message_authenticator", "Access-Request without Message-Authenticator (required)")
			return nil
		}
	case err != nil:
		s.drop(ctx, cl, from, "bad_authenticator", err.Error())
		return nil
	}
	key := dupKey{client: cl.name, from: from, id: p.Identifier, auth: p.Authenticator}
	first, cached := s.dedup.begin(key)
	if !first {
		s.metrics.request(cl.name, outcomeDuplicate)
		return cached
	}
	defer func() { s.dedup.finish(key, reply) }()
	q := s.answer(ctx, cl, from, p)
	if q == nil {
		return nil
	}
	b, err := encodeReply(q)
	if err != nil {
		s.log.Error("RADIUS reply could not be encoded; dropped", "client", cl.name, "err", err)
		s.metrics.request(cl.name, outcomeError)
		return nil
	}
	return b
}

// drop counts and logs a request that gets no answer.
func (s *Server) drop(ctx context.Context, cl *client, from netip.AddrPort, reason, detail string) {
	name := ""
	if cl != nil {
		name = cl.name
	}
	s.metrics.request(name, "dropped_"+reason)
	s.log.Warn("RADIUS request dropped", "client", name, "from", from.String(), "reason", reason, "detail", detail)
	s.audit.Emit(ctx, audit.Event{Type: EventDropped, Client: from.Addr().String(), Reason: reason,
		Details: map[string]any{"radius_client": name, "detail": detail}})
}
