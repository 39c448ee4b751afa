package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/internal/app"
	"github.com/arbor-auth/arbor/internal/app/apptest"
	"github.com/arbor-auth/arbor/journeys"
)

const treesURL = "/json/realms/root/realm-config/authentication/authenticationtrees"

// do sends method to url with an optional session token (as frodo does, in a Cookie)
// and JSON body.
func do(t *testing.T, method, url, token string, body any, hdr ...string) resp {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = strings.NewReader(string(j))
	}
	req, _ := http.NewRequest(method, url, rd)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept-API-Version", "protocol=2.1,resource=1.0")
	if token != "" {
		req.Header.Set("Cookie", "iPlanetDirectoryPro="+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	raw, _ := io.ReadAll(r.Body)
	out := resp{status: r.StatusCode, header: r.Header, raw: raw}
	_ = json.Unmarshal(raw, &out.body)
	return out
}

// zeroPageToken signs user in with the zero-page headers and returns the session token.
func zeroPageToken(t *testing.T, base, user, pw string) string {
	t.Helper()
	r := post(t, base+"/json/realms/root/authenticate", nil, "X-OpenAM-Username", user, "X-OpenAM-Password", pw)
	tok, _ := r.body["tokenId"].(string)
	if r.status != 200 || tok == "" {
		t.Fatalf("login of %s: %d %s", user, r.status, r.raw)
	}
	return tok
}

// fixture is the frodo export of a push registration journey the e2e test imports.
func fixture(t *testing.T) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "test", "e2e", "testdata", "PushRegistration.journey.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// putAll PUTs the fixture's inner nodes, nodes and tree as frodo does, and returns the
// tree's answer.
func putAll(t *testing.T, base, tok string, fx map[string]any) resp {
	t.Helper()
	for _, group := range []string{"innerNodes", "nodes"} {
		for id, n := range fx[group].(map[string]any) {
			typ := n.(map[string]any)["_type"].(map[string]any)["_id"].(string)
			if r := do(t, "PUT", base+treesURL+"/nodes/"+typ+"/"+id, tok, n); r.status != 200 {
				t.Fatalf("PUT node %s: %d %s", id, r.status, r.raw)
			}
		}
	}
	tree := fx["tree"].(map[string]any)
	return do(t, "PUT", base+treesURL+"/trees/"+tree["_id"].(string), tok, tree)
}

// TestAMConfigAccess: serverinfo/* is public, serverinfo/version needs a session, and
// the journey configuration answers AM's 401 without a session, 403 to a non-admin
// and to an admin below the account's level, 200 to an admin.
func TestAMConfigAccess(t *testing.T) {
	a, srv := newApp(t, "--mfa-bypass", "restricted")
	apptest.AddUser(t, a, "/", "root", "admin secret", map[string]any{"roles": []any{"admin"}})
	apptest.AddUser(t, a, "/", "phoneadmin", "admin secret", map[string]any{"roles": []any{"admin"}})
	enrollPhone(t, a, "/", "phoneadmin")
	admin := zeroPageToken(t, srv.URL, "root", "admin secret")
	alice := zeroPageToken(t, srv.URL, "alice", "correct horse")
	restricted := zeroPageToken(t, srv.URL, "phoneadmin", "admin secret")

	info := do(t, "GET", srv.URL+"/json/serverinfo/*", "", nil)
	if info.status != 200 || info.body["cookieName"] != "iPlanetDirectoryPro" {
		t.Fatalf("serverinfo/*: %d %s", info.status, info.raw)
	}
	for _, tc := range []struct {
		name, url, token string
		status           int
	}{
		{"version without a session", "/json/serverinfo/version", "", 401},
		{"version with a forged session", "/json/serverinfo/version", "forged", 401},
		{"version with a session", "/json/serverinfo/version", alice, 200},
		{"trees without a session", treesURL + "/trees?_queryFilter=true", "", 401},
		{"trees as a user", treesURL + "/trees?_queryFilter=true", alice, 403},
		{"trees as an admin below the account's level", treesURL + "/trees?_queryFilter=true", restricted, 403},
		{"trees as an admin", treesURL + "/trees?_queryFilter=true", admin, 200},
		{"a node as a user", treesURL + "/nodes/PageNode/x", alice, 403},
		{"trees of realm alpha as an admin", "/json/realms/root/realms/alpha/realm-config/authentication/authenticationtrees/trees?_queryFilter=true", admin, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, "GET", srv.URL+tc.url, tc.token, nil)
			if r.status != tc.status {
				t.Fatalf("%d, want %d: %s", r.status, tc.status, r.raw)
			}
			if tc.status != 200 && (r.body["code"] != float64(tc.status) || r.body["message"] == "") {
				t.Errorf("not AM's error shape: %s", r.raw)
			}
			if strings.Contains(tc.url, "version") && tc.status == 200 && r.body["version"] != "7.5.0" {
				t.Errorf("version: %s", r.raw)
			}
		})
	}
}

