package admin_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/arbor-auth/arbor/internal/app"
	"github.com/arbor-auth/arbor/internal/app/apptest"
	"github.com/arbor-auth/arbor/internal/journeytest"
	"github.com/arbor-auth/arbor/journeys"
)

// TestValidateAndTest: validate?test=true runs the cases against the posted document,
// reports each, saves nothing, and refuses an invalid document before running anything.
func TestValidateAndTest(t *testing.T) {
	s := apptest.Start(t, apptest.Options{AppOptions: []app.Option{app.WithCaseRunner(journeytest.AdminRunner(journeytest.Options{}))}})
	e := &env{Server: s}
	root := e.root(t)
	b, err := journeys.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.Replace(string(b["login"]), `"name": "login"`, `"name": "login2"`, 1)
	cases := `[
	  {"name":"right password","steps":[{"input":{"NameCallback":"alice","PasswordCallback":"pw-123456"}},{"expect":{"result":"success"}}]},
	  {"name":"wrong expectation","steps":[{"input":{"NameCallback":"alice","PasswordCallback":"nope"}},{"expect":{"result":"success"}}]}]`
	body := `{"doc":` + doc + `,"users":[{"username":"alice","password":"pw-123456"}],"cases":` + cases + `}`
	r := e.call(t, root, http.MethodPost, "/journeys/validate?test=true", body)
	var got struct {
		Valid bool `json:"valid"`
		Tests struct {
			Passed  bool `json:"passed"`
			Results []struct {
				Name    string `json:"name"`
				Passed  bool   `json:"passed"`
				Failure string `json:"failure"`
			} `json:"results"`
			Coverage []string `json:"coverage"`
		} `json:"tests"`
	}
	if err := json.Unmarshal([]byte(r.raw), &got); err != nil || r.status != 200 {
		t.Fatalf("validate and test: %d %s", r.status, r.raw)
	}
	if !got.Valid || got.Tests.Passed || len(got.Tests.Results) != 2 || !got.Tests.Results[0].Passed ||
		got.Tests.Results[1].Passed || got.Tests.Results[1].Failure == "" || len(got.Tests.Coverage) == 0 ||
		!strings.Contains(got.Tests.Coverage[0], "login2") {
		t.Fatalf("report: %s", r.raw)
	}
	if names, _ := e.Journeys.Names(t.Context()); strings.Contains(strings.Join(names, ","), "login2") {
		t.Fatal("validate saved the journey")
	}
	bad := `{"doc":{"name":"x","start":"a","nodes":{"a":{"type":"nope","outcomes":{}}}},"cases":` + cases + `}`
	want(t, "invalid doc", e.call(t, root, http.MethodPost, "/journeys/validate?test=true", bad), http.StatusUnprocessableEntity, "journey.invalid")
	want(t, "no cases", e.call(t, root, http.MethodPost, "/journeys/validate?test=true", `{"doc":`+doc+`}`), http.StatusBadRequest, "request.invalid")
	want(t, "bad cases", e.call(t, root, http.MethodPost, "/journeys/validate?test=true", `{"doc":`+doc+`,"cases":[{"name":"x","steps":[{"device":"dance"}]}]}`),
		http.StatusBadRequest, "request.invalid")

	// A server built without a runner says it cannot run cases.
	plain := start(t)
	want(t, "no runner", plain.call(t, plain.root(t), http.MethodPost, "/journeys/validate?test=true", body), http.StatusBadRequest, "request.invalid")
}

// TestValidateAndTestSeesStoredJourneys: the cases of a posted journey run its inner
// journey as saved through this API (not a built-in one), and the posted document stands
// in for the stored journey of its own name.
func TestValidateAndTestSeesStoredJourneys(t *testing.T) {
	s := apptest.Start(t, apptest.Options{AppOptions: []app.Option{app.WithCaseRunner(journeytest.AdminRunner(journeytest.Options{}))}})
	e := &env{Server: s}
	root := e.root(t)
	greet := `{"name":"greet","start":"m","nodes":{"m":{"type":"message","config":{"message":{"en":"Hello from greet"}},"outcomes":{"true":"success","false":"failure"}}}}`
	outer := func(text string) string {
		return `{"name":"outer","start":"in","nodes":{` +
			`"in":{"type":"inner_journey","config":{"journey":"greet"},"outcomes":{"true":"m","false":"failure"}},` +
			`"m":{"type":"message","config":{"message":{"en":"` + text + `"}},"outcomes":{"true":"success","false":"failure"}}}}`
	}
	want(t, "save greet", e.call(t, root, http.MethodPost, "/journeys", greet), http.StatusCreated, "")
	want(t, "save outer", e.call(t, root, http.MethodPost, "/journeys", outer("stored outer")), http.StatusCreated, "")
	cases := `[{"name":"through greet","steps":[
	  {"expect":{"shows":"Hello from greet"},"input":{"ConfirmationCallback":0}},
	  {"expect":{"shows":"posted outer"},"input":{"ConfirmationCallback":0}},
	  {"expect":{"result":"failure"}}]}]`
	r := e.call(t, root, http.MethodPost, "/journeys/validate?test=true", `{"doc":`+outer("posted outer")+`,"cases":`+cases+`}`)
	var got struct {
		Tests struct {
			Passed  bool `json:"passed"`
			Results []struct {
				Passed bool `json:"passed"`
			} `json:"results"`
		} `json:"tests"`
	}
	if err := json.Unmarshal([]byte(r.raw), &got); err != nil || r.status != http.StatusOK || !got.Tests.Passed || len(got.Tests.Results) != 1 {
		t.Fatalf("validate and test: %d %s", r.status, r.raw)
	}
	if v, _, err := e.Journeys.Latest(t.Context(), "outer"); err != nil || v.Version != 1 || !strings.Contains(string(v.Doc), "stored outer") {
		t.Fatalf("the stored outer changed: %v %v", v, err)
	}
}
