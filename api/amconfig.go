package api

// AM's configuration endpoints, as far as frodo-cli 3.1.0 (frodo-lib 3.3.0) uses them
// to manage journeys of a classic AM deployment. Read from frodo-lib's sources
// (src/api/ServerInfoApi.ts, AuthenticateApi.ts, SessionApi.ts, TreeApi.ts, NodeApi.ts,
// src/ops/AuthenticateOps.ts, JourneyOps.ts) and checked on the wire by
// test/e2e/frodo_test.go. Every request carries the session cookie
// ("Cookie: iPlanetDirectoryPro=<tokenId>", the name read from serverinfo) once frodo
// has one, and these Accept-API-Version values: serverinfo/* resource=1.1,
// serverinfo/version resource=1.0, authenticate "resource=2.0, protocol=1.0",
// sessions resource=4.0, trees and nodes "protocol=2.1,resource=1.0". Arbor accepts
// any version.
//
// Every command first logs in (getTokens):
//
//	GET  /json/serverinfo/*                                    cookieName (no session yet)
//	POST /json/realms/root/authenticate                        empty body, X-OpenAM-Username and
//	                                                           X-OpenAM-Password (zero-page login)
//	POST /json/realms/root/sessions/?_action=getSessionInfo    {"tokenId"}: maxIdleExpirationTime
//	GET  /json/serverinfo/version                              version (7.x), fullVersion
//
// (a cached session from ~/.frodo/TokenCache.json skips the authenticate and
// getSessionInfo calls; frodo learns who it is from getSessionInfo, not from
// users?_action=idFromSession, and with --type classic it skips the OAuth probe that
// tells Identity Cloud and ForgeOps apart). `conn save --type classic URL USER PASSWORD` is that login
// alone. Then, with R the realm path (/realms/root for classic):
//
//	journey list:         GET .../json/R/realm-config/authentication/authenticationtrees/trees?_queryFilter=true
//	journey export -i ID: GET .../trees/ID, then GET .../nodes/TYPE/NODEID for every node of the tree
//	                      and every inner node of its page nodes (scripts, social providers and
//	                      SAML entities only for node types Arbor does not have)
//	journey import -i ID -f FILE:
//	                      GET .../trees?_queryFilter=true (inner journeys it needs), PUT
//	                      .../nodes/TYPE/NODEID for every inner node, then every node, GET
//	                      .../trees/ID when a node has no coordinates (404 is fine), PUT .../trees/ID
//	journey delete -i ID: DELETE .../trees/ID (the answer lists its nodes), then GET
//	                      .../nodes/PageNode/NODEID and DELETE .../nodes/TYPE/NODEID of every
//	                      node and inner node
//
// Arbor has journeys, not free-standing nodes, so nodes are a view of journeys: a GET
// finds the node in the current version of the journey that has it, a PUT keeps the
// node aside (in the store, for an hour) until the PUT of its tree converts the whole
// tree with journeys/forgerock and saves it as a new version through the journey
// repository, which validates it; a node type Arbor cannot convert is refused at its
// PUT with AM's 404 for a missing node type, and a tree that does not convert is
// refused with every problem and saves nothing. A DELETE of a node that no journey
// uses succeeds (there is nothing left of it); one that a journey uses is a 409.
//
// Only admins use these endpoints: a session of the top-level realm whose account has
// the admin role, at the account's strongest level (door.Core.Authorize with
// door.NeedAdmin); anyone else gets AM's 401 or 403. Every change is audited as the
// admin API audits it (admin.journey.created, .updated, .deleted, with the actor and
// the versions before and after). A realm's default or step-up journey cannot be
// deleted, nor one another journey runs as an inner journey (409).

import (
	"errors"
	"net/http"
	"path"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/arbor-auth/arbor/door"
	"github.com/arbor-auth/arbor/sessions"
)

// AMVersion is the AM version Arbor's configuration endpoints answer as: the REST
// shapes they speak are AM 7.5's. frodo reads the semantic version from it.
const AMVersion = "7.5.0"

// treesResource is where AM's journey configuration lives under a realm.
const treesResource = "realm-config/authentication/authenticationtrees"

