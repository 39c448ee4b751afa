package admin

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/arbor-auth/arbor/journeys"
)

// CaseRunner runs journey test cases (the `arbor journeys test` format) against a
// journey not saved anywhere, and reports each case. internal/journeytest provides it;
// the admin package cannot import the runner, which boots whole servers through
// internal/app.
type CaseRunner func(ctx context.Context, run CaseRun) (*CaseReport, error)

// CaseRun is what a CaseRunner runs: the cases, the posted journey, and the server's
// stored journeys that the posted one may run (inner and step-up journeys), so the
// cases see what a real flow on this server would.
type CaseRun struct {
	// Doc is the journey under test.
	Doc []byte
	// Suite is one case file as JSON: {"journey","users","cases"}.
	Suite []byte
	// Stored are the current documents of the journeys saved on this server other than
	// the built-in ones as shipped and Doc's own name, by name.
	Stored map[string][]byte
	// Disabled names the stored or built-in journeys that are disabled here.
	Disabled []string
}

// CaseReport is what a CaseRunner found.
type CaseReport struct {
	// Passed is true when every case passed.
	Passed  bool         `json:"passed"`
	Results []CaseResult `json:"results"`
	// Coverage lists, per journey, the nodes and outcomes no case reached.
	Coverage []string `json:"coverage"`
}

// CaseResult is one case's outcome.
type CaseResult struct {
	Name    string `json:"name"`
	Passed  bool   `json:"passed"`
	Failure string `json:"failure,omitempty"`
}

// storedJourneys returns the current documents of the journeys this server stores, but
// for the built-in ones still as shipped (a case run loads those itself) and except, the
// posted document's name, which the posted document stands for; and which journeys are
// disabled.
func (a *API) storedJourneys(ctx context.Context, except string) (map[string][]byte, []string, error) {
	names, err := a.d.Journeys.Names(ctx)
	if err != nil {
		return nil, nil, err
	}
	stored := map[string][]byte{}
	var disabled []string
	for _, n := range names {
		if n == except {
			continue
		}
		v, enabled, err := a.d.Journeys.Latest(ctx, n)
		if errors.Is(err, journeys.ErrNotFound) {
			continue // deleted since the index was read
		}
		if err != nil {
			return nil, nil, err
		}
		if !enabled {
			disabled = append(disabled, n)
		}
		if v.Source != "builtin" {
			stored[n] = v.Doc
		}
	}
	return stored, disabled, nil
}

// validateAndTest answers POST /journeys/validate?test=true: the body is
// {"doc":{...},"users":[...],"cases":[...]}; the document is validated first (422 with
// its problems), then the cases run against it beside this server's stored journeys,
// the posted document standing in for its own name, and nothing is saved either way.
func (a *API) validateAndTest(c echo.Context) error {
	if a.d.Cases == nil {
		return errorf(http.StatusBadRequest, CodeInvalid, "This server cannot run test cases; run `arbor journeys test DIR` instead.")
	}
	var body struct {
		Doc   json.RawMessage `json:"doc"`
		Users json.RawMessage `json:"users"`
		Cases json.RawMessage `json:"cases"`
	}
	if err := a.decodeBody(c, &body); err != nil {
		return err
	}
	if len(body.Doc) == 0 || len(body.Cases) == 0 {
		return errorf(http.StatusBadRequest, CodeInvalid, "With test=true the body is {\"doc\": journey, \"cases\": [...]} (and optionally \"users\": [...]).")
	}
	ctx := c.Request().Context()
	comp, err := a.d.Journeys.Validate(ctx, body.Doc)
	if err != nil {
		return journeyError("", err)
	}
	suite := map[string]any{"journey": comp.Journey.Name, "cases": body.Cases}
	if len(body.Users) > 0 {
		suite["users"] = body.Users
	}
	sb, err := json.Marshal(suite)
	if err != nil {
		return err
	}
	run := CaseRun{Doc: body.Doc, Suite: sb}
	if run.Stored, run.Disabled, err = a.storedJourneys(ctx, comp.Journey.Name); err != nil {
		return err
	}
	rep, err := a.d.Cases(ctx, run)
	if err != nil {
		if e, ok := asError(err); ok {
			return e
		}
		return errorf(http.StatusBadRequest, CodeInvalid, "The cases cannot run: %v.", err)
	}
	return c.JSON(http.StatusOK, map[string]any{"valid": true, "tests": rep})
}
