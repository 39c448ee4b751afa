package identity

import (
	"context"
	"fmt"
	"time"
)

// Every password verification a Store makes takes as long as one with the Store's own
// costs. An unknown user is verified against a dummy hash with those costs, but a known
// user's stored hash may have other, older costs (a bcrypt import, or costs the operator
// has since raised): verifying it takes another time, and that difference told an
// attacker which usernames exist (0.65 ms against 26 ms). So each verification is
// padded with a sleep up to a target: the time a verification with the configured costs
// takes, tracked from the real ones (the dummy's included) as TCP tracks round-trip
// times (RFC 6298): a moving average plus four times the moving mean deviation (at
// least an eighth of the average, at most the average), so the target sits above nearly
// every verification on a noisy machine, and only just above on a quiet one. A verification finishing before the target waits for it,
// whatever it hashed, so unknown users, wrong passwords and old hashes all end at the
// same moment after they start. Only a stored hash dearer than the configured costs
// still takes longer; it is rehashed to the configured costs at the user's next
// successful login.
//
// Options.VerifyTime replaces the tracked target with a fixed one.
//
// The padding sleeps after the hashing slot is released, so it costs no CPU and does
// not hold back other logins.

// Weights of a new measurement in the moving average (1/8) and mean deviation (1/4),
// and the least margin above the average (1/8 of it), as shifts.
const (
	avgShift    = 3
	devShift    = 2
	marginShift = 3
)

// calibrate measures one verification with the configured costs, so the target is
// right from the first login on.
func (s *Store) calibrate() {
	start := time.Now()
	s.dummy.verify("calibration")
	took := int64(time.Since(start))
	s.verifyAvg.Store(took)
	s.verifyDev.Store(took / 2)
}

// observe adds the duration of a verification with the configured costs to the moving
// average and deviation. Concurrent callers may lose an update; the estimate does not
// need them all.
func (s *Store) observe(took time.Duration) {
	avg, dev := s.verifyAvg.Load(), s.verifyDev.Load()
	d := int64(took) - avg
	s.verifyAvg.Store(avg + d>>avgShift)
	if d < 0 {
		d = -d
	}
	s.verifyDev.Store(dev + (d-dev)>>devShift)
}

// verifyTarget is how long every verification takes, at least.
func (s *Store) verifyTarget() time.Duration {
	if s.verifyFixed > 0 {
		return s.verifyFixed
	}
	avg, dev := s.verifyAvg.Load(), s.verifyDev.Load()
	// The margin is capped at the average itself, so a noisy spell cannot make every
	// login wait much longer than twice what hashing takes.
	return time.Duration(avg + min(max(4*dev, avg>>marginShift), avg))
}

// WaitVerifyTime waits as long as a password verification takes, without verifying
// anything. A node that refuses to check a password (because guessing is being
// throttled) calls it, so a refusal takes as long as a wrong password and the answer
// does not tell them apart. It returns early, with an error, when ctx ends.
func (s *Store) WaitVerifyTime(ctx context.Context) error {
	return sleepUntil(ctx, time.Now().Add(s.verifyTarget()))
}

// sleepUntil waits until t or until ctx ends, whichever is first.
func sleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("identity: wait out the verification time: %w", ctx.Err())
	}
}
