// Package identity stores users per realm and checks their passwords.
//
// CONTRACT SKELETON: the exported surface below is what the rest of Arbor codes
// against. The implementation replaces the bodies.
package identity

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/arbor-auth/arbor/store"
)

// Errors callers branch on.
var (
	ErrNotFound           = errors.New("identity: user not found")
	ErrExists             = errors.New("identity: user already exists")
	ErrInvalidCredentials = errors.New("identity: invalid credentials")
	ErrLocked             = errors.New("identity: account locked")
)

// Status is an account's state.
type Status string

// Account states.
const (
	StatusActive Status = "active"
	StatusLocked Status = "locked"
)

// User is one account in a realm.
type User struct {
	Realm        string         `json:"realm"`
	Username     string         `json:"username"`
	PasswordHash string         `json:"password_hash,omitempty"`
	Attributes   map[string]any `json:"attributes,omitempty"`
	Status       Status         `json:"status"`
	Created      time.Time      `json:"created"`
	Updated      time.Time      `json:"updated"`
}

// Params are argon2id cost parameters.
type Params struct {
	MemoryKiB   uint32
	Iterations  uint32
	Parallelism uint8
}

// Options configure a Store.
type Options struct {
	Params        Params
	MaxConcurrent int
}

// Store keeps users in a store.Store.
type Store struct{ st store.Store }

// New returns a Store.
func New(st store.Store, opts Options) *Store { return &Store{st: st} }

// Get returns the user.
func (s *Store) Get(ctx context.Context, realm, username string) (*User, error) { panic("todo") }

// Create adds a new user.
func (s *Store) Create(ctx context.Context, u *User) error { panic("todo") }

// Put creates or replaces a user.
func (s *Store) Put(ctx context.Context, u *User) error { panic("todo") }

// Update changes a user atomically.
func (s *Store) Update(ctx context.Context, realm, username string, fn func(*User) error) (*User, error) {
	panic("todo")
}

// Authenticate checks a password.
func (s *Store) Authenticate(ctx context.Context, realm, username, password string) (*User, error) {
	panic("todo")
}

// Import reads a YAML users file.
func (s *Store) Import(ctx context.Context, r io.Reader) (int, error) { panic("todo") }
