package chrometest_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/arbor-auth/arbor/internal/chrometest"
)

// page has a form whose submit writes the typed name into #out, a console error, and
// echoes the cookie it was sent.
const page = `<!doctype html><html><head><title>t</title></head><body>
<form id="f"><input id="name" autofocus><button id="go" type="button">Go</button></form>
<p id="out">  nobody  </p><p id="cookie">%s</p>
<script>
document.getElementById('go').addEventListener('click', () => {
  document.getElementById('out').textContent = 'hello ' + document.getElementById('name').value;
});
console.error('planted error');
</script></body></html>`

// TestBrowser launches Chromium on a local page and uses every helper on it.
func TestBrowser(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := r.Cookie("k")
		v := "none"
		if c != nil {
			v = c.Value
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, page, v)
	}))
	defer srv.Close()

	b := chrometest.Start(t, chrometest.Options{Width: 640, Height: 480})
	b.Navigate(srv.URL + "/")
	b.WaitVisible("#name")
	b.WaitFocus("name")
	if got := b.Text("#out"); got != "nobody" {
		t.Errorf("Text = %q, want it trimmed to %q", got, "nobody")
	}
	b.TypeIn("#name", "alice")
	b.Click("#go")
	if got := b.Text("#out"); got != "hello alice" {
		t.Errorf("after the click: %q", got)
	}
	if w := chrometest.Eval[int](b, `window.innerWidth`); w != 640 {
		t.Errorf("window is %d pixels wide, want 640", w)
	}
	var v struct{ A []int }
	b.EvalJSON("read an object", `({A: [1, 2]})`, &v)
	if len(v.A) != 2 || v.A[1] != 2 {
		t.Errorf("EvalJSON = %+v", v)
	}
	found := false
	for _, m := range b.Console() {
		if m.Type == "error" && m.Text == "planted error" {
			found = true
		}
	}
	if !found {
		t.Errorf("console %+v lacks the planted error", b.Console())
	}
	b.SetCookie("k", "v1", srv.URL)
	b.Navigate(srv.URL + "/")
	if got := b.Text("#cookie"); got != "v1" {
		t.Errorf("cookie sent: %q", got)
	}
	if png := b.Screenshot(); len(png) < 8 || string(png[1:4]) != "PNG" {
		t.Errorf("screenshot is not a PNG (%d bytes)", len(png))
	}
}

// recorder is a test that records whether it failed or skipped.
type recorder struct {
	testing.TB
	failed, skipped bool
}

func (r *recorder) Helper()                        {}
func (r *recorder) Fatalf(string, ...any)          { r.failed = true }
func (r *recorder) Skipf(string, ...any)           { r.skipped = true }
func (r *recorder) Name() string                   { return "recorder" }
func (r *recorder) Logf(format string, a ...any)   {}
func (r *recorder) Errorf(format string, a ...any) { r.failed = true }

// TestNeed checks that a missing part fails under CI=true and skips elsewhere.
func TestNeed(t *testing.T) {
	for _, tc := range []struct {
		ci, ok             bool
		wantFail, wantSkip bool
	}{
		{ci: true, ok: false, wantFail: true},
		{ci: false, ok: false, wantSkip: true},
		{ci: true, ok: true},
		{ci: false, ok: true},
	} {
		t.Run(fmt.Sprintf("ci=%v,ok=%v", tc.ci, tc.ok), func(t *testing.T) {
			if tc.ci {
				t.Setenv("CI", "true")
			} else {
				t.Setenv("CI", "")
			}
			r := &recorder{TB: t}
			chrometest.Need(r, tc.ok, "a part", "install it")
			if r.failed != tc.wantFail || r.skipped != tc.wantSkip {
				t.Errorf("failed=%v skipped=%v, want %v %v", r.failed, r.skipped, tc.wantFail, tc.wantSkip)
			}
		})
	}
}
