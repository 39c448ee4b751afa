package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// BenchConfig configures a benchmark run.
type BenchConfig struct {
	URL         string
	Journey     string
	Realm       string
	Username    string
	Password    string
	Concurrency int
	Duration    time.Duration
	NoSession   bool
	// Logout ends each session after its login (the default), so a long run does not
	// pile up sessions; its cost is then included in the server CPU per login.
	Logout bool
}

// BenchResult is what a run measured.
type BenchResult struct {
	Logins, Steps, Failures int64
	Elapsed                 time.Duration
	StepLatency             []time.Duration // sorted
	LoginLatency            []time.Duration // sorted
	ServerCPU               time.Duration   // process_cpu_seconds_total delta, if /metrics answered
	ServerRSSPeak           float64         // bytes, sampled
	ServerRSSStart          float64
	FirstError              string
}

func bench(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c BenchConfig
	fs.StringVar(&c.URL, "url", "http://127.0.0.1:8080", "server base URL")
	fs.StringVar(&c.Journey, "journey", "login", "journey to run")
	fs.StringVar(&c.Realm, "realm", "root", "realm path (root, alpha, ...)")
	fs.StringVar(&c.Username, "username", "demo", "user name for NameCallbacks")
	fs.StringVar(&c.Password, "password", "Ch4ng31t", "password for PasswordCallbacks")
	fs.IntVar(&c.Concurrency, "concurrency", 8, "concurrent logins")
	fs.DurationVar(&c.Duration, "duration", 10*time.Second, "how long to run")
	fs.BoolVar(&c.NoSession, "no-session", false, "log in with noSession=true (no session created)")
	fs.BoolVar(&c.Logout, "logout", true, "log each session out after its login (counted in the server CPU per login)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if c.Concurrency < 1 || c.Duration <= 0 {
		fmt.Fprintln(stderr, "arbor bench: --concurrency must be at least 1 and --duration positive")
		return 2
	}
	r, err := RunBench(ctx, c)
	if err != nil {
		fmt.Fprintln(stderr, "arbor bench:", err)
		return 1
	}
	fmt.Fprint(stdout, r.Report(c))
	if r.Logins == 0 {
		return 1
	}
	return 0
}

// RunBench drives logins for c.Duration with c.Concurrency workers.
func RunBench(ctx context.Context, c BenchConfig) (*BenchResult, error) {
	base := strings.TrimSuffix(c.URL, "/")
	path := "/json/realms/root"
	for _, p := range strings.Split(strings.Trim(c.Realm, "/"), "/") {
		if p != "" && p != "root" {
			path += "/realms/" + p
		}
	}
	q := url.Values{"authIndexType": {"service"}, "authIndexValue": {c.Journey}}
	if c.NoSession {
		q.Set("noSession", "true")
	}
	authURL := base + path + "/authenticate?" + q.Encode()
	logoutURL := base + path + "/sessions/?_action=logout"
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: c.Concurrency * 2}}
	// The scrapes ask for plain text: a gzipped answer made the server build a flate
	// writer of about half a megabyte four times a second, CPU and garbage that were the
	// measurement's and not the logins' (heap profile of arbor serve under arbor bench).
	metrics := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableCompression: true}}

	res := &BenchResult{}
	cpu0, rss0, metricsOK := scrape(metrics, base)
	res.ServerRSSStart = rss0
	res.ServerRSSPeak = rss0
	var mu sync.Mutex
	var steps, logins []time.Duration
	var nSteps, nLogins, nFail atomic.Int64
	var firstErr atomic.Value
	ctx, cancel := context.WithTimeout(ctx, c.Duration)
	defer cancel()
	stopSampling := make(chan struct{})
	var sampler sync.WaitGroup
	if metricsOK {
		sampler.Add(1)
		go func() {
			defer sampler.Done()
			t := time.NewTicker(250 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-stopSampling:
					return
				case <-t.C:
					if _, rss, ok := scrape(metrics, base); ok {
						mu.Lock()
						if rss > res.ServerRSSPeak {
							res.ServerRSSPeak = rss
						}
						mu.Unlock()
					}
				}
			}
		}()
	}
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < c.Concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var myS, myL []time.Duration
			for ctx.Err() == nil {
				ls := time.Now()
				n, token, err := loginOnce(ctx, client, authURL, c, &myS)
				nSteps.Add(int64(n))
				if err != nil {
					if ctx.Err() != nil {
						break
					}
					nFail.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				myL = append(myL, time.Since(ls))
				nLogins.Add(1)
				if token != "" && c.Logout {
					req, _ := http.NewRequest(http.MethodPost, logoutURL, nil)
					req.Header.Set("iPlanetDirectoryPro", token)
					if resp, err := client.Do(req); err == nil {
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
					}
				}
			}
			mu.Lock()
			steps = append(steps, myS...)
			logins = append(logins, myL...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	close(stopSampling)
	sampler.Wait()
	if cpu1, _, ok := scrape(metrics, base); ok && metricsOK {
		res.ServerCPU = time.Duration((cpu1 - cpu0) * float64(time.Second))
	}
	sort.Slice(steps, func(i, j int) bool { return steps[i] < steps[j] })
	sort.Slice(logins, func(i, j int) bool { return logins[i] < logins[j] })
	res.StepLatency, res.LoginLatency = steps, logins
	res.Steps, res.Logins, res.Failures = nSteps.Load(), nLogins.Load(), nFail.Load()
	if v, ok := firstErr.Load().(string); ok {
		res.FirstError = v
	}
	return res, nil
}

// loginOnce runs one journey to its end, answering name and password callbacks.
func loginOnce(ctx context.Context, client *http.Client, authURL string, c BenchConfig, lat *[]time.Duration) (int, string, error) {
	var body []byte
	for n := 1; n <= 20; n++ {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, authURL, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept-API-Version", "protocol=1.0,resource=2.1")
		t0 := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return n - 1, "", err
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		*lat = append(*lat, time.Since(t0))
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			return n, "", fmt.Errorf("status %d: not JSON: %.80s", resp.StatusCode, raw)
		}
		if _, step := m["authId"]; !step {
			if resp.StatusCode != http.StatusOK {
				return n, "", fmt.Errorf("status %d: %v", resp.StatusCode, m["message"])
			}
			tok, _ := m["tokenId"].(string)
			return n, tok, nil
		}
		cbs, _ := m["callbacks"].([]any)
		for _, cb := range cbs {
			cbm, _ := cb.(map[string]any)
			ins, _ := cbm["input"].([]any)
			if len(ins) == 0 {
				continue
			}
			in0, _ := ins[0].(map[string]any)
			switch cbm["type"] {
			case "NameCallback":
				in0["value"] = c.Username
			case "PasswordCallback":
				in0["value"] = c.Password
			}
		}
		body, _ = json.Marshal(m)
	}
	return 20, "", fmt.Errorf("journey did not end within 20 steps")
}

