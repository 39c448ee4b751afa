package embedded

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestKillNineUnderLoad kills a process writing to the store with SIGKILL, again and
// again, while eight goroutines in it write users, devices, sessions and counters, and
// checks after every round that each write the process acknowledged (reported on its
// stdout only after the call returned) is in the reopened store: the value at the
// acknowledged revision or later, the counter at the acknowledged count or more. The
// sessions are written under the default SyncAccounts, which does not fsync them: a
// killed process loses nothing the kernel already has, whatever the mode.
func TestKillNineUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills a process ten times")
	}
	dir := t.TempDir()
	type ack struct {
		rev   uint64
		value string
	}
	acked := map[string]ack{}    // value key -> latest acknowledged write
	counts := map[string]int64{} // counter key -> latest acknowledged value
	const rounds = 10
	total := 0
	for round := range rounds {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKillNineHelperProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), "EMBEDDED_CRASH_DIR="+dir, "EMBEDDED_CRASH_ROUND="+strconv.Itoa(round))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := 0
		sc := bufio.NewScanner(out)
		// Kill after a number of acknowledgements that varies by round, so that the
		// kill lands at different points of the writers' work.
		killAt := 300 + 137*round
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) != 4 || f[0] != "ack" {
				continue
			}
			n, err := strconv.ParseUint(f[2], 10, 64)
			if err != nil {
				t.Fatalf("bad ack %q", sc.Text())
			}
			if strings.HasPrefix(f[1], "count:") {
				counts[f[1]] = max(counts[f[1]], int64(n))
			} else if n > acked[f[1]].rev {
				acked[f[1]] = ack{rev: n, value: f[3]}
			}
			lines++
			if lines == killAt {
				_ = cmd.Process.Kill()
			}
		}
		_ = cmd.Wait()
		if lines < killAt {
			t.Fatalf("round %d: the writer stopped after %d acknowledgements, before the kill: %s", round, lines, stderr.String())
		}
		total += lines

		s, err := Open(Options{Dir: dir})
		if err != nil {
			t.Fatalf("round %d: reopen after kill -9: %v", round, err)
		}
		ctx := context.Background()
		for key, a := range acked {
			it, err := s.Get(ctx, key)
			if err != nil {
				t.Fatalf("round %d: acknowledged %s rev %d is lost: %v", round, key, a.rev, err)
			}
			if it.Rev < a.rev || (it.Rev == a.rev && string(it.Value) != a.value) {
				t.Fatalf("round %d: %s is %q at rev %d, acknowledged %q at rev %d", round, key, it.Value, it.Rev, a.value, a.rev)
			}
		}
		for key, n := range counts {
			got, err := s.Incr(ctx, key, 0, 0)
			if err != nil || got < n {
				t.Fatalf("round %d: counter %s is %d (%v), acknowledged %d", round, key, got, err, n)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d rounds, %d acknowledged writes, %d keys and %d counters checked after each kill", rounds, total, len(acked), len(counts))
}

// TestKillNineHelperProcess is the writer that TestKillNineUnderLoad kills. It runs
// only when started by that test.
func TestKillNineHelperProcess(t *testing.T) {
	dir := os.Getenv("EMBEDDED_CRASH_DIR")
	if dir == "" {
		t.Skip("helper process for TestKillNineUnderLoad")
	}
	round := os.Getenv("EMBEDDED_CRASH_ROUND")
	s, err := Open(Options{Dir: dir})
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(2)
	}
	var mu sync.Mutex
	w := bufio.NewWriter(os.Stdout)
	say := func(format string, args ...any) {
		mu.Lock()
		fmt.Fprintf(w, format+"\n", args...)
		w.Flush()
		mu.Unlock()
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				var key string
				switch i % 4 {
				case 0:
					key = fmt.Sprintf("user:{%d-%d}", g, i%50)
				case 1:
					key = fmt.Sprintf("mfadev:%d-%d", g, i%50)
				case 2:
					key = fmt.Sprintf("session:{%d-%d}", g, i%50)
				default:
					n, err := s.Incr(ctx, fmt.Sprintf("count:%d", g), 1, 0)
					if err != nil {
						fmt.Fprintln(os.Stderr, "incr:", err)
						os.Exit(2)
					}
					say("ack count:%d %d -", g, n)
					continue
				}
				value := fmt.Sprintf("r%s-g%d-i%d", round, g, i)
				rev, err := s.Set(ctx, key, []byte(value), time.Hour)
				if err != nil {
					fmt.Fprintln(os.Stderr, "set:", err)
					os.Exit(2)
				}
				say("ack %s %d %s", key, rev, value)
			}
		}()
	}
	wg.Wait()
}
