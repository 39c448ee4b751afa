// Package admin is Arbor's admin REST API, mounted on the main listener under
// /api/admin/v1: journeys (list, get any version, create, update with If-Match,
// validate, delete, versions, diff, rollback, enable and disable) and users (create,
// get, update attributes, set password, disable, enable, unlock, sessions, devices,
// recovery codes). It is a door like the others: sessions, the admin check and ending
// sessions go through the door core (package door); journeys through journeys.Repo,
// whose versions serve new flows on every instance within the head TTL.
//
// Who may call it: an API token (Authorization: Bearer arbor_<id>_<secret>, see
// Tokens; stored as a SHA-256 with scopes, an expiry and the realms it may manage), or
// the session of an admin of the top-level realm (roles attribute contains "admin") at
// the account's strongest enrolled level, from the session cookie or AM's session
// header. A state-changing request on a session cookie must carry
// X-Requested-With: arbor; no CORS is offered on the prefix.
//
// Errors are {"code","message"[,"problems"][,"journey"]} with a stable code (see the
// Code constants). Every change writes an audit event "admin.<action>" whose details
// hold the actor ("user:/realm/name" or "token:<id>"), the target and the state before
// and after, with secrets masked (redact).
//
// Where this implementation differs from the shared contract (prompts/adminapi-contract.md):
//   - A token restricted to realms cannot use the journeys endpoints (journeys are
//     shared by every realm): 403 auth.forbidden.
//   - GET /users/{u} also has "has_password". PUT /users/{u}/password with
//     "must_change": true flags the account, so a journey's password_change node (the
//     shipped fortigate journey has one) asks for a new password at the next login;
//     without it the flag is cleared.
//   - GET /users/{u}/sessions items are {"handle","created","expires","level",
//     "factors","journey"[,"restricted"]}: sessions do not record their door or client.
//   - Journey items also carry "actor" and, when the server's disabled_journeys names
//     the journey, "disabled_by_config": true ("enabled" is the store's flag).
//   - PUT or rollback with a document equal to the current one saves no new version and
//     answers the current version.
//   - DELETE of a built-in journey that is enabled is 409 journey.builtin_enabled;
//     disabling or deleting a realm's default or step-up journey is 409
//     journey.required; ending a session that does not exist and removing an unknown
//     device are 404 request.not_found.
//   - A problem's code is the journey validator's own (nodes.Code*: "unknown_type",
//     "dangling_target", ...), the same `arbor journeys validate` prints, not
//     "node."-prefixed; a document whose name differs from the URL's is "name_mismatch"
//     at "/name".
//   - POST /journeys/validate?test=true takes {"doc","cases"[,"users"]} ("cases" and
//     "users" as in a case file of `arbor journeys test`) and answers 200
//     {"valid":true,"tests":{"passed","results":[{"name":"request/<case>","passed","failure"}],"coverage"}}
//     (200 even when a case fails: "passed" says it); the cases run against the
//     document and the built-in journeys only, each on a fresh in-process server.
package admin
