package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/door"
	"github.com/arbor-auth/arbor/journeys"
	"github.com/arbor-auth/arbor/journeys/forgerock"
	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/store"
)

// JourneyStore is what AM's journey configuration endpoints need of the journey
// repository; *journeys.Repo implements it.
type JourneyStore interface {
	// Names lists the journeys.
	Names(ctx context.Context) ([]string, error)
	// Head returns a journey's current version (wrapping journeys.ErrNotFound if none).
	Head(ctx context.Context, name string) (*journeys.Compiled, error)
	// Enabled reports whether new flows may start on a journey.
	Enabled(ctx context.Context, name string) (bool, error)
	// Latest returns the current version as saved and whether it is enabled.
	Latest(ctx context.Context, name string) (*journeys.Version, bool, error)
	// SaveWith validates a journey document and stores it as a new version, enabled or
	// disabled in the same write when o.Enable says so.
	SaveWith(ctx context.Context, data []byte, o journeys.SaveOptions) (int, error)
	// Delete removes a journey (wrapping journeys.ErrNotFound if there is none, a
	// *journeys.InUseError if another runs it as an inner journey).
	Delete(ctx context.Context, name string) error
}

// stagedNodeTTL is how long a node PUT waits for the PUT of its tree.
const stagedNodeTTL = time.Hour

// amTrees serves .../realm-config/authentication/authenticationtrees: AM's trees and
// nodes over Arbor's journeys (see amconfig.go).
type amTrees struct {
	s    *Server
	repo JourneyStore
	reg  *nodes.Registry
}

type obj = map[string]any

// serve dispatches rest, the path after authenticationtrees ("/trees", "/trees/ID",
// "/nodes/TYPE/ID").
func (t *amTrees) serve(c echo.Context, realm, rest string, p *principal) error {
	parts := strings.Split(strings.Trim(rest, "/"), "/")
	method := c.Request().Method
	switch {
	case len(parts) == 1 && parts[0] == "trees" && method == http.MethodGet:
		return t.listTrees(c)
	case len(parts) == 2 && parts[0] == "trees":
		id := parts[1]
		if !validID(id) {
			return amError(http.StatusBadRequest, "Malformed tree id")
		}
		switch method {
		case http.MethodGet:
			return t.getTree(c, id)
		case http.MethodPut:
			return t.putTree(c, realm, id, p)
		case http.MethodDelete:
			return t.deleteTree(c, id, p)
		}
		return amError(http.StatusMethodNotAllowed, "Method not allowed: use GET, PUT or DELETE")
	case len(parts) == 3 && parts[0] == "nodes":
		typ, id := parts[1], parts[2]
		if !validID(typ) || !validID(id) {
			return amError(http.StatusBadRequest, "Malformed node type or id")
		}
		switch method {
		case http.MethodGet:
			return t.getNode(c, realm, typ, id)
		case http.MethodPut:
			return t.putNode(c, realm, typ, id)
		case http.MethodDelete:
			return t.deleteNode(c, realm, typ, id)
		}
		return amError(http.StatusMethodNotAllowed, "Method not allowed: use GET, PUT or DELETE")
	case len(parts) == 1 && parts[0] == "nodes" && method == http.MethodPost && c.QueryParam("_action") == "getAllTypes":
		return t.nodeTypes(c)
	}
	return amError(http.StatusNotFound, "Resource '"+treesResource+rest+"' not found")
}

// validID reports whether s can be an AM tree, node or node type id here: 1 to 128
// letters, digits, '-', '_', '.' or ' '.
func validID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.', r == ' ':
		default:
			return false
		}
	}
	return true
}

// queryResult is CREST's answer to a query.
func queryResult(result []any) obj {
	return obj{"result": result, "resultCount": len(result), "pagedResultsCookie": nil,
		"totalPagedResultsPolicy": "NONE", "totalPagedResults": -1, "remainingPagedResults": -1}
}

// exported is one journey as AM sees it: its frodo export.
type exported struct {
	Tree       obj `json:"tree"`
	Nodes      obj `json:"nodes"`
	InnerNodes obj `json:"innerNodes"`
}

