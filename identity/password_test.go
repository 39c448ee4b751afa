package identity

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"runtime/metrics"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"

	"golang.org/x/crypto/bcrypt"
)

func TestHashAndVerify(t *testing.T) {
	h, err := HashPassword("correct horse", CheapParams)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=8,t=1,p=1$") {
		t.Fatalf("hash %q is not PHC argon2id with the cheap costs", h)
	}
	h2, _ := HashPassword("correct horse", CheapParams)
	if h == h2 {
		t.Error("two hashes of one password are equal: the salt is not random")
	}
	bc, err := bcrypt.GenerateFromPassword([]byte("correct horse"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", 100) // bcrypt uses the first 72 bytes
	bcLong, err := bcrypt.GenerateFromPassword([]byte(long[:72]), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, hash, password string
		want                 bool
	}{
		{"argon2id right", h, "correct horse", true},
		{"argon2id wrong", h, "correct horse ", false},
		{"argon2id empty", h, "", false},
		{"argon2id padded base64", padB64(h), "correct horse", true},
		{"bcrypt 2a right", string(bc), "correct horse", true},
		{"bcrypt 2b right", "$2b$" + string(bc)[4:], "correct horse", true},
		{"bcrypt 2y right", "$2y$" + string(bc)[4:], "correct horse", true},
		{"bcrypt wrong", string(bc), "Correct horse", false},
		{"bcrypt over 72 bytes", string(bcLong), long, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := VerifyPassword(tt.hash, tt.password)
			if err != nil || got != tt.want {
				t.Errorf("VerifyPassword = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

// padB64 adds base64 padding to the salt and key of a PHC hash.
func padB64(h string) string {
	parts := strings.Split(h, "$")
	for _, i := range []int{4, 5} {
		for len(parts[i])%4 != 0 {
			parts[i] += "="
		}
	}
	return strings.Join(parts, "$")
}

func TestVerifyRejectsMalformedHashes(t *testing.T) {
	good, _ := HashPassword("pw", CheapParams)
	parts := strings.Split(good, "$") // "", argon2id, v=19, params, salt, key
	salt, key := parts[4], parts[5]
	bc, _ := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	tests := []struct{ name, hash string }{
		{"empty", ""},
		{"clear text", "pw"},
		{"argon2i", "$argon2i$v=19$m=8,t=1,p=1$" + salt + "$" + key},
		{"scrypt", "$scrypt$ln=16,r=8,p=1$" + salt + "$" + key},
		{"missing field", "$argon2id$v=19$m=8,t=1,p=1$" + salt},
		{"extra field", good + "$x"},
		{"old version", "$argon2id$v=16$m=8,t=1,p=1$" + salt + "$" + key},
		{"no version", "$argon2id$m=8,t=1,p=1$" + salt + "$" + key},
		{"params out of order", "$argon2id$v=19$t=1,m=8,p=1$" + salt + "$" + key},
		{"extra param", "$argon2id$v=19$m=8,t=1,p=1,k=2$" + salt + "$" + key},
		{"zero iterations", "$argon2id$v=19$m=8,t=0,p=1$" + salt + "$" + key},
		{"zero lanes", "$argon2id$v=19$m=8,t=1,p=0$" + salt + "$" + key},
		{"lanes overflow", "$argon2id$v=19$m=8,t=1,p=256$" + salt + "$" + key},
		{"too little memory", "$argon2id$v=19$m=8,t=1,p=2$" + salt + "$" + key},
		{"too much memory", "$argon2id$v=19$m=4194304,t=1,p=1$" + salt + "$" + key},
		{"too many iterations", "$argon2id$v=19$m=8,t=65,p=1$" + salt + "$" + key},
		{"negative memory", "$argon2id$v=19$m=-8,t=1,p=1$" + salt + "$" + key},
		{"bad salt base64", "$argon2id$v=19$m=8,t=1,p=1$!!!!$" + key},
		{"short salt", "$argon2id$v=19$m=8,t=1,p=1$YWJj$" + key},
		{"short key", "$argon2id$v=19$m=8,t=1,p=1$" + salt + "$YWJjZA"},
		{"bcrypt 2x", "$2x$" + string(bc)[4:]},
		{"bcrypt truncated", string(bc)[:59]},
		{"bcrypt bad cost", "$2a$xx$" + string(bc)[7:]},
		{"bcrypt cost too high", "$2a$31$" + string(bc)[7:]},
		{"bcrypt cost too low", "$2a$03$" + string(bc)[7:]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, err := VerifyPassword(tt.hash, "pw")
			if !errors.Is(err, ErrInvalid) || ok {
				t.Errorf("VerifyPassword(%q) = %v, %v; want an error wrapping ErrInvalid", tt.hash, ok, err)
			}
		})
	}
}

func TestHashPasswordRejects(t *testing.T) {
	tests := []struct {
		name     string
		password string
		p        Params
	}{
		{"empty password", "", CheapParams},
		{"zero params", "pw", Params{}},
		{"zero iterations", "pw", Params{MemoryKiB: 64, Parallelism: 1}},
		{"zero lanes", "pw", Params{MemoryKiB: 64, Iterations: 1}},
		{"memory below 8 per lane", "pw", Params{MemoryKiB: 15, Iterations: 1, Parallelism: 2}},
		{"memory above 2 GiB", "pw", Params{MemoryKiB: 2<<20 + 1, Iterations: 1, Parallelism: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if h, err := HashPassword(tt.password, tt.p); !errors.Is(err, ErrInvalid) {
				t.Errorf("HashPassword = %q, %v; want ErrInvalid", h, err)
			}
		})
	}
	for _, p := range []Params{DefaultParams, CheapParams} {
		if err := p.Validate(); err != nil {
			t.Errorf("%v: %v", p, err)
		}
	}
	if got := DefaultParams.String(); got != "m=19456,t=2,p=1" {
		t.Errorf("DefaultParams = %s, want OWASP's m=19456,t=2,p=1", got)
	}
}

func TestNeedsRehash(t *testing.T) {
	p := Params{MemoryKiB: 64, Iterations: 2, Parallelism: 1}
	hash := func(p Params) string {
		h, err := HashPassword("pw", p)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	bc, _ := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	short := "$argon2id$v=19$m=64,t=2,p=1$YWJjZGVmZ2g$" + strings.Repeat("A", 22) // 8-byte salt, 16-byte key
	tests := []struct {
		name string
		hash string
		want bool
	}{
		{"same costs", hash(p), false},
		{"less memory", hash(Params{MemoryKiB: 32, Iterations: 2, Parallelism: 1}), true},
		{"more memory", hash(Params{MemoryKiB: 128, Iterations: 2, Parallelism: 1}), true},
		{"fewer iterations", hash(Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1}), true},
		{"more lanes", hash(Params{MemoryKiB: 64, Iterations: 2, Parallelism: 2}), true},
		{"short salt and key", short, true},
		{"bcrypt", string(bc), true},
		{"malformed", "nope", true},
		{"empty", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NeedsRehash(tt.hash, p); got != tt.want {
				t.Errorf("NeedsRehash = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestHashFromReader(t *testing.T) {
	tests := []struct {
		name    string
		r       io.Reader
		want    string // the password the hash must verify
		wantErr bool
	}{
		{name: "line", r: strings.NewReader("s3cret\n"), want: "s3cret"},
		{name: "crlf", r: strings.NewReader("s3cret\r\n"), want: "s3cret"},
		{name: "no newline", r: strings.NewReader("s3cret"), want: "s3cret"},
		{name: "spaces kept", r: strings.NewReader("  two words \n"), want: "  two words "},
		{name: "first line only", r: strings.NewReader("first\nsecond\n"), want: "first"},
		{name: "one byte at a time", r: iotest.OneByteReader(strings.NewReader("abc\n")), want: "abc"},
		{name: "empty input", r: strings.NewReader(""), wantErr: true},
		{name: "empty line", r: strings.NewReader("\n"), wantErr: true},
		{name: "empty crlf line", r: strings.NewReader("\r\n"), wantErr: true},
		{name: "read error", r: iotest.ErrReader(errors.New("tty gone")), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := HashFromReader(tt.r, CheapParams)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("HashFromReader = %q, want an error", h)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ok, err := VerifyPassword(h, tt.want); !ok || err != nil {
				t.Errorf("hash does not verify %q: %v", tt.want, err)
			}
			if ok, _ := VerifyPassword(h, tt.want+"\n"); ok {
				t.Error("hash verifies the password with its newline")
			}
		})
	}
}

// TestDefaultParamsMemoryIsBounded runs 32 logins at once with the real costs and checks
// that at most NumCPU hashes of 19 MiB ran together, and that the heap stayed far below
// what 32 simultaneous hashes would need.
func TestDefaultParamsMemoryIsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("hashes 33 passwords at full cost")
	}
	ctx := context.Background()
	s := New(newBackend(t), Options{Params: DefaultParams})
	mustCreate(t, s, "/", "alice", "pw")
	runtime.GC()
	base := heapBytes()
	s.maxInFlight.Store(0)

	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if h := heapBytes(); h > peak.Load() {
				peak.Store(h)
			}
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Go(func() {
			user := "alice"
			if i%2 == 1 {
				user = "nobody"
			}
			_, _ = s.Authenticate(ctx, "/", user, "pw")
		})
	}
	wg.Wait()
	close(stop)
	<-sampled

	limit := runtime.NumCPU()
	if m := s.maxInFlight.Load(); m > int32(limit) {
		t.Errorf("%d hashes ran at once, limit %d", m, limit)
	}
	perHash := uint64(DefaultParams.MemoryKiB) << 10
	grew := peak.Load() - min(base, peak.Load())
	t.Logf("NumCPU %d: heap grew by %d MiB at most (one hash is %d MiB; 32 at once would be %d MiB)",
		limit, grew>>20, perHash>>20, 32*perHash>>20)
	// Garbage collection lets the heap reach about twice the live data, so allow that
	// and some slack; unbounded hashing would need 32 * 19 MiB live.
	if bound := 2*uint64(limit)*perHash + 64<<20; grew > bound {
		t.Errorf("heap grew by %d MiB, want at most %d MiB", grew>>20, bound>>20)
	}
}

// heapBytes returns the bytes of heap memory occupied by objects, live or not yet swept.
func heapBytes() uint64 {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(sample)
	return sample[0].Value.Uint64()
}

func BenchmarkAuthenticateCheap(b *testing.B) {
	benchmarkAuthenticate(b, CheapParams)
}

func BenchmarkAuthenticateDefault(b *testing.B) {
	benchmarkAuthenticate(b, DefaultParams)
}

// benchmarkAuthenticate measures successful logins, one after another and from
// parallel goroutines (which the Store's hashing slots then queue).
func benchmarkAuthenticate(b *testing.B, p Params) {
	ctx := context.Background()
	s := New(newBackend(b), Options{Params: p})
	mustCreate(b, s, "/", "alice", "correct horse battery staple")
	for _, user := range []string{"alice", "nobody"} {
		b.Run(fmt.Sprintf("user=%s", user), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, err := s.Authenticate(ctx, "/", user, "correct horse battery staple")
				if (user == "alice") != (err == nil) {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.Authenticate(ctx, "/", "alice", "correct horse battery staple"); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// TestSplitExact checks splitExact against strings.Split: the same fields when there are
// exactly as many as asked for, false otherwise.
func TestSplitExact(t *testing.T) {
	for _, tc := range []struct {
		s, sep string
		n      int
	}{
		{"$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$a2V5", "$", 6},
		{"$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ", "$", 6},
		{"$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$a2V5$", "$", 6},
		{"$$$$$", "$", 6},
		{"", "$", 6},
		{"m=8,t=1,p=1", ",", 3},
		{"m=8,t=1", ",", 3},
		{"m=8,t=1,p=1,", ",", 3},
		{"abc", ",", 1},
		{"a,c", ",", 1},
	} {
		out := make([]string, tc.n)
		ok := splitExact(tc.s, tc.sep, out)
		want := strings.Split(tc.s, tc.sep)
		if ok != (len(want) == tc.n) {
			t.Errorf("splitExact(%q, %q, %d) = %v, strings.Split gives %d fields", tc.s, tc.sep, tc.n, ok, len(want))
			continue
		}
		if ok && !slices.Equal(out, want) {
			t.Errorf("splitExact(%q, %q, %d) = %q, want %q", tc.s, tc.sep, tc.n, out, want)
		}
	}
}
