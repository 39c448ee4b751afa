package embedded

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/arbor-auth/arbor/store"
)

// BenchmarkLoginBatches runs the embedded store's share of a REST password login: the
// three batches a login makes (the guessing defence's check with the account and its
// second factors read, its success record, and the commit of the session, its index
// entry and the flow's end), with the keys and value sizes of a real login, on a data
// file. 32 users log in in turn, so that each index is full and every push drops and
// deletes its oldest session, as on a busy server.
//
//	go test ./store/embedded -run '^$' -bench LoginBatches -benchmem
func BenchmarkLoginBatches(b *testing.B) {
	s, err := Open(Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	const users = 32
	account := make([]byte, 420) // a user record with its password hash
	for i := range users {
		if _, err := s.Set(ctx, fmt.Sprintf("user:/:bench%d", i), account, 0); err != nil {
			b.Fatal(err)
		}
	}
	session := make([]byte, 330)
	flowEnd := make([]byte, 120)
	ttl := time.Minute
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		i++
		user := fmt.Sprintf("bench%d", i%users)
		pair := "{" + user + "|192.0.2.1}"
		flow := fmt.Sprintf("flow:{%022d}", i)
		sess := fmt.Sprintf("session:{%022d}", i)
		now := time.Now()
		check := []store.Op{
			store.GetOp("throttle:until:user:" + user), store.IncrOp("throttle:n:user:"+user+":29000", 1, ttl),
			store.GetOp("throttle:until:ip:192.0.2.1"), store.IncrOp("throttle:n:ip:192.0.2.1:29000", 1, ttl),
			store.GetOp("throttle:until:" + pair), store.IncrOp("throttle:n:"+pair+":29000", 1, ttl),
			store.GetOp("throttle:known:" + pair), store.IncrOp("throttle:n:"+pair+":28999", 0, 0),
			store.GetOp("user:/:" + user), store.GetOp("mfa:/:" + user),
		}
		success := []store.Op{
			store.IncrOp("throttle:n:"+pair+":29000", -1, ttl), store.IncrOp("throttle:n:"+pair+":28999", 0, 0), store.GetOp("throttle:known:" + pair),
			store.IncrOp("throttle:n:user:"+user+":29000", -1, ttl),
		}
		commit := []store.Op{
			store.CASOp(sess, session, 0, time.Hour),
			store.PushOwningOp("usersessions:/:"+user, store.KeyMember(`{"c":1796029667497,"x":"login"}`, sess), now.Add(time.Hour), 32, now),
			store.CASOp(flow, flowEnd, 0, ttl),
		}
		for _, ops := range [][]store.Op{check, success, commit} {
			if err := s.Do(ctx, ops); err != nil {
				b.Fatal(err)
			}
			for _, op := range ops {
				if op.Err != nil && !errors.Is(op.Err, store.ErrNotFound) {
					b.Fatal(op.Err)
				}
			}
		}
	}
}