// export returns the current version of journey name in frodo's format, or an AM error:
// 404 for no such journey, 400 naming what AM cannot express.
func (t *amTrees) export(ctx context.Context, name string) (*exported, error) {
	c, err := t.repo.Head(ctx, name)
	if errors.Is(err, journeys.ErrNotFound) {
		return nil, amError(http.StatusNotFound, "Not Found")
	}
	if err != nil {
		return nil, err
	}
	b, err := forgerock.Export([]*journeys.Journey{c.Journey}, t.reg, nil, nil)
	var ee forgerock.ExportError
	if errors.As(err, &ee) {
		return nil, problemsError(http.StatusBadRequest, "Journey '"+name+"' uses what AM cannot express, so it has no AM form", ee[name])
	}
	if err != nil {
		return nil, err
	}
	var e exported
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("read export of %q: %w", name, err)
	}
	en, err := t.repo.Enabled(ctx, name)
	if err != nil {
		return nil, err
	}
	e.Tree["enabled"] = en
	return &e, nil
}

// journeyName finds the journey an AM tree id names: itself, or the Arbor name an
// import would have given it (forgerock.NativeName: "Push Login" is push-login).
func (t *amTrees) journeyName(ctx context.Context, id string) (string, error) {
	names, err := t.repo.Names(ctx)
	if err != nil {
		return "", err
	}
	native := forgerock.NativeName(id)
	for _, n := range names {
		if n == id {
			return n, nil
		}
	}
	for _, n := range names {
		if n == native {
			return n, nil
		}
	}
	return "", amError(http.StatusNotFound, "Not Found")
}

func (t *amTrees) listTrees(c echo.Context) error {
	if q := c.QueryParam("_queryFilter"); q != "true" {
		return amError(http.StatusBadRequest, "Unsupported _queryFilter: only _queryFilter=true lists trees")
	}
	ctx := c.Request().Context()
	names, err := t.repo.Names(ctx)
	if err != nil {
		return err
	}
	result := make([]any, 0, len(names))
	for _, n := range names {
		e, err := t.export(ctx, n)
		var ae *amErr
		switch {
		case errors.As(err, &ae) && ae.status == http.StatusBadRequest:
			// A journey AM cannot express is still listed, so that an admin sees it;
			// reading it says why it has no AM form.
			result = append(result, obj{"_id": n, "enabled": true, "nodes": obj{}})
			continue
		case errors.As(err, &ae) && ae.status == http.StatusNotFound:
			continue // deleted since Names
		case err != nil:
			return err
		}
		result = append(result, e.Tree)
	}
	return c.JSON(http.StatusOK, queryResult(result))
}

func (t *amTrees) getTree(c echo.Context, id string) error {
	ctx := c.Request().Context()
	name, err := t.journeyName(ctx, id)
	if err != nil {
		return err
	}
	e, err := t.export(ctx, name)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, e.Tree)
}

// findNode finds node id among the current journeys: its config and the journey it
// belongs to.
func (t *amTrees) findNode(ctx context.Context, id string) (obj, string, error) {
	names, err := t.repo.Names(ctx)
	if err != nil {
		return nil, "", err
	}
	for _, n := range names {
		e, err := t.export(ctx, n)
		var ae *amErr
		if errors.As(err, &ae) {
			continue // not expressible in AM, or deleted since Names: none of its nodes has an AM id
		}
		if err != nil {
			return nil, "", err
		}
		if cfg, ok := e.Nodes[id].(obj); ok {
			return cfg, n, nil
		}
		if cfg, ok := e.InnerNodes[id].(obj); ok {
			return cfg, n, nil
		}
	}
	return nil, "", nil
}

func stagedKey(realm, id string) string { return "amconfig:node:" + realm + ":" + id }

// staged returns the node a PUT left aside, or nil.
func (t *amTrees) staged(ctx context.Context, realm, id string) (obj, error) {
	it, err := t.s.store.Get(ctx, stagedKey(realm, id))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var n obj
	if err := json.Unmarshal(it.Value, &n); err != nil {
		return nil, fmt.Errorf("staged node %s: %w", id, err)
	}
	return n, nil
}