// scrape reads the server's CPU seconds and resident memory from its /metrics.
func scrape(client *http.Client, base string) (cpu, rss float64, ok bool) {
	resp, err := client.Get(base + "/metrics")
	if err != nil {
		return 0, 0, false
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return 0, 0, false
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	found := 0
	for sc.Scan() {
		line := sc.Text()
		for name, dst := range map[string]*float64{"process_cpu_seconds_total ": &cpu, "process_resident_memory_bytes ": &rss} {
			if strings.HasPrefix(line, name) {
				if v, err := strconv.ParseFloat(strings.TrimSpace(line[len(name):]), 64); err == nil {
					*dst = v
					found++
				}
			}
		}
	}
	return cpu, rss, found == 2
}

func pct(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	i := int(float64(len(d)-1) * p)
	return d[i]
}

// Report formats the result.
func (r *BenchResult) Report(c BenchConfig) string {
	var b strings.Builder
	secs := r.Elapsed.Seconds()
	fmt.Fprintf(&b, "journey %q at %s, %d concurrent, %s\n", c.Journey, c.URL, c.Concurrency, r.Elapsed.Round(time.Millisecond))
	fmt.Fprintf(&b, "logins:   %d ok, %d failed, %.1f logins/s\n", r.Logins, r.Failures, float64(r.Logins)/secs)
	fmt.Fprintf(&b, "steps:    %d, %.1f steps/s\n", r.Steps, float64(r.Steps)/secs)
	fmt.Fprintf(&b, "step latency:  p50 %s  p90 %s  p99 %s\n", pct(r.StepLatency, .5).Round(time.Microsecond), pct(r.StepLatency, .9).Round(time.Microsecond), pct(r.StepLatency, .99).Round(time.Microsecond))
	fmt.Fprintf(&b, "login latency: p50 %s  p90 %s  p99 %s\n", pct(r.LoginLatency, .5).Round(time.Microsecond), pct(r.LoginLatency, .9).Round(time.Microsecond), pct(r.LoginLatency, .99).Round(time.Microsecond))
	if r.ServerCPU > 0 && r.Logins > 0 {
		what := "incl. logout"
		if !c.Logout || c.NoSession {
			what = "no logout"
		}
		fmt.Fprintf(&b, "server CPU:    %s total, %.3f ms per login (%s)\n", r.ServerCPU.Round(time.Millisecond), float64(r.ServerCPU.Microseconds())/1000/float64(r.Logins), what)
		fmt.Fprintf(&b, "server memory: %.1f MiB at start, %.1f MiB peak (resident)\n", r.ServerRSSStart/(1<<20), r.ServerRSSPeak/(1<<20))
	}
	if r.FirstError != "" {
		fmt.Fprintf(&b, "first error:   %s\n", r.FirstError)
	}
	return b.String()
}
