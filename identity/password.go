package identity

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Password hashes are stored in the PHC string format for argon2id,
//
//	$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>
//
// with the salt and hash in unpadded standard base64. Hashes in the modular crypt
// format of bcrypt ($2a$, $2b$, $2y$) are verified too, so that users imported from
// other systems can log in; they are replaced by argon2id on their next successful
// login.

// DefaultParams are the argon2id costs Arbor hashes new passwords with: the OWASP
// Password Storage Cheat Sheet's first recommendation (19 MiB, 2 passes, 1 lane).
var DefaultParams = Params{MemoryKiB: 19 * 1024, Iterations: 2, Parallelism: 1}

// CheapParams are the smallest argon2id costs the algorithm allows. They are for tests
// and benchmarks only: a hash made with them offers almost no protection against
// offline guessing, and a Store configured with them would even rehash stronger hashes
// down to them as users log in (see NeedsRehash).
var CheapParams = Params{MemoryKiB: 8, Iterations: 1, Parallelism: 1}

// Bounds on the argon2id parameters and sizes accepted in a hash or in Params. They
// keep a hostile or garbled hash (in an imported users file, say) from making one
// verification allocate gigabytes or run for hours; RFC 9106's most expensive
// recommendation (2 GiB, 1 pass, 4 lanes) is still inside them.
const (
	maxMemoryKiB  = 2 << 20 // 2 GiB
	maxIterations = 64
	minSaltLen    = 8
	maxSaltLen    = 64
	minKeyLen     = 16
	maxKeyLen     = 128
	// maxBcryptCost bounds imported bcrypt hashes: cost 16 already takes seconds.
	maxBcryptCost = 16
)

// Lengths of the salt and derived key in hashes Arbor creates.
const (
	saltLen = 16
	keyLen  = 32
)

// errMalformedHash is wrapped by every hash parsing error; it matches ErrInvalid.
var errMalformedHash = &invalidError{errors.New("malformed password hash")}

// bcryptRE matches a bcrypt hash in the modular crypt format: version, two-digit cost,
// then 22 characters of salt and 31 of hash in bcrypt's own base64 alphabet.
var bcryptRE = regexp.MustCompile(`^\$2[aby]\$[0-9]{2}\$[./A-Za-z0-9]{53}$`)

// Validate reports whether p can be used to hash passwords: at least one iteration and
// one lane, at least 8 KiB of memory per lane, and no more than 2 GiB of memory or 64
// iterations.
func (p Params) Validate() error {
	switch {
	case p.Iterations < 1 || p.Iterations > maxIterations:
		return invalidf("argon2id iterations %d out of range 1..%d", p.Iterations, maxIterations)
	case p.Parallelism < 1:
		return invalidf("argon2id parallelism must be at least 1")
	case p.MemoryKiB < 8*uint32(p.Parallelism) || p.MemoryKiB > maxMemoryKiB:
		return invalidf("argon2id memory %d KiB out of range %d..%d", p.MemoryKiB, 8*uint32(p.Parallelism), maxMemoryKiB)
	}
	return nil
}

// String returns p in the PHC parameter form, "m=19456,t=2,p=1".
func (p Params) String() string {
	return fmt.Sprintf("m=%d,t=%d,p=%d", p.MemoryKiB, p.Iterations, p.Parallelism)
}