// node finds node id: staged by a PUT, else in a current journey.
func (t *amTrees) node(ctx context.Context, realm, id string) (obj, string, error) {
	n, err := t.staged(ctx, realm, id)
	if err != nil || n != nil {
		return n, "", err
	}
	return t.findNode(ctx, id)
}

func nodeType(n obj) string {
	typ, _ := n["_type"].(obj)
	s, _ := typ["_id"].(string)
	return s
}

func (t *amTrees) getNode(c echo.Context, realm, typ, id string) error {
	n, _, err := t.node(c.Request().Context(), realm, id)
	if err != nil {
		return err
	}
	if n == nil || nodeType(n) != typ {
		return amError(http.StatusNotFound, "Not Found")
	}
	return c.JSON(http.StatusOK, n)
}

// readObject reads a JSON object body (bounded, declared as JSON).
func (t *amTrees) readObject(c echo.Context) (obj, error) {
	body, err := t.s.readBody(c)
	if err != nil {
		return nil, err
	}
	if !isJSON(c.Request().Header.Get("Content-Type")) {
		return nil, errNotJSON
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var o obj
	if err := dec.Decode(&o); err != nil || o == nil {
		msg := "the body must be a JSON object"
		if err != nil {
			msg = jsonErr(err)
		}
		return nil, amError(http.StatusBadRequest, "Malformed JSON request body: "+msg)
	}
	if dec.More() {
		return nil, amError(http.StatusBadRequest, "Malformed JSON request body: data after the JSON object")
	}
	return o, nil
}

// putNode keeps a node aside until the PUT of its tree. A node type Arbor cannot
// convert is AM's 404 for a node type the deployment does not have.
func (t *amTrees) putNode(c echo.Context, realm, typ, id string) error {
	n, err := t.readObject(c)
	if err != nil {
		return err
	}
	if got := nodeType(n); got != "" && got != typ {
		return amError(http.StatusBadRequest, fmt.Sprintf("The node's _type._id %q is not the type %q of the URL", got, typ))
	}
	if !forgerock.Supports(typ, t.reg) {
		return amError(http.StatusNotFound, fmt.Sprintf("Node type '%s' not found: Arbor has no node like it", typ))
	}
	n["_id"] = id
	tt, _ := n["_type"].(obj)
	if tt == nil {
		tt = obj{}
	}
	tt["_id"] = typ
	n["_type"] = tt
	delete(n, "_rev")
	b, err := json.Marshal(n)
	if err != nil {
		return fmt.Errorf("stage node %s: %w", id, err)
	}
	if _, err := t.s.store.Set(c.Request().Context(), stagedKey(realm, id), b, stagedNodeTTL); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, n)
}

// deleteNode deletes a node no journey uses (a staged one, or nothing: Arbor keeps no
// node outside a journey); a node a journey uses is a 409.
func (t *amTrees) deleteNode(c echo.Context, realm, typ, id string) error {
	ctx := c.Request().Context()
	n, journey, err := t.findNode(ctx, id)
	if err != nil {
		return err
	}
	if n != nil {
		return amError(http.StatusConflict, fmt.Sprintf("Node %s is part of the journey %s: change or delete the journey instead", id, journey))
	}
	if err := t.s.store.Delete(ctx, stagedKey(realm, id)); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return c.JSON(http.StatusOK, obj{"_id": id, "_type": obj{"_id": typ}})
}

