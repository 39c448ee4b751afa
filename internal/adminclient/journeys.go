package adminclient

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/arbor-auth/arbor/admin"
)

// JourneySummary is one row of the journey list.
type JourneySummary struct {
	Name    string `json:"name"`
	Version int    `json:"version"`
	// Enabled is the store's flag (enable, disable); DisabledByConfig says the
	// server's disabled_journeys setting names the journey, which wins.
	Enabled          bool      `json:"enabled"`
	DisabledByConfig bool      `json:"disabled_by_config,omitempty"`
	Source           string    `json:"source"`
	Saved            time.Time `json:"saved"`
	// Actor is who saved the version (empty: loaded at start).
	Actor string `json:"actor,omitempty"`
}

// Journey is one version of a journey with its document.
type Journey struct {
	JourneySummary
	// Doc is the journey document as stored.
	Doc json.RawMessage `json:"doc"`
}

// Saved is the answer to a create, update or rollback: the version now current.
type Saved struct {
	Name    string `json:"name"`
	Version int    `json:"version"`
}

// VersionInfo describes one saved version of a journey: when, from where, by whom.
type VersionInfo struct {
	Version int       `json:"version"`
	Saved   time.Time `json:"saved"`
	Source  string    `json:"source"`
	// Actor is who saved it: "user:/realm/name", "token:<id>", or empty for versions
	// loaded from files.
	Actor string `json:"actor"`
}

// Diff is the unified diff between two versions' pretty-printed documents.
type Diff struct {
	From int    `json:"from"`
	To   int    `json:"to"`
	Diff string `json:"diff"`
}

// Enabled is the answer to enable and disable.
type Enabled struct {
	Name    string `json:"name"`
	Enabled bool   `json:"enabled"`
}

// ListJourneys returns every journey's current version, sorted by name.
func (c *Client) ListJourneys(ctx context.Context) ([]JourneySummary, error) {
	var out []JourneySummary
	_, err := c.call(ctx, request{method: http.MethodGet, path: "/journeys"}, &out)
	return out, err
}

// GetJourney returns version of the journey name (0: the current one). Its Version is
// the one the server's ETag names, which an update must send back.
func (c *Client) GetJourney(ctx context.Context, name string, version int) (*Journey, error) {
	return c.getJourney(ctx, name, version, false)
}

// currentVersion reads the current version of name for a save (a probe).
func (c *Client) currentVersion(ctx context.Context, name string) (int, error) {
	j, err := c.getJourney(ctx, name, 0, true)
	if err != nil {
		return 0, err
	}
	return j.Version, nil
}

func (c *Client) getJourney(ctx context.Context, name string, version int, probe bool) (*Journey, error) {
	var q url.Values
	if version > 0 {
		q = url.Values{"version": {strconv.Itoa(version)}}
	}
	var out Journey
	resp, err := c.call(ctx, request{method: http.MethodGet, path: "/journeys/" + seg(name), query: q, probe: probe}, &out)
	if err != nil {
		return nil, err
	}
	if n, err := strconv.Atoi(strings.Trim(strings.TrimPrefix(resp.etag, "W/"), `"`)); err == nil && out.Version == 0 {
		out.Version = n
	}
	return &out, nil
}

// CreateJourney saves doc as a new journey (version 1). A journey of that name that
// exists already is refused with journey.exists.
func (c *Client) CreateJourney(ctx context.Context, doc []byte) (*Saved, error) {
	var out Saved
	_, err := c.call(ctx, request{method: http.MethodPost, path: "/journeys", body: doc}, &out)
	return &out, err
}

// UpdateJourney saves doc as the next version of name, if the current version is still
// current (If-Match); otherwise the API refuses with journey.stale_version.
func (c *Client) UpdateJourney(ctx context.Context, name string, doc []byte, current int) (*Saved, error) {
	if current < 1 {
		return nil, fmt.Errorf("update journey %q: the current version to replace is required", name)
	}
	var out Saved
	_, err := c.call(ctx, request{method: http.MethodPut, path: "/journeys/" + seg(name), body: doc, ifMatch: current}, &out)
	return &out, err
}