// HashPassword returns the argon2id hash of password with cost p and a fresh random
// salt, in PHC string format. It refuses an empty password and invalid Params. It runs
// at once, unbounded: services hashing on behalf of many callers go through a Store,
// whose methods bound how many hashes run at the same time.
func HashPassword(password string, p Params) (string, error) {
	if password == "" {
		return "", fmt.Errorf("identity: hash password: %w", invalidf("empty password"))
	}
	if err := p.Validate(); err != nil {
		return "", fmt.Errorf("identity: hash password: %w", err)
	}
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("identity: hash password: read salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, p.Iterations, p.MemoryKiB, p.Parallelism, keyLen)
	return encodeArgon2id(p, salt, key), nil
}

// VerifyPassword reports whether password matches encoded, an argon2id (PHC) or bcrypt
// hash. The comparison takes constant time. A mismatch is (false, nil); a hash that
// cannot be parsed, or whose costs are out of bounds, is an error wrapping ErrInvalid.
func VerifyPassword(encoded, password string) (bool, error) {
	h, err := parseHash(encoded)
	if err != nil {
		return false, fmt.Errorf("identity: verify password: %w", err)
	}
	return h.verify(password), nil
}

// NeedsRehash reports whether encoded should be replaced by a fresh hash made with p:
// it is not argon2id (bcrypt, say), it cannot be parsed, its salt or key is shorter than
// Arbor's, or its memory, iterations or parallelism differ from p. Differences in
// either direction count, so that operators can move the costs both ways.
func NeedsRehash(encoded string, p Params) bool {
	h, err := parseHash(encoded)
	return err != nil || h.needsRehash(p)
}

// needsRehash is NeedsRehash for a hash that parsed.
func (h *parsedHash) needsRehash(p Params) bool {
	return h.kind != kindArgon2id || h.params != p || len(h.salt) < saltLen || len(h.key) < keyLen
}

// HashFromReader reads one password, the first line of r without its line ending, and
// returns its argon2id hash made with p. It backs "arbor users hash", which reads the
// password from standard input so it never appears in the shell history or the process
// list. An empty line or empty input is an error.
func HashFromReader(r io.Reader, p Params) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("identity: read password: %w", err)
	}
	line = strings.TrimSuffix(line, "\n")
	line = strings.TrimSuffix(line, "\r")
	if line == "" {
		return "", fmt.Errorf("identity: read password: %w", invalidf("empty password"))
	}
	return HashPassword(line, p)
}

// hashKind tells the supported hash algorithms apart.
type hashKind int

const (
	kindArgon2id hashKind = iota + 1
	kindBcrypt
)

// parsedHash is a password hash taken apart.
type parsedHash struct {
	kind    hashKind
	encoded string // the whole hash, for bcrypt
	params  Params // argon2id only
	salt    []byte // argon2id only
	key     []byte // argon2id only
}

// parseHash recognises and checks an argon2id or bcrypt hash. It does no hashing, so it
// is cheap enough to validate every hash in an import before writing anything.
func parseHash(encoded string) (*parsedHash, error) {
	switch {
	case strings.HasPrefix(encoded, "$argon2id$"):
		return parseArgon2id(encoded)
	case strings.HasPrefix(encoded, "$2a$"), strings.HasPrefix(encoded, "$2b$"), strings.HasPrefix(encoded, "$2y$"):
		return parseBcrypt(encoded)
	case encoded == "":
		return nil, fmt.Errorf("%w: empty", errMalformedHash)
	default:
		return nil, fmt.Errorf("%w: unknown algorithm (want $argon2id$ or bcrypt $2a$, $2b$, $2y$)", errMalformedHash)
	}
}

// parseArgon2id parses "$argon2id$v=19$m=M,t=T,p=P$salt$key".
func parseArgon2id(encoded string) (*parsedHash, error) {
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, key
	var parts [6]string
	if !splitExact(encoded, "$", parts[:]) {
		return nil, fmt.Errorf("%w: argon2id hash must have 5 $-separated fields", errMalformedHash)
	}
	if parts[2] != "v=19" {
		return nil, fmt.Errorf("%w: unsupported argon2id version %q (want v=19)", errMalformedHash, parts[2])
	}
	p, err := parseArgon2Params(parts[3])
	if err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", errMalformedHash, err)
	}
	salt, err := decodeB64(parts[4])
	if err != nil {
		return nil, fmt.Errorf("%w: argon2id salt: %v", errMalformedHash, err)
	}
	if len(salt) < minSaltLen || len(salt) > maxSaltLen {
		return nil, fmt.Errorf("%w: argon2id salt is %d bytes, want %d..%d", errMalformedHash, len(salt), minSaltLen, maxSaltLen)
	}
	key, err := decodeB64(parts[5])
	if err != nil {
		return nil, fmt.Errorf("%w: argon2id hash: %v", errMalformedHash, err)
	}
	if len(key) < minKeyLen || len(key) > maxKeyLen {
		return nil, fmt.Errorf("%w: argon2id hash is %d bytes, want %d..%d", errMalformedHash, len(key), minKeyLen, maxKeyLen)
	}
	return &parsedHash{kind: kindArgon2id, encoded: encoded, params: p, salt: salt, key: key}, nil
}

