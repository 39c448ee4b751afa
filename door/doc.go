// Package door is the door core: what every door (REST, browser pages, RADIUS, the
// FortiGate- and LinOTP-style APIs, OpenID Connect, the admin API) shares, so that the
// rules about how a session is earned live in one place and no door can be the weak one.
//
// A door is a thin adapter between its wire format and the Core. It:
//   - builds the request context once with Core.Client (client address through trusted
//     proxies only, user agent, languages);
//   - names the realm with NormalizeRealm (or RealmFromPath for AM-style paths) and checks
//     it with Core.HasRealm;
//   - starts and continues flows with Core.Start and Core.Continue, which create the
//     session on success inside the engine's success hook and enforce the session rules
//     (no session without an identified user; no full session without a second factor
//     for a user who has one enrolled);
//   - checks a presented session with Core.Validate (realm and account status included)
//     and a sensitive action with Core.Authorize;
//   - picks a redirect with Core.Redirect, never by itself.
//
// A door never creates a session or checks a password itself.
//
// How a new door plugs in (the RADIUS door, in about ten lines):
//
//	func (d *radiusDoor) accessRequest(ctx context.Context, p *radius.Packet, from netip.Addr) {
//		cl := door.Client{IP: from.String(), UserAgent: "radius"}
//		var out *door.Outcome
//		var err error
//		if state := rfc2865.State_Get(p); state == nil {
//			out, err = d.core.Start(ctx, door.Start{Door: "radius", Realm: d.realm, Client: cl})
//		} else {
//			out, err = d.core.Continue(ctx, door.Continue{Door: "radius", Realm: d.realm,
//				FlowID: string(state), Answers: answersFrom(p), Client: cl})
//		}
//		switch {
//		case err != nil: // door.RefusedError, engine errors, store outage: Access-Reject
//		case out.Status == engine.NeedInput: // Access-Challenge with out.FlowID as State
//		case out.Status == engine.Succeeded: // Access-Accept; out.Session is the session
//		default: // Access-Reject with out.FailureMessage
//		}
//	}
//
// Decisions written down:
//   - Authentication levels: 0 no factor, 10 one factor, 20 two or more independent
//     factors. Factors are grouped by kind (pwd is knowledge; push and otp are
//     possession; recovery_code is a backup code and counts as a second factor), and the
//     level counts kinds, so push and otp together are still one kind.
//   - A user "has a second factor" when Deps.Enrollments lists one (a push device today,
//     OATH devices later). Such a user needs level 20 for a full session; a login at a
//     lower level is refused (RealmPolicy.MFABypass "refuse", the default) or yields a
//     restricted session ("restricted") that Authorize denies factor management and
//     admin pages.
//   - A door may attest factors its caller vouches for (Start.Attested: the LinOTP-style
//     door's otppin: none attests pwd, since its gateway checks the password). They count
//     in the level like verified ones, but only for a flow without a session: the door
//     answers a verdict, never grants a session on a caller's word (ErrAttestedSession).
//     Such a verdict is audited as EventAttested with the attested factors.
//   - Managing factors (removing a device, new recovery codes, opting out) needs a
//     session created less than Config.FreshFor ago, at the level the account demands;
//     otherwise Authorize answers with a *StepUpError naming the realm's step-up journey
//     (default "push-mfa"), never the password-only one.
//   - Admin pages need an admin at the admin's strongest enrolled level.
//   - Session validation re-reads the account (one store read): a locked user's sessions
//     stop validating at once. A session is only valid in the realm it was created in.
//   - The client address is the peer's, unless the peer is in Config.TrustedProxies:
//     then X-Forwarded-For is read from the right, skipping trusted proxies.
package door
