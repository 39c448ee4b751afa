package admin

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/door"
	"github.com/arbor-auth/arbor/journeys"
	"github.com/arbor-auth/arbor/nodes"
)

// journeyInfo is a journey in lists and gets.
type journeyInfo struct {
	Name    string `json:"name"`
	Version int    `json:"version"`
	Enabled bool   `json:"enabled"`
	// DisabledByConfig reports the server's disabled_journeys naming it, whatever the
	// store's flag says.
	DisabledByConfig bool            `json:"disabled_by_config,omitempty"`
	Source           string          `json:"source"`
	Saved            time.Time       `json:"saved"`
	Actor            string          `json:"actor,omitempty"`
	Doc              json.RawMessage `json:"doc,omitempty"`
}

func (a *API) info(v *journeys.Version, enabled bool) journeyInfo {
	return journeyInfo{Name: v.Name, Version: v.Version, Enabled: enabled, DisabledByConfig: a.d.Door.ConfigDisabled(v.Name),
		Source: v.Source, Saved: utc(v.Saved), Actor: v.Actor}
}

// journeyError maps the repository's errors to API errors.
func journeyError(name string, err error) error {
	var inv *journeys.InvalidError
	var stale *journeys.StaleError
	var inUse *journeys.InUseError
	switch {
	case errors.As(err, &inv):
		return invalidJourney(inv.Problems)
	case errors.As(err, &stale):
		return errorf(http.StatusPreconditionFailed, CodeStale, "Journey %q is at version %d now, not the version in If-Match; nothing was saved. Get it again and reapply your change.", name, stale.Current)
	case errors.As(err, &inUse):
		return errorf(http.StatusConflict, CodeJourneyInUse, "Journey %q is used as an inner journey by %s; change those first.", name, strings.Join(inUse.By, ", "))
	case errors.Is(err, journeys.ErrExists):
		return errorf(http.StatusConflict, CodeJourneyExists, "Journey %q already exists; change it with PUT and If-Match.", name)
	case errors.Is(err, journeys.ErrNotFound):
		return errorf(http.StatusNotFound, CodeJourneyNotFound, "There is no journey %q.", name)
	}
	return err
}

func (a *API) listJourneys(c echo.Context, _ *principal) error {
	ctx := c.Request().Context()
	names, err := a.d.Journeys.Names(ctx)
	if err != nil {
		return err
	}
	out := make([]journeyInfo, 0, len(names))
	for _, n := range names {
		v, enabled, err := a.d.Journeys.Latest(ctx, n)
		if errors.Is(err, journeys.ErrNotFound) {
			continue // deleted since the index was read
		}
		if err != nil {
			return err
		}
		out = append(out, a.info(v, enabled))
	}
	return c.JSON(http.StatusOK, out)
}

func (a *API) getJourney(c echo.Context, _ *principal) error {
	ctx := c.Request().Context()
	name := c.Param("name")
	v, enabled, err := a.d.Journeys.Latest(ctx, name)
	if err != nil {
		return journeyError(name, err)
	}
	if q := c.QueryParam("version"); q != "" {
		n, err := strconv.Atoi(q)
		if err != nil || n < 1 {
			return errorf(http.StatusBadRequest, CodeInvalid, "version must be a positive whole number, not %q.", q)
		}
		if v, err = a.version(c, name, n); err != nil {
			return err
		}
	}
	in := a.info(v, enabled)
	in.Doc = v.Doc
	c.Response().Header().Set("ETag", etag(v.Version))
	return c.JSON(http.StatusOK, in)
}

// version returns version n of an existing journey name, or the API's 404.
func (a *API) version(c echo.Context, name string, n int) (*journeys.Version, error) {
	ctx := c.Request().Context()
	latest, err := a.d.Journeys.HeadVersion(ctx, name)
	if err != nil {
		return nil, journeyError(name, err)
	}
	v, err := a.d.Journeys.Version(ctx, name, n)
	if errors.Is(err, journeys.ErrNotFound) {
		return nil, errorf(http.StatusNotFound, CodeJourneyNotFound, "Journey %q has no version %d; its latest is %d.", name, n, latest)
	}
	return v, err
}

func etag(v int) string { return `"` + strconv.Itoa(v) + `"` }