// TestAMConfigTrees: trees and nodes over the journey repository, their refusals in
// AM's shape, and that a refused change saves nothing.
func TestAMConfigTrees(t *testing.T) {
	a, srv, tok := newTreeAdmin(t)
	ctx := context.Background()
	base := srv.URL + treesURL

	names, err := a.Journeys.Names(ctx)
	if err != nil {
		t.Fatal(err)
	}
	list := do(t, "GET", base+"/trees?_queryFilter=true", tok, nil)
	if list.status != 200 || list.body["resultCount"] != float64(len(names)) {
		t.Fatalf("list: %d %s", list.status, list.raw)
	}
	tree := do(t, "GET", base+"/trees/push-mfa", tok, nil)
	entry, _ := tree.body["entryNodeId"].(string)
	if tree.status != 200 || tree.body["_id"] != "push-mfa" || tree.body["enabled"] != true || entry == "" {
		t.Fatalf("tree: %d %s", tree.status, tree.raw)
	}
	page := do(t, "GET", base+"/nodes/PageNode/"+entry, tok, nil)
	if page.status != 200 || page.body["_id"] != entry || len(page.body["nodes"].([]any)) != 2 {
		t.Fatalf("entry node: %d %s", page.status, page.raw)
	}

	all := do(t, "POST", base+"/nodes?_action=getAllTypes", tok, "{}")
	if all.status != 200 || !strings.Contains(string(all.raw), `"_id":"PushRegistrationNode"`) || strings.Contains(string(all.raw), "WebAuthn") {
		t.Fatalf("getAllTypes: %d %s", all.status, all.raw)
	}

	fx := fixture(t)
	refusals := []struct {
		name, method, path string
		body               any
		hdr                []string
		status             int
		msg                string
	}{
		{"unknown tree", "GET", "/trees/nope", nil, nil, 404, "Not Found"},
		{"a query other than true", "GET", "/trees?_queryFilter=_id+eq+%22login%22", nil, nil, 400, "_queryFilter"},
		{"a node of the wrong type", "GET", "/nodes/DataStoreDecisionNode/" + entry, nil, nil, 404, "Not Found"},
		{"a node type Arbor lacks", "PUT", "/nodes/WebAuthnAuthenticationNode/9c1b", map[string]any{"_id": "9c1b"}, nil, 404, "WebAuthnAuthenticationNode"},
		{"a body type that is not the URL's", "PUT", "/nodes/PageNode/9c1b", map[string]any{"_type": map[string]any{"_id": "MessageNode"}}, nil, 400, "MessageNode"},
		{"not JSON", "PUT", "/nodes/PageNode/9c1b", "{}", []string{"Content-Type", "text/plain"}, 415, "JSON"},
		{"malformed JSON", "PUT", "/nodes/PageNode/9c1b", "{", nil, 400, "Malformed"},
		{"an array", "PUT", "/trees/x", "[]", nil, 400, "Malformed"},
		{"oversized", "PUT", "/trees/x", `{"a":"` + strings.Repeat("x", 70<<10) + `"}`, nil, 413, "larger"},
		{"a malformed id", "GET", "/trees/a%3Cb", nil, nil, 400, "Malformed"},
		{"a tree whose nodes were never PUT", "PUT", "/trees/PushRegistration", fx["tree"], nil, 400, "missing_node_config"},
		{"deleting a realm's default journey", "DELETE", "/trees/login", nil, nil, 409, "is the default journey of realm /"},
		{"deleting a node a journey has", "DELETE", "/nodes/PageNode/" + entry, nil, nil, 409, "push-mfa"},
		{"POST to a tree", "POST", "/trees/login", "{}", nil, 405, "Method"},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, tc.method, base+tc.path, tok, tc.body, tc.hdr...)
			if r.status != tc.status || r.body["code"] != float64(tc.status) || !strings.Contains(r.body["message"].(string), tc.msg) {
				t.Fatalf("%d %s, want %d mentioning %q", r.status, r.raw, tc.status, tc.msg)
			}
		})
	}
	if _, err := a.Journeys.Head(ctx, "pushregistration"); !errors.Is(err, journeys.ErrNotFound) {
		t.Fatalf("a refused tree was saved: %v", err)
	}

	// A tree whose node does not convert is refused with every problem, and nothing is
	// saved; the same tree with good nodes is saved, once (the second PUT changes
	// nothing and is not audited).
	bad := fixture(t)
	pr := bad["nodes"].(map[string]any)["c3d4e5f6-0718-4293-a4b5-c6d7e8f90a12"].(map[string]any)
	pr["accountName"] = "FAVOURITE_COLOUR"
	if r := putAll(t, srv.URL, tok, bad); r.status != 400 || !strings.Contains(string(r.raw), "accountName") ||
		r.body["detail"].(map[string]any)["problems"] == nil {
		t.Fatalf("bad config: %d %s", r.status, r.raw)
	}
	if _, err := a.Journeys.Head(ctx, "pushregistration"); !errors.Is(err, journeys.ErrNotFound) {
		t.Fatalf("a refused tree was saved: %v", err)
	}
	rec := recorder(a)
	for i := 0; i < 2; i++ {
		r := putAll(t, srv.URL, tok, fixture(t))
		if r.status != 200 || r.body["_id"] != "pushregistration" {
			t.Fatalf("PUT tree: %d %s", r.status, r.raw)
		}
	}
	c, err := a.Journeys.Head(ctx, "pushregistration")
	if err != nil || c.Version != 1 {
		t.Fatalf("saved journey: %v %v", c, err)
	}
	if got := do(t, "GET", base+"/trees/PushRegistration", tok, nil); got.status != 200 || got.body["entryNodeId"] != "a12bc5d0-3f5e-4c55-a2f0-0a9a4f3e9d10" {
		t.Fatalf("GET by the AM name: %d %s", got.status, got.raw)
	}
	del := do(t, "DELETE", base+"/trees/PushRegistration", tok, nil)
	if del.status != 200 || len(del.body["nodes"].(map[string]any)) != 4 {
		t.Fatalf("DELETE: %d %s", del.status, del.raw)
	}
	if r := do(t, "DELETE", base+"/nodes/PushRegistrationNode/c3d4e5f6-0718-4293-a4b5-c6d7e8f90a12", tok, nil); r.status != 200 {
		t.Fatalf("DELETE of a node of a deleted journey: %d %s", r.status, r.raw)
	}
	if _, err := a.Journeys.Head(ctx, "pushregistration"); !errors.Is(err, journeys.ErrNotFound) {
		t.Fatalf("deleted journey: %v", err)
	}
	var types []string
	for _, e := range rec.Events() {
		if strings.HasPrefix(e.Type, "admin.journey.") {
			types = append(types, e.Type)
			if e.Details["actor"] != "user:/root" {
				t.Errorf("%s: actor %v", e.Type, e.Details["actor"])
			}
		}
	}
	if strings.Join(types, ",") != "admin.journey.created,admin.journey.deleted" {
		t.Errorf("audit: %v", types)
	}
}