// splitExact splits s around sep into out, and reports whether s has exactly len(out)
// fields. It is strings.Split into a caller's array: a stored hash is parsed on every
// login, and Split allocates its result.
func splitExact(s, sep string, out []string) bool {
	for i := range out {
		if i == len(out)-1 {
			out[i] = s
			return !strings.Contains(s, sep)
		}
		var found bool
		if out[i], s, found = strings.Cut(s, sep); !found {
			return false
		}
	}
	return false
}

// parseArgon2Params parses "m=M,t=T,p=P", in that order as the PHC format requires.
func parseArgon2Params(s string) (Params, error) {
	var fields [3]string
	if !splitExact(s, ",", fields[:]) {
		return Params{}, fmt.Errorf("%w: argon2id parameters %q: want m=<KiB>,t=<passes>,p=<lanes>", errMalformedHash, s)
	}
	var vals [3]uint64
	for i, name := range []string{"m", "t", "p"} {
		v, ok := strings.CutPrefix(fields[i], name+"=")
		if !ok {
			return Params{}, fmt.Errorf("%w: argon2id parameters %q: want m=<KiB>,t=<passes>,p=<lanes>", errMalformedHash, s)
		}
		bits := 32
		if name == "p" {
			bits = 8
		}
		n, err := strconv.ParseUint(v, 10, bits)
		if err != nil {
			return Params{}, fmt.Errorf("%w: argon2id parameter %s=%q is not a number in range", errMalformedHash, name, v)
		}
		vals[i] = n
	}
	return Params{MemoryKiB: uint32(vals[0]), Iterations: uint32(vals[1]), Parallelism: uint8(vals[2])}, nil
}

// decodeB64 decodes unpadded standard base64, tolerating padding that some other
// implementations write.
func decodeB64(s string) ([]byte, error) {
	return base64.RawStdEncoding.Strict().DecodeString(strings.TrimRight(s, "="))
}

// parseBcrypt checks the shape and cost of a bcrypt hash.
func parseBcrypt(encoded string) (*parsedHash, error) {
	if !bcryptRE.MatchString(encoded) {
		return nil, fmt.Errorf("%w: bcrypt hash must be $2a$, $2b$ or $2y$, a two-digit cost and 53 characters", errMalformedHash)
	}
	cost, err := bcrypt.Cost([]byte(encoded))
	if err != nil {
		return nil, fmt.Errorf("%w: bcrypt: %v", errMalformedHash, err)
	}
	if cost > maxBcryptCost {
		return nil, fmt.Errorf("%w: bcrypt cost %d above the accepted maximum %d", errMalformedHash, cost, maxBcryptCost)
	}
	return &parsedHash{kind: kindBcrypt, encoded: encoded}, nil
}

// verify hashes password the way h was made and compares in constant time.
func (h *parsedHash) verify(password string) bool {
	switch h.kind {
	case kindArgon2id:
		got := argon2.IDKey([]byte(password), h.salt, h.params.Iterations, h.params.MemoryKiB, h.params.Parallelism, uint32(len(h.key)))
		return subtle.ConstantTimeCompare(got, h.key) == 1
	case kindBcrypt:
		return bcrypt.CompareHashAndPassword([]byte(h.encoded), []byte(password)) == nil
	}
	return false
}

