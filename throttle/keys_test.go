package throttle

import (
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"strconv"
	"testing"
)

// oldID is how a scope's id was written before its keys were cut from one string: the
// keys name counters already in the store, so they must not change.
func oldID(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(strconv.Itoa(len(p)) + ":" + p))
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// TestScopeKeysKeepTheirNames: every key of every scope is what it was when each was
// built on its own, for IPv4 and IPv6 clients, no client address, long and mixed-case
// usernames, and windows on either side of a power of ten.
func TestScopeKeysKeepTheirNames(t *testing.T) {
	th := &Throttle{cfg: Config{}.withDefaults()}
	long := string(make([]byte, 300)) // past appendID's stack buffer
	for _, tc := range []struct {
		realm, user, ip, addr string
		w                     int64
	}{
		{"/", "demo", "127.0.0.1", "127.0.0.1", 2_000_000},
		{"/", "Alice", "::ffff:10.0.0.1", "10.0.0.1", 1000},
		{"/alpha", "bob", "2001:db8::1", "2001:db8::/64", 999},
		{"/", "carol", "", "", 1},
		{"/", long, "192.0.2.7", "192.0.2.7", 0},
	} {
		sc := th.scopes(tc.realm, tc.user, tc.ip, tc.w)
		u := tc.user
		if u == "Alice" {
			u = "alice"
		}
		ids := []string{oldID("a", tc.addr), oldID("p", tc.realm, u, tc.addr), oldID("u", tc.realm, u)}
		for i, s := range sc {
			pre := "throttle:{" + ids[i] + "}"
			want := []string{ids[i], pre + ":until", pre + ":n:" + strconv.FormatInt(tc.w, 10), pre + ":n:" + strconv.FormatInt(tc.w-1, 10), pre + ":known"}
			got := []string{s.id, s.until, s.count, s.prev, s.known}
			for k := range want {
				if got[k] != want[k] {
					t.Errorf("%+v scope %s: key %d = %q, want %q", tc, s.kind, k, got[k], want[k])
				}
			}
		}
		if off := tc.addr == ""; sc[0].off != off {
			t.Errorf("%+v: address scope off = %v, want %v", tc, sc[0].off, off)
		}
	}
}

// TestAddressOfIPv4IsItsOwnString: an IPv4 address is counted as written, which is its
// canonical form (netip refuses any other spelling), without formatting it again.
func TestAddressOfIPv4IsItsOwnString(t *testing.T) {
	for _, ip := range []string{"127.0.0.1", "0.0.0.0", "255.255.255.255", "10.20.30.40"} {
		if got, want := addressOf(ip), netip.MustParseAddr(ip).String(); got != want {
			t.Errorf("addressOf(%q) = %q, want %q", ip, got, want)
		}
	}
	for _, ip := range []string{"010.0.0.1", "1.2.3", "::ffff:1.2.3.4"} {
		if got := addressOf(ip); ip == "::ffff:1.2.3.4" && got != "1.2.3.4" || ip != "::ffff:1.2.3.4" && got != ip {
			t.Errorf("addressOf(%q) = %q", ip, got)
		}
	}
}