// TestAMConfigTreeEnabled: a tree PUT with "enabled" enables or disables its journey as
// the admin API does (audited), one without it keeps the flag, a realm's default journey
// cannot be disabled this way (nothing changes), and a flag that is not a boolean is a
// 400.
func TestAMConfigTreeEnabled(t *testing.T) {
	a, srv, tok := newTreeAdmin(t)
	ctx := context.Background()
	base := srv.URL + treesURL
	rec := recorder(a)
	enabled := func(name string) bool {
		t.Helper()
		_, en, err := a.Journeys.Latest(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		return en
	}

	fx := fixture(t)
	fx["tree"].(map[string]any)["enabled"] = false
	if r := putAll(t, srv.URL, tok, fx); r.status != 200 || r.body["enabled"] != false {
		t.Fatalf("PUT disabled tree: %d %s", r.status, r.raw)
	}
	if enabled("pushregistration") {
		t.Fatal("a tree PUT with enabled false is enabled")
	}
	if r := post(t, srv.URL+"/json/realms/root/authenticate?authIndexType=service&authIndexValue=pushregistration", nil); r.status == 200 {
		t.Fatalf("a disabled journey started: %s", r.raw)
	}
	// Each PUT with its nodes staged again, as frodo does, so the journey is unchanged
	// and only the flag can change.
	tree := fx["tree"].(map[string]any)
	delete(tree, "enabled")
	if r := putAll(t, srv.URL, tok, fx); r.status != 200 || r.body["enabled"] != false {
		t.Fatalf("PUT without enabled: %d %s", r.status, r.raw)
	}
	tree["enabled"] = true
	if r := putAll(t, srv.URL, tok, fx); r.status != 200 || r.body["enabled"] != true || !enabled("pushregistration") {
		t.Fatalf("PUT enabled: %d %s", r.status, r.raw)
	}
	tree["enabled"] = "no"
	if r := putAll(t, srv.URL, tok, fx); r.status != 400 || !strings.Contains(r.body["message"].(string), "enabled") || !enabled("pushregistration") {
		t.Fatalf("PUT enabled \"no\": %d %s", r.status, r.raw)
	}

	login := do(t, "GET", base+"/trees/login", tok, nil).body
	before, _, _ := a.Journeys.Latest(ctx, "login")
	login["enabled"] = false
	if r := do(t, "PUT", base+"/trees/login", tok, login); r.status != 409 || !strings.Contains(r.body["message"].(string), "is the default journey of realm /") {
		t.Fatalf("disabling the default journey: %d %s", r.status, r.raw)
	}
	if after, en, _ := a.Journeys.Latest(ctx, "login"); !en || after.Version != before.Version {
		t.Fatalf("a refused PUT changed login: version %d, enabled %t", after.Version, en)
	}

	types := journeyEvents(rec)
	if strings.Join(types, ",") != "admin.journey.created,admin.journey.disabled,admin.journey.enabled" {
		t.Errorf("audit: %v", types)
	}
}

// TestAMConfigTreePutBackSavesNothing: a tree PUT back as GET returned it, without its
// nodes (frodo's journey enable and disable do this), saves no new version and audits
// no update, although AM's export renames node ids and spells out every default: for
// every built-in journey and one imported from AM. Its enabled flag alone still changes
// the journey.
func TestAMConfigTreePutBackSavesNothing(t *testing.T) {
	a, srv, tok := newTreeAdmin(t)
	ctx := context.Background()
	rec := recorder(a)
	if r := putAll(t, srv.URL, tok, fixture(t)); r.status != 200 {
		t.Fatalf("import the fixture: %d %s", r.status, r.raw)
	}
	names, err := a.Journeys.Names(ctx)
	if err != nil {
		t.Fatal(err)
	}
	put := 0
	for _, name := range names {
		got := do(t, "GET", srv.URL+treesURL+"/trees/"+name, tok, nil)
		if got.status != 200 {
			continue // a journey AM cannot express is not served as a tree
		}
		before, _, _ := a.Journeys.Latest(ctx, name)
		if r := do(t, "PUT", srv.URL+treesURL+"/trees/"+name, tok, got.body); r.status != 200 {
			t.Fatalf("%s: PUT back: %d %s", name, r.status, r.raw)
		}
		if after, _, _ := a.Journeys.Latest(ctx, name); after.Version != before.Version {
			t.Errorf("%s: PUT back unchanged saved version %d (was %d)", name, after.Version, before.Version)
		}
		put++
	}
	if put < 3 {
		t.Fatalf("only %d journeys were served as trees", put)
	}
	tree := do(t, "GET", srv.URL+treesURL+"/trees/pushregistration", tok, nil).body
	tree["enabled"] = false
	before, _, _ := a.Journeys.Latest(ctx, "pushregistration")
	if r := do(t, "PUT", srv.URL+treesURL+"/trees/pushregistration", tok, tree); r.status != 200 || r.body["enabled"] != false {
		t.Fatalf("disable by PUT: %d %s", r.status, r.raw)
	}
	if after, en, _ := a.Journeys.Latest(ctx, "pushregistration"); en || after.Version != before.Version {
		t.Fatalf("disable by PUT: version %d (was %d), enabled %t", after.Version, before.Version, en)
	}
	types := journeyEvents(rec)
	if strings.Join(types, ",") != "admin.journey.created,admin.journey.disabled" {
		t.Errorf("audit: %v, want the fixture's creation and its disabling alone", types)
	}
}

// journeyEvents returns the types of the journey changes rec recorded, in order.
func journeyEvents(rec *audit.Recorder) []string {
	var types []string
	for _, e := range rec.Events() {
		if strings.HasPrefix(e.Type, "admin.journey.") {
			types = append(types, e.Type)
		}
	}
	return types
}

// newTreeAdmin starts an app with a top-level admin (root) and returns its session
// token, as frodo holds one to manage trees.
func newTreeAdmin(t *testing.T) (*app.App, *httptest.Server, string) {
	t.Helper()
	a, srv := newApp(t)
	apptest.AddUser(t, a, "/", "root", "admin secret", map[string]any{"roles": []any{"admin"}})
	return a, srv, zeroPageToken(t, srv.URL, "root", "admin secret")
}
