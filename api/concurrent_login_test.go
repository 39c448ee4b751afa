package api_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/arbor-auth/arbor/internal/app/apptest"
)

// TestConcurrentLoginsOfOneUserFromOneAddress: 32 clients signing in as one user from
// one address, as `arbor bench` does, ten times each, through the REST door, with up
// to five logins in flight at once (the pair's free attempts), are all let in. The
// guessing defence's record of each right password rides with the flow's last write
// and zeroes the (user, address) pair when it lands, so the pair never counts more
// than the logins then in flight. The blind record this replaced swung the pair's
// count past its free attempts and refused some of them (README, Speed, "fourth
// round"). More logins in flight than free attempts is a burst the defence refuses by
// design, however successes are recorded (TestConcurrentBurstGetsOnlyTheFreeAttempts):
// this test keeps under it. On the embedded store and a real redis-server.
func TestConcurrentLoginsOfOneUserFromOneAddress(t *testing.T) {
	const clients, each, inFlight = 32, 10, 5 // inFlight: throttle.Defaults.PairFree
	for _, tc := range apptest.Stores {
		t.Run(tc.Name, func(t *testing.T) {
			a := apptest.New(t, apptest.Options{Args: append([]string{"--demo"}, tc.Args(t)...)})
			h := a.Handler()
			var (
				wg      sync.WaitGroup
				refused atomic.Int32
				first   sync.Once
				slots   = make(chan struct{}, inFlight)
			)
			for range clients {
				wg.Go(func() {
					d := &loginDriver{h: h} // every request from httptest's one address
					for range each {
						slots <- struct{}{}
						code, body := d.tryLogin()
						<-slots
						if code != http.StatusOK {
							refused.Add(1)
							first.Do(func() { t.Errorf("a login refused: %d %s", code, body) })
						}
					}
				})
			}
			wg.Wait()
			if n := refused.Load(); n != 0 {
				t.Errorf("%d of %d concurrent logins of one user from one address refused, want none", n, clients*each)
			}
		})
	}
}

// tryLogin is login that reports the submit's status and body instead of failing.
func (d *loginDriver) tryLogin() (int, []byte) {
	w := d.serve(loginURL, nil)
	raw := w.Body.Bytes()
	start := bytes.Index(raw, loginHead)
	if w.Code != http.StatusOK || start < 0 {
		return w.Code, raw
	}
	id := raw[start+len(loginHead):]
	id = id[:bytes.IndexByte(id, '"')]
	body := append(append(append([]byte(nil), loginHead...), id...), loginTail...)
	w = d.serve(loginURL, body)
	var ok struct{ TokenID string }
	if json.Unmarshal(w.Body.Bytes(), &ok); w.Code == http.StatusOK && ok.TokenID == "" {
		return 0, w.Body.Bytes()
	}
	return w.Code, w.Body.Bytes()
}
