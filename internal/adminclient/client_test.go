package adminclient_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/arbor-auth/arbor/admin"
	"github.com/arbor-auth/arbor/internal/adminclient"
	"github.com/arbor-auth/arbor/internal/app/apptest"
)

const hello = `{"name":"hello","start":"m","nodes":{"m":{"type":"message","config":{"message":{"en":"Hello"}},"outcomes":{"true":"success","false":"failure"}}}}`

// TestClient drives the typed client against a real server: PutJourney creates, then
// adds a version on the current one; a stale version and an invalid document are
// *Errors with the API's code, status and problems; a server without the admin API is
// an *Error too, with what it said.
func TestClient(t *testing.T) {
	s := apptest.Start(t, apptest.Options{})
	ctx := context.Background()
	tok, _, err := admin.NewTokens(s.Store, nil).Create(ctx, admin.NewToken{Name: "t", Scopes: []admin.Scope{admin.ScopeJourneysWrite}, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	var seen []int
	c := &adminclient.Client{URL: s.URL, Token: tok, OnResponse: func(status int, _ []byte) { seen = append(seen, status) }}

	if r, err := c.PutJourney(ctx, []byte(hello), 0); err != nil || r.Version != 1 {
		t.Fatalf("create: %+v %v", r, err)
	}
	// The probe for the current version is not shown to OnResponse: only the save.
	if len(seen) != 1 || seen[0] != http.StatusCreated {
		t.Errorf("OnResponse saw %v, want [201]", seen)
	}
	if r, err := c.PutJourney(ctx, []byte(strings.Replace(hello, "Hello", "Hi", 1)), 0); err != nil || r.Version != 2 {
		t.Fatalf("update: %+v %v", r, err)
	}
	j, err := c.GetJourney(ctx, "hello", 1)
	if err != nil || j.Version != 1 || !strings.Contains(string(j.Doc), "Hello") {
		t.Fatalf("get version 1: %+v %v", j, err)
	}

	_, err = c.UpdateJourney(ctx, "hello", []byte(hello), 1)
	var ae *adminclient.Error
	if !errors.As(err, &ae) || ae.Status != http.StatusPreconditionFailed || ae.Code != "journey.stale_version" || !adminclient.IsCode(err, "journey.stale_version") {
		t.Errorf("stale update: %v", err)
	}
	_, err = c.CreateJourney(ctx, []byte(`{"name":"bad","start":"a","nodes":{"a":{"type":"teleport","outcomes":{}}}}`))
	if !errors.As(err, &ae) || ae.Status != http.StatusUnprocessableEntity || len(ae.Problems) == 0 || ae.Problems[0].String() != `/nodes/a/type: unknown_type: unknown node type "teleport"` {
		t.Errorf("invalid create: %v %+v", err, ae)
	}
	if _, err := c.UpdateJourney(ctx, "hello", []byte(hello), 0); err == nil || errors.As(err, &ae) {
		t.Errorf("update without a version must fail before any request: %v", err)
	}

	// A server that is not the admin API (the path does not exist there).
	other := &adminclient.Client{URL: s.URL + "/nothing-here", Token: tok}
	_, err = other.ListJourneys(ctx)
	if !errors.As(err, &ae) || ae.Status != http.StatusNotFound || ae.Code != "" || ae.Error() == "" {
		t.Errorf("no admin API there: %v %+v", err, ae)
	}
}