// ifMatch reads the If-Match header: the version a change is made against.
func ifMatch(c echo.Context) (int, error) {
	h := strings.TrimSpace(c.Request().Header.Get("If-Match"))
	if h == "" {
		return 0, errorf(http.StatusPreconditionRequired, CodeIfMatchRequired, "Send If-Match: \"N\" with the version you changed (the ETag of GET), so a change made meanwhile is not overwritten.")
	}
	v, err := strconv.Atoi(strings.Trim(strings.TrimPrefix(h, "W/"), `"`))
	if err != nil || v < 1 {
		return 0, errorf(http.StatusBadRequest, CodeInvalid, "If-Match must be a version such as \"3\", not %s.", h)
	}
	return v, nil
}

// readJourney reads a journey document body and returns it with its name.
func (a *API) readJourney(c echo.Context) ([]byte, string, error) {
	b, err := a.readBody(c)
	if err != nil {
		return nil, "", err
	}
	var probe struct {
		Name string `json:"name"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		// The validator reports it with a pointer.
		if _, verr := a.d.Journeys.Validate(c.Request().Context(), b); verr != nil {
			return nil, "", journeyError("", verr)
		}
		return nil, "", errorf(http.StatusBadRequest, CodeInvalid, "The body is not a journey document.")
	}
	return b, probe.Name, nil
}

func (a *API) createJourney(c echo.Context, p *principal) error {
	doc, name, err := a.readJourney(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	v, err := a.d.Journeys.SaveWith(ctx, doc, journeys.SaveOptions{Source: "api", Actor: p.Actor, Create: true})
	if err != nil {
		return journeyError(name, err)
	}
	a.event(ctx, p, "journey.created", "journey:"+name, audit.Event{Journey: name}, nil, map[string]any{"version": v, "doc": json.RawMessage(doc)})
	return c.JSON(http.StatusCreated, map[string]any{"name": name, "version": v})
}

func (a *API) putJourney(c echo.Context, p *principal) error {
	name := c.Param("name")
	at, err := ifMatch(c)
	if err != nil {
		return err
	}
	doc, docName, err := a.readJourney(c)
	if err != nil {
		return err
	}
	if docName != name {
		return invalidJourney(nodes.Problems{{Pointer: "/name", Code: "name_mismatch",
			Message: "The document's name " + strconv.Quote(docName) + " is not the journey in the URL, " + strconv.Quote(name) + "."}})
	}
	return a.saveAt(c, p, name, at, doc, "journey.updated", nil)
}

// saveAt saves doc as the next version of name if name is at version at, audits it
// with the version before and after, and answers {"name","version"}.
func (a *API) saveAt(c echo.Context, p *principal, name string, at int, doc []byte, action string, extra map[string]any) error {
	ctx := c.Request().Context()
	before, _, err := a.d.Journeys.Latest(ctx, name)
	if err != nil {
		return journeyError(name, err)
	}
	v, err := a.d.Journeys.SaveWith(ctx, doc, journeys.SaveOptions{Source: "api", Actor: p.Actor, IfVersion: at})
	if err != nil {
		return journeyError(name, err)
	}
	if v != before.Version { // an unchanged document saves nothing, so there is nothing to audit
		after := map[string]any{"version": v, "doc": json.RawMessage(doc)}
		for k, x := range extra {
			after[k] = x
		}
		a.event(ctx, p, action, "journey:"+name, audit.Event{Journey: name},
			map[string]any{"version": before.Version, "doc": before.Doc}, after)
	}
	c.Response().Header().Set("ETag", etag(v))
	return c.JSON(http.StatusOK, map[string]any{"name": name, "version": v})
}

func (a *API) validateJourney(c echo.Context, _ *principal) error {
	if c.QueryParam("test") == "true" {
		return a.validateAndTest(c)
	}
	doc, _, err := a.readJourney(c)
	if err != nil {
		return err
	}
	if _, err := a.d.Journeys.Validate(c.Request().Context(), doc); err != nil {
		return journeyError("", err)
	}
	return c.JSON(http.StatusOK, map[string]any{"valid": true})
}

func (a *API) deleteJourney(c echo.Context, p *principal) error {
	ctx := c.Request().Context()
	name := c.Param("name")
	before, enabled, err := a.d.Journeys.Latest(ctx, name)
	if err != nil {
		return journeyError(name, err)
	}
	if a.builtin[name] && enabled {
		return errorf(http.StatusConflict, CodeBuiltinEnabled, "Journey %q is built in; disable it before deleting it.", name)
	}
	if err := a.requiredBy(name); err != nil {
		return err
	}
	if err := a.d.Journeys.Delete(ctx, name); err != nil {
		return journeyError(name, err)
	}
	a.event(ctx, p, "journey.deleted", "journey:"+name, audit.Event{Journey: name},
		map[string]any{"version": before.Version, "enabled": enabled, "doc": before.Doc}, nil)
	return c.NoContent(http.StatusNoContent)
}

// requiredBy refuses a change that would leave a realm without its default or step-up
// journey.
func (a *API) requiredBy(name string) error {
	var re *door.RequiredJourneyError
	if err := a.d.Door.RequiredBy(name); errors.As(err, &re) {
		return errorf(http.StatusConflict, CodeJourneyRequired, "Journey %q is the %s journey of realm %s; it must stay enabled.", name, re.Role, re.Realm)
	}
	return nil
}

// versionInfo is one version in a journey's history.
type versionInfo struct {
	Version int       `json:"version"`
	Saved   time.Time `json:"saved"`
	Source  string    `json:"source"`
	Actor   string    `json:"actor"`
}

func (a *API) journeyVersions(c echo.Context, _ *principal) error {
	name := c.Param("name")
	vs, err := a.d.Journeys.Versions(c.Request().Context(), name)
	if err != nil {
		return journeyError(name, err)
	}
	out := make([]versionInfo, 0, len(vs))
	for _, v := range vs {
		out = append(out, versionInfo{Version: v.Version, Saved: utc(v.Saved), Source: v.Source, Actor: v.Actor})
	}
	return c.JSON(http.StatusOK, out)
}

// journeyDiff answers the unified diff between two versions of a journey, made by
// journeys.Diff so that the API, the CLI and the viewer show the same text for the same
// two versions.
func (a *API) journeyDiff(c echo.Context, _ *principal) error {
	name := c.Param("name")
	var vs [2]*journeys.Version
	for i, q := range []string{"from", "to"} {
		s := c.QueryParam(q)
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return errorf(http.StatusBadRequest, CodeInvalid, "%s must be a version number, not %q.", q, s)
		}
		v, err := a.version(c, name, n)
		if err != nil {
			return err
		}
		vs[i] = v
	}
	return c.JSON(http.StatusOK, map[string]any{"from": vs[0].Version, "to": vs[1].Version, "diff": journeys.DiffVersions(vs[0], vs[1])})
}

func (a *API) rollbackJourney(c echo.Context, p *principal) error {
	name := c.Param("name")
	at, err := ifMatch(c)
	if err != nil {
		return err
	}
	var body struct {
		Version int `json:"version"`
	}
	if err := a.decodeBody(c, &body); err != nil {
		return err
	}
	if body.Version < 1 {
		return errorf(http.StatusBadRequest, CodeInvalid, "The body must name the version to roll back to: {\"version\": N}.")
	}
	old, err := a.version(c, name, body.Version)
	if err != nil {
		return err
	}
	return a.saveAt(c, p, name, at, old.Doc, "journey.rolled_back", map[string]any{"from_version": body.Version})
}

func (a *API) enableJourney(enabled bool) handler {
	return func(c echo.Context, p *principal) error {
		ctx := c.Request().Context()
		name := c.Param("name")
		_, was, err := a.d.Journeys.Latest(ctx, name)
		if err != nil {
			return journeyError(name, err)
		}
		if !enabled {
			if err := a.requiredBy(name); err != nil {
				return err
			}
		}
		if err := a.d.Journeys.SetEnabled(ctx, name, enabled); err != nil {
			return journeyError(name, err)
		}
		action := "journey.enabled"
		if !enabled {
			action = "journey.disabled"
		}
		if was != enabled {
			a.event(ctx, p, action, "journey:"+name, audit.Event{Journey: name}, map[string]any{"enabled": was}, map[string]any{"enabled": enabled})
		}
		return c.JSON(http.StatusOK, map[string]any{"name": name, "enabled": enabled})
	}
}
