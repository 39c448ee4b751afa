package admin

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/labstack/echo/v4"
)

// CaseRunner runs journey test cases (the `arbor journeys test` format) against doc, a
// journey not saved anywhere, and reports each case. suite is one case file as JSON:
// {"journey","users","cases"}. internal/journeytest provides it; the admin package
// cannot import the runner, which boots whole servers through internal/app.
type CaseRunner func(ctx context.Context, doc []byte, suite []byte) (*CaseReport, error)

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

// validateAndTest answers POST /journeys/validate?test=true: the body is
// {"doc":{...},"users":[...],"cases":[...]}; the document is validated first (422 with
// its problems), then the cases run against it, and nothing is saved either way.
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
	rep, err := a.d.Cases(ctx, body.Doc, sb)
	if err != nil {
		if e, ok := asError(err); ok {
			return e
		}
		return errorf(http.StatusBadRequest, CodeInvalid, "The cases cannot run: %v.", err)
	}
	return c.JSON(http.StatusOK, map[string]any{"valid": true, "tests": rep})
}
