package forgerock

import "github.com/arbor-auth/arbor/nodes"

// field maps one AM node attribute to one Arbor config field.
type field struct {
	// am is the attribute's name in AM's node config (the config method's name).
	am string
	// arbor is the Arbor config field; empty when Arbor has none, in which case only
	// the value in fixed can be honoured.
	arbor string
	// amDefault is AM's default, used when an export leaves the attribute out and
	// AM's default differs from Arbor's; nil means "use Arbor's default".
	amDefault any
	// fixed, for a field Arbor has no equivalent of, is the one value whose behaviour
	// Arbor has (any other is reported as unsupported_config).
	fixed any
	// atMost, for a number Arbor has no field for, is the largest value Arbor honours
	// (what Arbor does is at least that).
	atMost float64
	// enum maps AM's enum names to Arbor's values, in both directions; with numeric,
	// Arbor's values are numbers (written here in decimal).
	enum    [][2]string
	numeric bool
	// locale marks a localised text map: an empty map means "the default text".
	locale bool
}

// kind converts one AM node type to one Arbor node type and back.
type kind struct {
	// am is the AM node type that export writes; aliases are other AM types that
	// import converts the same way (ValidatedUsernameNode for UsernameCollectorNode).
	am      string
	aliases []string
	// arbor is the Arbor node type.
	arbor string
	// title is AM's display name of the type (_type.name in exports).
	title string
	// outcomes pairs AM's case-sensitive outcome ids with Arbor's, in AM's order.
	// Nil for the types whose outcomes come from their config (choice, page).
	outcomes [][2]string
	fields   []field
	// ignored are AM attributes with no effect on what a flow does in Arbor
	// (an IDM attribute name, a recovery code type Arbor does not distinguish).
	ignored []string
}

