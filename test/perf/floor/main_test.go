package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
)

// TestFloorDoesTheWork checks, on each HTTP layer, that the floor does what its figures
// claim it does: a wrong password, a forged authId or a malformed body gets no session,
// and a right one gets exactly one session written and its token in the body and a
// cookie. A floor that skipped a part would measure lower than the floor.
func TestFloorDoesTheWork(t *testing.T) {
	for _, layer := range []string{"std", "fast", "adapt"} {
		t.Run(layer, func(t *testing.T) {
			file, err := os.CreateTemp(t.TempDir(), "sessions")
			if err != nil {
				t.Fatal(err)
			}
			defer file.Close()
			f := &floor{key: []byte("0123456789abcdef0123456789abcdef"),
				store: &fileStore{users: map[string][]byte{userName: userRecord()}, f: file}}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			go func() { defer close(done); f.serve(layer, ln) }()
			defer func() { ln.Close(); <-done }()
			base := "http://" + ln.Addr().String()

			post := func(body []byte) (int, map[string]any, *http.Response) {
				t.Helper()
				resp, err := http.Post(base+authPath, "application/json", bytes.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				raw, _ := io.ReadAll(resp.Body)
				var m map[string]any
				if err := json.Unmarshal(raw, &m); err != nil {
					t.Fatalf("status %d, body %q: %v", resp.StatusCode, raw, err)
				}
				return resp.StatusCode, m, resp
			}
			answer := func(name, pw string) []byte {
				t.Helper()
				code, m, _ := post(nil)
				if code != http.StatusOK || m["authId"] == "" {
					t.Fatalf("first step: %d %v", code, m)
				}
				cbs := m["callbacks"].([]any)
				cbs[0].(map[string]any)["input"].([]any)[0].(map[string]any)["value"] = name
				cbs[1].(map[string]any)["input"].([]any)[0].(map[string]any)["value"] = pw
				b, _ := json.Marshal(m)
				return b
			}
			sessions := func() int {
				b, err := os.ReadFile(file.Name())
				if err != nil {
					t.Fatal(err)
				}
				return bytes.Count(b, []byte("\n"))
			}

			for _, tc := range []struct {
				name string
				body []byte
				want int
			}{
				{"wrong password", answer(userName, password+"x"), http.StatusUnauthorized},
				{"unknown user", answer("nobody", password), http.StatusUnauthorized},
				{"forged authId", bytes.Replace(answer(userName, password), []byte(`"authId":"`), []byte(`"authId":"A`), 1), http.StatusUnauthorized},
				{"malformed body", []byte(`{"authId":`), http.StatusBadRequest},
			} {
				if code, m, _ := post(tc.body); code != tc.want || m["tokenId"] != nil {
					t.Errorf("%s: status %d, body %v; want %d and no token", tc.name, code, m, tc.want)
				}
			}
			if n := sessions(); n != 0 {
				t.Fatalf("%d sessions written by failed logins", n)
			}

			code, m, resp := post(answer(userName, password))
			tok, _ := m["tokenId"].(string)
			if code != http.StatusOK || tok == "" {
				t.Fatalf("right password: status %d, body %v", code, m)
			}
			var cookie string
			for _, c := range resp.Cookies() {
				if c.Name == "iPlanetDirectoryPro" {
					cookie = c.Value
				}
			}
			if cookie != tok {
				t.Errorf("cookie %q, want the token %q", cookie, tok)
			}
			if n := sessions(); n != 1 {
				t.Errorf("%d sessions after one login, want 1", n)
			}

			resp, err = http.Get(base + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			for _, name := range []string{"process_cpu_seconds_total ", "process_resident_memory_bytes "} {
				if !strings.Contains(string(raw), name) {
					t.Errorf("/metrics lacks %s: %q", name, raw)
				}
			}
		})
	}
}
