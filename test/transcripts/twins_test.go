package transcripts

import (
	"context"
	"encoding/json"
	"os"
	"testing"

	"github.com/arbor-auth/arbor/journeys/forgerock"
)

// twinMode makes newEnv replace the built-in journeys with their ForgeRock twins (see
// TestImportedTwins). Tests of this package do not run in parallel, so a plain variable
// set around sequential subtests is enough.
var twinMode bool

// twinFixtures are frodo exports of the built-in journeys, written by hand from AM's
// node reference: each converts to a journey that must behave as the built-in one.
var twinFixtures = map[string]string{
	"login":    "../../journeys/forgerock/testdata/login.frodo.json",
	"push-mfa": "../../journeys/forgerock/testdata/push-mfa.frodo.json",
}

// TestImportedTwins runs the transcript tests again with every built-in journey
// replaced by its twin imported from a frodo export, against the same golden
// transcripts: an import that changed what a journey does would change its transcript.
func TestImportedTwins(t *testing.T) {
	if *update {
		t.Skip("-update writes the golden transcripts from the built-in journeys only")
	}
	for name, test := range map[string]func(*testing.T){
		"Login":                  TestLogin,
		"PushApprove":            TestPushApprove,
		"PushWaitingThenApprove": TestPushWaitingThenApprove,
		"PushDeny":               TestPushDeny,
		"PushWrongNumber":        TestPushWrongNumber,
		"PushExpiryResends":      TestPushExpiryResends,
		"ExitThenRecoveryCode":   TestExitThenRecoveryCode,
		"BadRecoveryCodes":       TestBadRecoveryCodes,
		"RegisterThenPush":       TestRegisterThenPush,
		"RegistrationTimesOut":   TestRegistrationTimesOut,
		"Skip":                   TestSkip,
		"OptOut":                 TestOptOut,
		"TransmissionFailure":    TestTransmissionFailure,
		"RateLimit":              TestRateLimit,
		"PushEventsAreMetrics":   TestPushEventsAreMetrics,
	} {
		t.Run(name, func(t *testing.T) {
			twinMode = true
			defer func() { twinMode = false }()
			test(t)
		})
	}
}

// importTwins converts the twin fixtures and saves each as a new version of the
// built-in journey it stands for, so the test's flows run the import.
func (e *env) importTwins() {
	e.t.Helper()
	ctx := context.Background()
	for builtin, path := range twinFixtures {
		b, err := os.ReadFile(path)
		if err != nil {
			e.t.Fatal(err)
		}
		res := forgerock.Import([]forgerock.File{{Name: path, Data: b}}, forgerock.Options{Registry: e.app.Registry})
		if !res.OK() || len(res.Journeys) != 1 {
			e.t.Fatalf("import %s refused: %+v %+v", path, res.Problems, res.Journeys)
		}
		var doc map[string]any
		if err := json.Unmarshal(res.Journeys[0].Doc, &doc); err != nil {
			e.t.Fatal(err)
		}
		doc["name"] = builtin
		renamed, _ := json.Marshal(doc)
		v, err := e.app.Journeys.Save(ctx, renamed, "import:"+path)
		if err != nil || v < 2 {
			e.t.Fatalf("save the twin of %s: version %d, %v", builtin, v, err)
		}
	}
}