// amConfig serves the configuration resources: serverinfo and the journey trees and
// nodes. It reports false for a resource that is none of them.
func (s *Server) amConfig(c echo.Context, realm, resource string) (bool, error) {
	switch {
	case resource == "serverinfo/*" || resource == "serverinfo/%2A":
		return true, s.serverInfo(c, realm)
	case resource == "serverinfo/version":
		return true, s.serverVersion(c)
	case resource == treesResource || strings.HasPrefix(resource, treesResource+"/"):
		if s.trees == nil {
			return false, nil
		}
		noStore(c)
		p, err := s.admin(c)
		if err != nil {
			return true, err
		}
		return true, s.trees.serve(c, realm, strings.TrimPrefix(resource, treesResource), p)
	}
	return false, nil
}

// serverInfo is AM's GET /json/serverinfo/*, which clients (XUI, frodo) read before
// anyone signs in: the session cookie's name above all.
func (s *Server) serverInfo(c echo.Context, realm string) error {
	if c.Request().Method != http.MethodGet {
		return amError(http.StatusMethodNotAllowed, "Method not allowed: use GET")
	}
	return c.JSON(http.StatusOK, map[string]any{
		"_id": "*", "_rev": "1",
		"cookieName":              s.cfg.CookieName,
		"secureCookie":            s.door.Secure(c.Request()),
		"domains":                 []string{},
		"protectedUserAttributes": []string{},
		"forgotPassword":          "false", "forgotUsername": "false", "kbaEnabled": "false",
		"selfRegistration": "false", "lang": "en-US", "successfulUserRegistrationDestination": "default",
		"socialImplementations": []any{}, "referralsEnabled": "false",
		"zeroPageLogin": map[string]any{"enabled": s.cfg.ZeroPageLogin, "refererWhitelist": []string{}, "allowedWithoutReferer": true},
		"realm":         realm, "xuiUserSessionValidationEnabled": true, "fileBasedConfiguration": true,
		"userIdAttributes": []string{},
	})
}

// serverVersion is AM's GET /json/serverinfo/version. Unlike serverinfo/* it tells
// only a signed-in caller (any user) what the server is.
func (s *Server) serverVersion(c echo.Context) error {
	noStore(c)
	if c.Request().Method != http.MethodGet {
		return amError(http.StatusMethodNotAllowed, "Method not allowed: use GET")
	}
	tok := s.token(c, nil)
	if tok == "" {
		return errAccessDenied
	}
	if _, err := s.door.Validate(c.Request().Context(), door.AnyRealm, tok); err != nil {
		if errors.Is(err, sessions.ErrInvalid) {
			return errAccessDenied
		}
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{
		"_id": "version", "_rev": "1", "version": AMVersion,
		"fullVersion": "Arbor, speaking ForgeRock Access Management " + AMVersion + " REST",
		"revision":    "arbor", "date": "",
	})
}

// errAccessDenied is AM's answer to a request without a valid session.
var errAccessDenied = &amErr{status: http.StatusUnauthorized, body: crestError{Code: 401, Reason: "Unauthorized", Message: "Access Denied"}}

// principal is the admin a configuration request acts for.
type principal struct {
	User, Realm, Session, ClientIP string
}

// actor names the admin in audit events as the admin API does: "user:/realm/name".
func (p *principal) actor() string { return "user:" + path.Join(p.Realm, p.User) }

// adminRealm is the realm whose admins manage every realm's journeys, as AM's amAdmin
// of the top-level realm does.
const adminRealm = "/"

// admin checks the caller is an admin of the top-level realm at the account's
// strongest level, by the door core's rules alone.
func (s *Server) admin(c echo.Context) (*principal, error) {
	tok := s.token(c, nil)
	if tok == "" {
		return nil, errAccessDenied
	}
	ctx := c.Request().Context()
	sess, u, err := s.door.ValidateUser(ctx, adminRealm, tok)
	if errors.Is(err, sessions.ErrInvalid) {
		return nil, errAccessDenied
	}
	if err != nil {
		return nil, err
	}
	var su *door.StepUpError
	switch err := s.door.AuthorizeUser(ctx, sess, u, door.NeedAdmin); {
	case errors.As(err, &su):
		return nil, amError(http.StatusForbidden, "This session is below the account's level: sign in again through the journey "+su.Journey+" first ("+su.Reason+")")
	case errors.Is(err, door.ErrForbidden):
		return nil, amError(http.StatusForbidden, "Only admins may read or change journeys")
	case err != nil:
		return nil, err
	}
	return &principal{User: sess.Username, Realm: sess.Realm, Session: sess.Handle, ClientIP: c.RealIP()}, nil
}
