package embedded

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"
)

// TestTableMatchesMap runs random puts, deletes and sweeps on a table and on a plain
// map side by side and checks after each that they hold the same keys and entries,
// with hashes that never collide, that often collide and that always do (every key
// but one in others), and a tiny arena so that chunks fill and rebuilds happen.
func TestTableMatchesMap(t *testing.T) {
	defer func(first, max int, rebuild int64) {
		arenaFirstChunk, arenaMaxChunk, arenaMinRebuild = first, max, rebuild
	}(arenaFirstChunk, arenaMaxChunk, arenaMinRebuild)
	arenaFirstChunk, arenaMaxChunk, arenaMinRebuild = 16, 256, 64

	for _, tc := range []struct {
		name string
		hash func(string) uint64
	}{
		{"seeded hash", nil},
		{"few hashes", func(k string) uint64 { return uint64(len(k) % 3) }},
		{"one hash", func(string) uint64 { return 7 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			tab := newTable()
			tab.hash = tc.hash
			model := map[string]entry{}
			buf := make([]byte, 0, 600)
			for i := range 5000 {
				key := fmt.Sprintf("k%d", rng.IntN(60))
				switch op := rng.IntN(10); {
				case op < 6:
					// A value of 0 to 599 bytes, some larger than a chunk, written from a
					// buffer that is then overwritten: the table must have copied it.
					buf = buf[:rng.IntN(600)]
					for j := range buf {
						buf[j] = byte(i + j)
					}
					e := entry{value: buf, rev: uint64(i), exp: int64(rng.IntN(100))}
					// The entry put replaces is what the store counts bytes with.
					before, had := model[key]
					if prev, ok := tab.put(key, e); ok != had || prev.rev != before.rev || prev.exp != before.exp || len(prev.value) != len(before.value) {
						t.Fatalf("op %d: put(%q) replaced %v %v (%d bytes), want %v %v (%d bytes)", i, key, prev.rev, ok, len(prev.value), before.rev, had, len(before.value))
					}
					model[key] = entry{value: clone(buf), rev: e.rev, exp: e.exp}
					for j := range buf {
						buf[j] = 0xff
					}
				case op < 9:
					before, want := model[key]
					if prev, got := tab.del(key); got != want || prev.rev != before.rev || len(prev.value) != len(before.value) {
						t.Fatalf("op %d: del(%q) = %v (rev %d, %d bytes), want %v (rev %d, %d bytes)", i, key, got, prev.rev, len(prev.value), want, before.rev, len(before.value))
					}
					delete(model, key)
				default:
					now := int64(rng.IntN(100))
					gone := map[string]bool{}
					tab.sweep(now, func(k string, _ entry) { gone[k] = true })
					for k, e := range model {
						if expired(e.exp, now) {
							if !gone[k] {
								t.Fatalf("op %d: sweep at %d kept %q (exp %d)", i, now, k, e.exp)
							}
							delete(model, k)
							delete(gone, k)
						}
					}
					if len(gone) > 0 {
						t.Fatalf("op %d: sweep at %d removed live keys %v", i, now, gone)
					}
				}
				checkTable(t, i, tab, model)
			}
			if tab.total-tab.used > max(tab.used, arenaMinRebuild)+int64(arenaMaxChunk)+600 {
				t.Errorf("arena holds %d bytes of garbage for %d live: not rebuilt", tab.total-tab.used, tab.used)
			}
		})
	}
}

// checkTable fails unless tab holds exactly model's keys and entries.
func checkTable(t *testing.T, i int, tab *table, model map[string]entry) {
	t.Helper()
	if tab.len() != len(model) {
		t.Fatalf("op %d: %d keys, want %d", i, tab.len(), len(model))
	}
	var used int64
	for k, want := range model {
		got, ok := tab.get(k)
		if !ok || string(got.value) != string(want.value) || got.rev != want.rev || got.exp != want.exp {
			t.Fatalf("op %d: get(%q) = %v %v, want %v", i, k, got, ok, want)
		}
		used += int64(len(k) + len(want.value))
	}
	seen := 0
	for k, e := range tab.all() {
		if want, ok := model[k]; !ok || string(e.value) != string(want.value) {
			t.Fatalf("op %d: all() yields %q = %q, want %q (in model: %v)", i, k, e.value, want.value, ok)
		}
		seen++
	}
	if seen != len(model) {
		t.Fatalf("op %d: all() yields %d keys, want %d", i, seen, len(model))
	}
	if _, ok := tab.get("missing"); ok {
		t.Fatalf("op %d: get of a missing key succeeds", i)
	}
	if tab.others == nil && tab.used != used {
		t.Fatalf("op %d: arena counts %d live bytes, want %d", i, tab.used, used)
	}
}

// BenchmarkGCWithLiveKeys measures one full garbage collection while the store holds
// 200 000 session-sized values (268 bytes under a 42-byte key), in the table and, for
// comparison, in a map[string]entry as the store kept them before: a collection has
// to visit every key and value of the map, and nothing of the table.
//
//	go test ./store/embedded -run '^$' -bench GCWithLiveKeys -benchtime 20x
func BenchmarkGCWithLiveKeys(b *testing.B) {
	const n = 200_000
	value := make([]byte, 268)
	key := func(i int) string { return fmt.Sprintf("session:{%032d}", i) }
	b.Run("table", func(b *testing.B) {
		tab := newTable()
		for i := range n {
			tab.put(key(i), entry{value: value, rev: 1, exp: time.Now().UnixNano()})
		}
		benchGC(b)
		runtime.KeepAlive(tab)
	})
	b.Run("map", func(b *testing.B) {
		m := map[string]entry{}
		for i := range n {
			m[key(i)] = entry{value: clone(value), rev: 1, exp: time.Now().UnixNano()}
		}
		benchGC(b)
		runtime.KeepAlive(m)
	})
}

func benchGC(b *testing.B) {
	runtime.GC()
	b.ResetTimer()
	for b.Loop() {
		runtime.GC()
	}
}

// TestTablesShareRebuiltChunks runs two tables side by side with small chunks, so that
// each rebuild's old chunks go to the pool and the other table's next chunks may come
// from it: neither may see the other's bytes.
func TestTablesShareRebuiltChunks(t *testing.T) {
	defer func(first, max int, rebuild int64) {
		arenaFirstChunk, arenaMaxChunk, arenaMinRebuild = first, max, rebuild
	}(arenaFirstChunk, arenaMaxChunk, arenaMinRebuild)
	arenaFirstChunk, arenaMaxChunk, arenaMinRebuild = 16, 256, 64
	rng := rand.New(rand.NewPCG(3, 4))
	tabs := []*table{newTable(), newTable()}
	models := []map[string]entry{{}, {}}
	for i := range 4000 {
		n := i % 2
		key := fmt.Sprintf("k%d", rng.IntN(20))
		if rng.IntN(4) == 0 {
			tabs[n].del(key)
			delete(models[n], key)
		} else {
			value := fmt.Appendf(nil, "table %d op %d %s", n, i, bytes.Repeat([]byte{byte('a' + n)}, rng.IntN(100)))
			tabs[n].put(key, entry{value: value, rev: uint64(i)})
			models[n][key] = entry{value: value, rev: uint64(i)}
		}
		for j := range tabs {
			checkTable(t, i, tabs[j], models[j])
		}
	}
}