// putTree converts the tree with its nodes (staged by PUTs, or already in a journey)
// and saves it as a new version of its journey. Nothing is saved unless the whole
// tree converts and validates. The tree's "enabled", when present, enables or disables
// the journey as the admin API does, with the same refusal to disable a realm's
// default or step-up journey; without it the journey keeps its flag (a new one is
// enabled).
func (t *amTrees) putTree(c echo.Context, realm, id string, p *principal) error {
	tree, err := t.readObject(c)
	if err != nil {
		return err
	}
	enable, err := treeEnabled(tree)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	tree["_id"] = id
	export := obj{"tree": tree, "nodes": obj{}, "innerNodes": obj{}}
	var used []string
	add := func(into, nid string) (obj, error) {
		n, _, err := t.node(ctx, realm, nid)
		if err != nil || n == nil {
			return nil, err // a missing config is reported by the conversion
		}
		export[into].(obj)[nid] = n
		used = append(used, nid)
		return n, nil
	}
	treeNodes, _ := tree["nodes"].(obj)
	for _, nid := range sortedKeys(treeNodes) {
		n, err := add("nodes", nid)
		if err != nil {
			return err
		}
		children, _ := n["nodes"].([]any) // a page node's inner nodes
		for _, ch := range children {
			if cid, _ := ch.(obj)["_id"].(string); cid != "" {
				if _, err := add("innerNodes", cid); err != nil {
					return err
				}
			}
		}
	}
	data, err := json.Marshal(export)
	if err != nil {
		return fmt.Errorf("tree %s: %w", id, err)
	}
	names, err := t.repo.Names(ctx)
	if err != nil {
		return err
	}
	known := map[string]bool{}
	for _, n := range names {
		known[n] = true
	}
	res := forgerock.Import([]forgerock.File{{Name: "trees/" + id, Data: data}},
		forgerock.Options{Registry: t.reg, Known: func(n string) bool { return known[n] }})
	if !res.OK() || len(res.Journeys) != 1 {
		var ps []forgerock.Problem
		ps = append(ps, res.Problems...)
		for _, j := range res.Journeys {
			ps = append(ps, j.Problems...)
		}
		return convertError(id, ps)
	}
	j := res.Journeys[0]
	if enable != nil && !*enable {
		if err := t.requiredBy(j.Name); err != nil {
			return err
		}
	}
	before, wasEnabled, err := t.repo.Latest(ctx, j.Name)
	action := "journey.updated"
	switch {
	case errors.Is(err, journeys.ErrNotFound):
		action, before, wasEnabled = "journey.created", nil, true
	case err != nil:
		return err
	}
	v, err := t.repo.SaveWith(ctx, j.Doc, journeys.SaveOptions{Source: "am-rest", Actor: p.actor(), Enable: enable,
		Same: func(cur, doc []byte) bool { return forgerock.SameJourney(cur, doc, t.reg) }})
	var inv *journeys.InvalidError
	if errors.As(err, &inv) {
		return problemsError(http.StatusBadRequest, "Journey '"+id+"' is invalid", inv.Problems)
	}
	if err != nil {
		return err
	}
	for _, nid := range used {
		if err := t.s.store.Delete(ctx, stagedKey(realm, nid)); err != nil && !errors.Is(err, store.ErrNotFound) {
			t.s.log.Warn("could not clear a staged node", "node", nid, "err", err) // it expires by itself
		}
	}
	switch {
	case before == nil:
		t.audit(ctx, p, action, j.Name, id, nil, obj{"version": v, "notes": j.Notes})
	case before.Version != v: // an unchanged tree saves no version and changes nothing
		t.audit(ctx, p, action, j.Name, id, obj{"version": before.Version}, obj{"version": v, "notes": j.Notes})
	}
	// The save set the state in its own write (SaveOptions.Enable), so a new journey
	// saved disabled was never startable.
	if enable != nil && *enable != wasEnabled {
		action := "journey.enabled"
		if !*enable {
			action = "journey.disabled"
		}
		t.audit(ctx, p, action, j.Name, id, obj{"enabled": wasEnabled}, obj{"enabled": *enable})
	}
	e, err := t.export(ctx, j.Name)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, e.Tree)
}

func (t *amTrees) deleteTree(c echo.Context, id string, p *principal) error {
	ctx := c.Request().Context()
	name, err := t.journeyName(ctx, id)
	if err != nil {
		return err
	}
	before, err := t.export(ctx, name)
	var ae *amErr
	if errors.As(err, &ae) && ae.status == http.StatusBadRequest {
		before, err = &exported{Tree: obj{"_id": name, "nodes": obj{}}}, nil
	}
	if err != nil {
		return err
	}
	if err := t.requiredBy(name); err != nil {
		return err
	}
	latest, enabled, err := t.repo.Latest(ctx, name)
	if err != nil {
		return t.journeyErr(err)
	}
	if err := t.repo.Delete(ctx, name); err != nil {
		return t.journeyErr(err)
	}
	t.audit(ctx, p, "journey.deleted", name, id, obj{"version": latest.Version, "enabled": enabled}, nil)
	return c.JSON(http.StatusOK, before.Tree)
}