// kinds is every node type the converter knows, in the order of the palette. An AM
// type missing here, or whose Arbor type the registry lacks, is unsupported_node.
var kinds = []*kind{
	{am: "PageNode", arbor: "page", title: "Page Node"}, // children and outcomes: see special.go
	{am: "UsernameCollectorNode", aliases: []string{"ValidatedUsernameNode"}, arbor: "username", title: "Username Collector",
		outcomes: [][2]string{{"outcome", "outcome"}},
		fields:   []field{{am: "validateInput", fixed: false}},
		ignored:  []string{"usernameAttribute"}},
	{am: "PasswordCollectorNode", aliases: []string{"ValidatedPasswordNode"}, arbor: "password", title: "Password Collector",
		outcomes: [][2]string{{"outcome", "outcome"}},
		fields:   []field{{am: "validateInput", fixed: false}},
		ignored:  []string{"passwordAttribute"}},
	{am: "DataStoreDecisionNode", aliases: []string{"IdentityStoreDecisionNode"}, arbor: "data_store_decision", title: "Data Store Decision",
		// IdentityStoreDecisionNode spells its outcomes in capitals and has three more:
		// see identityStoreOutcomes.
		outcomes: [][2]string{{"true", "true"}, {"false", "false"}},
		// How AM finds the identity (Arbor looks the user up by name in the realm), and
		// AM's dialogue for changing an expired password, which Arbor does not have (its
		// EXPIRED outcome must lead where FALSE does).
		ignored: []string{"useUniversalIdForUsername", "minimumPasswordLength", "mixedCaseForPasswordChangeMessages"}},
	{am: "RetryLimitDecisionNode", arbor: "retry_limit", title: "Retry Limit Decision",
		outcomes: [][2]string{{"Retry", "retry"}, {"Reject", "reject"}},
		fields: []field{
			{am: "retryLimit", arbor: "retry_limit", amDefault: 3},
			{am: "incrementUserAttributeOnFailure", arbor: "save_on_user", amDefault: true},
		}},
	{am: "AccountLockoutNode", arbor: "account_lockout", title: "Account Lockout",
		outcomes: [][2]string{{"outcome", "outcome"}},
		fields:   []field{{am: "lockAction", arbor: "lock_action", amDefault: "LOCK", enum: [][2]string{{"LOCK", "lock"}, {"UNLOCK", "unlock"}}}}},
	{am: "IncrementLoginCountNode", arbor: "increment_login_count", title: "Increment Login Count",
		outcomes: [][2]string{{"outcome", "outcome"}},
		ignored:  []string{"identityAttribute"}},
	{am: "MessageNode", arbor: "message", title: "Message Node",
		outcomes: [][2]string{{"true", "true"}, {"false", "false"}},
		fields: []field{
			{am: "message", arbor: "message", locale: true, amDefault: map[string]any{"en": "Default message"}},
			{am: "messageYes", arbor: "yes", locale: true, amDefault: map[string]any{"en": "Yes"}},
			{am: "messageNo", arbor: "no", locale: true, amDefault: map[string]any{"en": "No"}},
			{am: "stateField", arbor: "state_field"},
		}},
	{am: "ChoiceCollectorNode", arbor: "choice", title: "Choice Collector"}, // see special.go
	{am: "SetStateNode", arbor: "set_state", title: "Set State",
		outcomes: [][2]string{{"outcome", "outcome"}},
		fields:   []field{{am: "attributes", arbor: "values"}}},
	{am: "InnerTreeEvaluatorNode", arbor: "inner_journey", title: "Inner Tree Evaluator",
		outcomes: [][2]string{{"true", "true"}, {"false", "false"}},
		fields:   []field{{am: "displayErrorOutcome", fixed: false}}}, // tree: see inner.go
	{am: "PushAuthenticationSenderNode", arbor: "push_sender", title: "Push Sender",
		outcomes: [][2]string{{"SENT", "sent"}, {"NOT_REGISTERED", "not_registered"}, {"SKIPPED", "skipped"}, {"FAILURE", "failure"}},
		fields: []field{
			{am: "messageTimeout", arbor: "message_timeout"},
			{am: "userMessage", arbor: "user_message", locale: true},
			{am: "mandatory", arbor: "mandatory"},
			{am: "contextInfo", arbor: "context_info"},
			{am: "customPayload", arbor: "custom_payload"},
			{am: "pushType", arbor: "push_type", amDefault: "DEFAULT",
				enum: [][2]string{{"DEFAULT", "tap"}, {"CHALLENGE", "challenge"}, {"BIOMETRIC", "biometric"}}},
			{am: "captureFailure", arbor: "capture_failure"},
		}},
	{am: "PushWaitNode", arbor: "push_wait", title: "Push Wait Node",
		outcomes: [][2]string{{"DONE", "done"}, {"EXITED", "exit"}},
		fields: []field{
			{am: "secondsToWait", arbor: "seconds_to_wait"},
			{am: "waitingMessage", arbor: "waiting_message", locale: true},
			{am: "challengeMessage", arbor: "challenge_message", locale: true},
			{am: "exitMessage", arbor: "exit_message", locale: true},
		}},
	{am: "PushResultVerifierNode", arbor: "push_result_verifier", title: "Push Result Verifier Node",
		outcomes: [][2]string{{"TRUE", "success"}, {"FALSE", "failure"}, {"EXPIRED", "expired"}, {"WAITING", "waiting"}}},
	{am: "PushRegistrationNode", arbor: "push_registration", title: "Push Registration",
		outcomes: [][2]string{{"successOutcome", "success"}, {"failureOutcome", "failure"}, {"timeoutOutcome", "timeout"}},
		fields: []field{
			{am: "issuer", arbor: "issuer", amDefault: "ForgeRock"},
			{am: "accountName", arbor: "account_name", amDefault: "USERNAME", enum: accountNames},
			{am: "bgColor", arbor: "color"},
			{am: "imgUrl", arbor: "image_url"},
			{am: "generateRecoveryCodes", arbor: "generate_recovery_codes"},
			{am: "timeout", arbor: "timeout"},
			{am: "scanQRCodeMessage", arbor: "scan_message", locale: true},
		}},
	{am: "MultiFactorRegistrationOptionsNode", arbor: "mfa_registration_options", title: "MFA Registration Options",
		outcomes: [][2]string{{"registerOutcome", "register"}, {"getAppOutcome", "get_app"}, {"skipOutcome", "skip"}, {"optOutOutcome", "opt_out"}},
		fields: []field{
			{am: "mandatory", arbor: "mandatory"},
			{am: "getApp", arbor: "get_app"},
			{am: "message", arbor: "message", locale: true},
			{am: "registerDeviceLabel", arbor: "register_label", locale: true},
			{am: "getAppLabel", arbor: "get_app_label", locale: true},
			{am: "skipStepLabel", arbor: "skip_label", locale: true},
			{am: "optOutLabel", arbor: "opt_out_label", locale: true},
		}},
	{am: "GetAuthenticatorAppNode", arbor: "get_authenticator_app", title: "Get Authenticator App",
		outcomes: [][2]string{{"outcome", "outcome"}},
		fields: []field{
			{am: "message", arbor: "message", locale: true},
			{am: "continueLabel", arbor: "continue_label", locale: true},
			{am: "appleLink", arbor: "apple_link"},
			{am: "googleLink", arbor: "google_link"},
		}},
	{am: "OptOutMultiFactorAuthenticationNode", arbor: "opt_out_mfa", title: "Opt-out Multi-Factor Authentication",
		outcomes: [][2]string{{"outcome", "outcome"}}},
	{am: "RecoveryCodeDisplayNode", arbor: "recovery_code_display", title: "Recovery Code Display Node",
		outcomes: [][2]string{{"outcome", "outcome"}}},
	{am: "RecoveryCodeCollectorDecisionNode", arbor: "recovery_code_collector_decision", title: "Recovery Code Collector Decision",
		outcomes: [][2]string{{"true", "true"}, {"false", "false"}},
		// Arbor keeps one set of recovery codes per user, whatever device made them.
		ignored: []string{"recoveryCodeType"}},
	{am: "OathRegistrationNode", arbor: "oath_registration", title: "OATH Registration",
		outcomes: [][2]string{{"successOutcome", "success"}, {"failureOutcome", "failure"}},
		fields: []field{
			{am: "issuer", arbor: "issuer", amDefault: "ForgeRock"},
			{am: "accountName", arbor: "account_name", amDefault: "USERNAME", enum: accountNames},
			{am: "algorithm", arbor: "kind", amDefault: "TOTP", enum: [][2]string{{"TOTP", "totp"}, {"HOTP", "hotp"}}},
			{am: "totpHashAlgorithm", arbor: "algorithm", amDefault: "HMAC_SHA1",
				enum: [][2]string{{"HMAC_SHA1", "SHA1"}, {"HMAC_SHA256", "SHA256"}, {"HMAC_SHA512", "SHA512"}}},
			{am: "passwordLength", arbor: "digits", amDefault: "SIX_DIGITS", numeric: true,
				enum: [][2]string{{"SIX_DIGITS", "6"}, {"EIGHT_DIGITS", "8"}}},
			{am: "totpTimeInterval", arbor: "period", amDefault: 30},
			{am: "generateRecoveryCodes", arbor: "generate_recovery_codes"},
			{am: "scanQRCodeMessage", arbor: "scan_message", locale: true},
			{am: "addChecksum", fixed: false},
			{am: "truncationOffset", fixed: -1},
			{am: "postponeDeviceProfileStorage", fixed: false},
			// In hex characters; Arbor's secrets are as long as the HMAC's output, 40
			// hex characters for SHA1 and more for the others.
			{am: "minSharedSecretLength", atMost: 40},
		},
		// How the account looks in the app.
		ignored: []string{"bgColor", "imgUrl"}},
	{am: "OathTokenVerifierNode", arbor: "oath_token_verifier", title: "OATH Token Verifier",
		outcomes: [][2]string{{"successOutcome", "success"}, {"failureOutcome", "failure"}, {"notRegisteredOutcome", "not_registered"}},
		fields: []field{
			{am: "hotpWindowSize", arbor: "hotp_look_ahead", amDefault: 100},
			{am: "totpTimeSteps", arbor: "totp_window", amDefault: 2},
			{am: "maximumAllowedClockDrift", arbor: "max_clock_drift", amDefault: 5},
			{am: "isRecoveryCodeAllowed", fixed: false},
		},
		// Arbor verifies a code as the user's device was registered (algorithm, hash,
		// period), so these need not be repeated on the verifier.
		ignored: []string{"algorithm", "totpTimeInterval", "totpHashAlgorithm"}},
	{am: "DeviceProfileCollectorNode", arbor: "device_profile_collector", title: "Device Profile Collector",
		outcomes: [][2]string{{"outcome", "outcome"}},
		fields: []field{
			{am: "maximumSize", arbor: "max_bytes"},
			{am: "deviceMetadata", arbor: "metadata"},
			{am: "deviceLocation", arbor: "location"},
			{am: "message", arbor: "message", locale: true},
		}},
}

