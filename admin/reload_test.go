package admin_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/arbor-auth/arbor/internal/testredis"
	"github.com/arbor-auth/arbor/internal/testwait"
)

// twoStep is a journey of two messages, both naming text: a flow started on one version
// shows that version's text on its second step too.
func twoStep(text string) string {
	return fmt.Sprintf(`{"name":"hello","start":"m1","nodes":{
	  "m1":{"type":"message","config":{"message":{"en":"start %[1]s"},"text_only":true},"outcomes":{"outcome":"m2"}},
	  "m2":{"type":"message","config":{"message":{"en":"end %[1]s"}},"outcomes":{"true":"success","false":"failure"}}}}`, text)
}

// restStart starts a flow of hello over AM's REST door and returns the step body, or
// the error status.
func restStart(t *testing.T, base string) (int, []byte) {
	t.Helper()
	return restPost(t, base+"/json/realms/root/authenticate?authIndexType=service&authIndexValue=hello", nil)
}

func restPost(t *testing.T, url string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept-API-Version", "resource=2.0, protocol=1.0")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

// TestHotReloadAcrossInstances: two instances share one Redis. A journey saved, rolled
// back, disabled or enabled through A's admin API serves new flows on B within the head
// TTL, while a flow B started before the change finishes on its own version.
func TestHotReloadAcrossInstances(t *testing.T) {
	rs := testredis.Start(t)
	secret := sharedSecret(t)
	a := start(t, "--redis", rs.URL(), "--secret", secret)
	b := start(t, "--redis", rs.URL(), "--secret", secret)
	root := a.root(t)
	want(t, "create", a.call(t, root, http.MethodPost, "/journeys", twoStep("one")), http.StatusCreated, "")
	shows := func(text string) func() bool {
		return func() bool {
			st, body := restStart(t, b.URL)
			return st == http.StatusOK && strings.Contains(string(body), "start "+text)
		}
	}
	testwait.Until(t, "B serves version 1", shows("one"))
	st, running := restStart(t, b.URL)
	if st != 200 {
		t.Fatalf("start on B: %d %s", st, running)
	}

	want(t, "PUT v2 on A", a.call(t, root, http.MethodPut, "/journeys/hello", twoStep("two"), "If-Match", `"1"`), http.StatusOK, "")
	testwait.Until(t, "B serves version 2", shows("two"))
	// The flow started before goes on with version 1.
	st, next := restPost(t, b.URL+"/json/realms/root/authenticate", running)
	if st != 200 || !strings.Contains(string(next), "end one") {
		t.Fatalf("the running flow's next step: %d %s", st, next)
	}

	want(t, "rollback on A", a.call(t, root, http.MethodPost, "/journeys/hello/rollback", `{"version":1}`, "If-Match", `"2"`), http.StatusOK, "")
	testwait.Until(t, "B serves the rollback", shows("one"))

	want(t, "disable on A", a.call(t, root, http.MethodPost, "/journeys/hello/disable", ""), http.StatusOK, "")
	testwait.Until(t, "B refuses the disabled journey", func() bool {
		st, body := restStart(t, b.URL)
		return st == http.StatusBadRequest && strings.Contains(string(body), "disabled")
	})
	want(t, "enable on A", a.call(t, root, http.MethodPost, "/journeys/hello/enable", ""), http.StatusOK, "")
	testwait.Until(t, "B serves it again", shows("one"))
	// B's admin API sees the same history.
	r := b.call(t, root, http.MethodGet, "/journeys/hello/versions", "")
	var vs []map[string]any
	_ = json.Unmarshal([]byte(r.raw), &vs)
	if len(vs) != 3 {
		t.Fatalf("versions on B: %s", r.raw)
	}
}
