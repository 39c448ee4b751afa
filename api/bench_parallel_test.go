package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/arbor-auth/arbor/identity"
	"github.com/arbor-auth/arbor/internal/app"
	"github.com/arbor-auth/arbor/internal/app/apptest"
	"github.com/arbor-auth/arbor/internal/cpubench"
	"github.com/arbor-auth/arbor/internal/testredis"
)

// BenchmarkLoginHandlerParallel is BenchmarkLoginHandler with 8 and 32 logins in flight
// (c8, c32), where a store client that pipelines can merge concurrent round trips.
// Each goroutine logs in as a user of its own from an address of its own, as that many
// people would: one user from one address at once is a burst the guessing defence
// refuses past its free attempts. cpu-ns/op is the process's CPU per login.
func BenchmarkLoginHandlerParallel(b *testing.B) {
	for _, c := range []int{8, 32} {
		b.Run(fmt.Sprintf("redis/c%d", c), func(b *testing.B) {
			benchLoginHandlerParallel(b, c, "--redis", testredis.Start(b).URL())
		})
		b.Run(fmt.Sprintf("embedded/c%d", c), func(b *testing.B) { benchLoginHandlerParallel(b, c) })
	}
}

func benchLoginHandlerParallel(b *testing.B, conc int, args ...string) {
	a := apptest.New(b, apptest.Options{Args: append([]string{"--demo"}, args...)})
	ctx := context.Background()
	for i := range conc {
		name := fmt.Sprintf("bench%d", i)
		if err := a.Users.Create(ctx, &identity.User{Realm: "/", Username: name}); err != nil {
			b.Fatal(err)
		}
		if err := a.Users.SetPassword(ctx, "/", name, app.DemoPassword); err != nil {
			b.Fatal(err)
		}
	}
	h := a.Handler()
	var next atomic.Int64
	b.SetParallelism((conc + 1) / 2) // RunParallel starts GOMAXPROCS times this many
	b.ReportAllocs()
	b.ResetTimer()
	defer cpubench.Start(b)()
	b.RunParallel(func(pb *testing.PB) {
		n := next.Add(1) - 1
		user := fmt.Sprintf("bench%d", n%int64(conc))
		addr := fmt.Sprintf("192.0.2.%d:1234", n%250+1)
		serve := func(url string, body []byte, hdr ...string) *httptest.ResponseRecorder {
			req := httptest.NewRequest(http.MethodPost, url, bytes.NewReader(body))
			req.RemoteAddr = addr
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept-API-Version", "protocol=1.0,resource=2.1")
			for i := 0; i+1 < len(hdr); i += 2 {
				req.Header.Set(hdr[i], hdr[i+1])
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			return w
		}
		head := []byte(`{"authId":"`)
		tail := []byte(`","callbacks":[{"_id":0,"input":[{"name":"IDToken1","value":"` + user + `"}],"output":[{"name":"prompt","value":"User Name"}],"type":"NameCallback"},` +
			`{"_id":1,"input":[{"name":"IDToken2","value":"` + app.DemoPassword + `"}],"output":[{"name":"prompt","value":"Password"}],"type":"PasswordCallback"}],"header":"Sign in","stage":"UsernamePassword"}`)
		var body []byte
		for pb.Next() {
			w := serve(loginURL, nil)
			raw := w.Body.Bytes()
			start := bytes.Index(raw, head)
			if w.Code != 200 || start < 0 {
				b.Errorf("start: %d %s", w.Code, raw)
				return
			}
			id := raw[start+len(head):]
			id = id[:bytes.IndexByte(id, '"')]
			body = append(append(append(body[:0], head...), id...), tail...)
			w = serve(loginURL, body)
			var ok struct{ TokenID string }
			if json.Unmarshal(w.Body.Bytes(), &ok); w.Code != 200 || ok.TokenID == "" {
				b.Errorf("submit as %s: %d %s", user, w.Code, w.Body.Bytes())
				return
			}
			if w = serve("/json/realms/root/sessions/?_action=logout", nil, "iPlanetDirectoryPro", ok.TokenID); w.Code != 200 {
				b.Errorf("logout: %d %s", w.Code, w.Body.Bytes())
				return
			}
		}
	})
}