// accountNames are AM's account name choices of the registration nodes and the user
// attributes Arbor names accounts by.
var accountNames = [][2]string{
	{"USERNAME", "username"}, {"EMAIL_ADDRESS", "mail"}, {"COMMON_NAME", "cn"},
	{"EMPLOYEE_NUMBER", "employeeNumber"}, {"GIVEN_NAME", "givenName"}, {"LAST_NAME", "sn"},
}

// byAM and byArbor index kinds.
var byAM, byArbor = func() (map[string]*kind, map[string]*kind) {
	am, ar := map[string]*kind{}, map[string]*kind{}
	for _, k := range kinds {
		am[k.am] = k
		for _, a := range k.aliases {
			am[a] = k
		}
		ar[k.arbor] = k
	}
	return am, ar
}()

// identityStoreOutcomes are IdentityStoreDecisionNode's outcome ids. Arbor's
// data_store_decision answers false for a locked, cancelled or expired account, so
// those may only lead where FALSE leads.
var identityStoreOutcomes = [][2]string{{"TRUE", "true"}, {"FALSE", "false"}}

// identityStoreFalseLike are IdentityStoreDecisionNode outcomes Arbor folds into false.
var identityStoreFalseLike = []string{"LOCKED", "CANCELLED", "EXPIRED"}

// Supports reports whether Import converts AM node type amType (an alias included) to
// a node type reg has; a nil reg has every Arbor type.
func Supports(amType string, reg *nodes.Registry) bool {
	k := byAM[amType]
	if k == nil {
		return false
	}
	if reg == nil {
		return true
	}
	_, ok := reg.Lookup(k.arbor)
	return ok
}

// Type is an AM node type: its id (_type._id) and display name.
type Type struct {
	ID, Name string
}

// Types lists the AM node types Import converts to a node type reg has (all the
// converter knows for a nil reg), aliases included, in palette order.
func Types(reg *nodes.Registry) []Type {
	var out []Type
	for _, k := range kinds {
		if !Supports(k.am, reg) {
			continue
		}
		out = append(out, Type{ID: k.am, Name: k.title})
		for _, a := range k.aliases {
			out = append(out, Type{ID: a, Name: k.title})
		}
	}
	return out
}