// PutJourney saves doc under its own name: it creates the journey, or, if it exists,
// saves a new version on top of the current one. current is the version the caller's
// document was based on (0: whatever is current now, read first).
func (c *Client) PutJourney(ctx context.Context, doc []byte, current int) (*Saved, error) {
	var probe struct {
		Name string `json:"name"`
	}
	if err := json.Unmarshal(doc, &probe); err != nil || probe.Name == "" {
		// Let the server say what is wrong with the document, with its pointers.
		return c.CreateJourney(ctx, doc)
	}
	if current == 0 {
		var err error
		current, err = c.currentVersion(ctx, probe.Name)
		if IsCode(err, "journey.not_found") {
			return c.CreateJourney(ctx, doc)
		}
		if err != nil {
			return nil, err
		}
	}
	return c.UpdateJourney(ctx, probe.Name, doc, current)
}

// ValidateJourney checks doc without saving it. An invalid journey is an *Error with
// code journey.invalid and its problems.
func (c *Client) ValidateJourney(ctx context.Context, doc []byte) error {
	_, err := c.call(ctx, request{method: http.MethodPost, path: "/journeys/validate", body: doc}, nil)
	return err
}

// TestReport is what the server found running test cases against a document: the
// admin API's own answer type.
type TestReport = admin.CaseReport

// TestResult is one case's outcome.
type TestResult = admin.CaseResult

// ValidateAndTest checks doc and runs test cases against it on the server, saving
// nothing. cases is the "cases" list of an `arbor journeys test` case file for doc's
// journey and users its "users" (nil for none), as JSON. An invalid document is an
// *Error with its problems; failed cases are a report with Passed false, not an error.
func (c *Client) ValidateAndTest(ctx context.Context, doc []byte, users, cases json.RawMessage) (*TestReport, error) {
	body := jsonBody(struct {
		Doc   json.RawMessage `json:"doc"`
		Users json.RawMessage `json:"users,omitempty"`
		Cases json.RawMessage `json:"cases"`
	}{doc, users, cases})
	var out struct {
		Tests TestReport `json:"tests"`
	}
	_, err := c.call(ctx, request{method: http.MethodPost, path: "/journeys/validate", query: url.Values{"test": {"true"}}, body: body}, &out)
	if err != nil {
		return nil, err
	}
	return &out.Tests, nil
}

// DeleteJourney deletes the journey name and its versions.
func (c *Client) DeleteJourney(ctx context.Context, name string) error {
	_, err := c.call(ctx, request{method: http.MethodDelete, path: "/journeys/" + seg(name)}, nil)
	return err
}

// Versions lists the saved versions of name, oldest first.
func (c *Client) Versions(ctx context.Context, name string) ([]VersionInfo, error) {
	var out []VersionInfo
	_, err := c.call(ctx, request{method: http.MethodGet, path: "/journeys/" + seg(name) + "/versions"}, &out)
	return out, err
}

// Diff returns the unified diff from version from to version to of name.
func (c *Client) Diff(ctx context.Context, name string, from, to int) (*Diff, error) {
	q := url.Values{"from": {strconv.Itoa(from)}, "to": {strconv.Itoa(to)}}
	var out Diff
	_, err := c.call(ctx, request{method: http.MethodGet, path: "/journeys/" + seg(name) + "/diff", query: q}, &out)
	return &out, err
}

// Rollback saves a new version of name equal to version, if current is still the
// current version (0: whatever is current now, read first).
func (c *Client) Rollback(ctx context.Context, name string, version, current int) (*Saved, error) {
	if current == 0 {
		var err error
		if current, err = c.currentVersion(ctx, name); err != nil {
			return nil, err
		}
	}
	var out Saved
	body := jsonBody(struct {
		Version int `json:"version"`
	}{version})
	_, err := c.call(ctx, request{method: http.MethodPost, path: "/journeys/" + seg(name) + "/rollback", body: body, ifMatch: current}, &out)
	return &out, err
}

// SetJourneyEnabled enables or disables the journey name on every instance.
func (c *Client) SetJourneyEnabled(ctx context.Context, name string, enabled bool) (*Enabled, error) {
	action := "/disable"
	if enabled {
		action = "/enable"
	}
	var out Enabled
	_, err := c.call(ctx, request{method: http.MethodPost, path: "/journeys/" + seg(name) + action}, &out)
	return &out, err
}