// encodeArgon2id formats an argon2id hash in PHC string format.
func encodeArgon2id(p Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=19$%s$%s$%s", p,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// dummyHash returns a well-formed argon2id hash with cost p that no password matches
// (its key is random, not derived). Verifying a password against it costs exactly what
// verifying against a real hash with cost p does, which is how Authenticate makes an
// unknown user take as long as a wrong password. It is cheap to make: nothing is hashed.
func dummyHash(p Params) string {
	b := make([]byte, saltLen+keyLen)
	rand.Read(b) // never fails (crypto/rand panics rather than return an error)
	return encodeArgon2id(p, b[:saltLen], b[saltLen:])
}

// acquire takes a hashing slot, waiting for one to free up or for ctx to end. Every
// argon2id or bcrypt computation a Store makes holds a slot, so at most
// Options.MaxConcurrent of them run at once and hashing memory stays under
// MaxConcurrent times the memory cost however many logins arrive together.
func (s *Store) acquire(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("identity: wait for a hashing slot: %w", err)
	}
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("identity: wait for a hashing slot: %w", ctx.Err())
	}
	n := s.inFlight.Add(1)
	for {
		m := s.maxInFlight.Load()
		if n <= m || s.maxInFlight.CompareAndSwap(m, n) {
			break
		}
	}
	return nil
}

// release gives back a slot taken by acquire.
func (s *Store) release() {
	s.inFlight.Add(-1)
	<-s.sem
}

// hash is HashPassword with the Store's costs, inside a hashing slot.
// Hash hashes password with the Store's costs, within its bound on hashes computed at
// once, for a user about to be created with it (Create takes a hash). An empty password
// is an error matching ErrInvalid.
func (s *Store) Hash(ctx context.Context, password string) (string, error) {
	return s.hash(ctx, password)
}

func (s *Store) hash(ctx context.Context, password string) (string, error) {
	if password == "" { // fail before waiting for a slot
		return "", fmt.Errorf("identity: hash password: %w", invalidf("empty password"))
	}
	if err := s.acquire(ctx); err != nil {
		return "", err
	}
	defer s.release()
	return HashPassword(password, s.params)
}

// verify checks password against a parsed hash inside a hashing slot, and then waits
// until deadline: the time Authenticate started plus the verification target (see
// timing.go).
func (s *Store) verify(ctx context.Context, h *parsedHash, password string, deadline time.Time) (bool, error) {
	if err := s.acquire(ctx); err != nil {
		return false, err
	}
	start := time.Now()
	s.verifications.Add(1)
	ok := h.verify(password)
	if h.kind == kindArgon2id && h.params == s.params {
		s.observe(time.Since(start))
	}
	s.release()
	// Padded to the target whatever was verified: see timing.go.
	if err := sleepUntil(ctx, deadline); err != nil {
		return false, err
	}
	return ok, nil
}

// HashSecret hashes a secret that is not a password but is kept like one (a device's
// token PIN) with the Store's argon2id costs, in a hashing slot. An empty secret is an
// error.
func (s *Store) HashSecret(ctx context.Context, secret string) (string, error) {
	return s.hash(ctx, secret)
}

// VerifySecret reports whether secret matches encoded, a hash HashSecret made, in a
// hashing slot and in constant time. An empty encoded (no secret set) is verified
// against the Store's dummy hash and never matches, so an unset secret costs what a set
// one does. A hash that cannot be parsed is an error wrapping ErrInvalid.
func (s *Store) VerifySecret(ctx context.Context, encoded, secret string) (bool, error) {
	h := s.dummy
	if encoded != "" {
		var err error
		if h, err = parseHash(encoded); err != nil {
			return false, fmt.Errorf("identity: verify secret: %w", err)
		}
	}
	ok, err := s.verify(ctx, h, secret, time.Time{})
	return ok && h != s.dummy, err
}