// treeEnabled reads a tree's "enabled": nil when absent, and a 400 when it is not a
// boolean.
func treeEnabled(tree obj) (*bool, error) {
	v, ok := tree["enabled"]
	if !ok || v == nil {
		return nil, nil
	}
	b, ok := v.(bool)
	if !ok {
		return nil, amError(http.StatusBadRequest, "Invalid value for 'enabled': it must be true or false")
	}
	return &b, nil
}

// requiredBy refuses, in AM's shape, to disable or delete a realm's default or step-up
// journey.
func (t *amTrees) requiredBy(name string) error {
	var re *door.RequiredJourneyError
	if err := t.s.door.RequiredBy(name); errors.As(err, &re) {
		return amError(http.StatusConflict, fmt.Sprintf("Journey '%s' is the %s journey of realm %s; configure another one first", name, re.Role, re.Realm))
	}
	return nil
}

// journeyErr answers the repository's typed errors in AM's shape.
func (t *amTrees) journeyErr(err error) error {
	var inUse *journeys.InUseError
	switch {
	case errors.Is(err, journeys.ErrNotFound):
		return amError(http.StatusNotFound, "Not Found")
	case errors.As(err, &inUse):
		return amError(http.StatusConflict, fmt.Sprintf("Journey '%s' is run as an inner journey by %s; change those first", inUse.Name, strings.Join(inUse.By, ", ")))
	}
	return err
}

// audit records a change as the admin API does (event "admin.<action>", with the
// actor, the target and the versions before and after), naming this door and the tree
// id the client used.
func (t *amTrees) audit(ctx context.Context, p *principal, action, journey, tree string, before, after any) {
	d := map[string]any{"actor": p.actor(), "target": "journey:" + journey, "door": doorName, "api": "realm-config", "tree": tree}
	if before != nil {
		d["before"] = before
	}
	if after != nil {
		d["after"] = after
	}
	t.s.audit.Emit(ctx, audit.Event{Type: "admin." + action, Realm: p.Realm, User: p.User, Journey: journey, Session: p.Session,
		Client: p.ClientIP, Details: d})
}

// nodeTypes is AM's nodes?_action=getAllTypes: the AM node types Arbor converts.
func (t *amTrees) nodeTypes(c echo.Context) error {
	var result []any
	for _, typ := range forgerock.Types(t.reg) {
		result = append(result, obj{"_id": typ.ID, "name": typ.Name, "collection": true, "tags": []string{}})
	}
	return c.JSON(http.StatusOK, obj{"result": result})
}

// convertError is AM's 400 for a tree that does not convert, every problem in detail.
func convertError(id string, ps []forgerock.Problem) error {
	list := make([]any, len(ps))
	msgs := make([]string, len(ps))
	for i, p := range ps {
		list[i] = obj{"pointer": p.Pointer, "code": p.Code, "message": p.Message}
		msgs[i] = p.Pointer + ": " + p.Code + ": " + p.Message
	}
	return &amErr{status: http.StatusBadRequest, body: crestError{Code: 400, Reason: "Bad Request",
		Message: fmt.Sprintf("Journey '%s' cannot be imported into Arbor (%d problem(s)): %s", id, len(ps), strings.Join(msgs, "; ")),
		Detail:  map[string]any{"problems": list}}}
}

// problemsError is AM's error with Arbor's problems (pointer, code, message) in detail.
func problemsError(status int, msg string, ps nodes.Problems) error {
	fps := make([]forgerock.Problem, len(ps))
	for i, p := range ps {
		fps[i] = forgerock.Problem{Problem: p}
	}
	err := convertError("", fps).(*amErr)
	err.status, err.body.Code, err.body.Reason = status, status, reasonPhrase(status)
	msgs := make([]string, len(ps))
	for i, p := range ps {
		msgs[i] = p.String()
	}
	err.body.Message = msg + ": " + strings.Join(msgs, "; ")
	return err
}

func sortedKeys(m obj) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
