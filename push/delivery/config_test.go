package delivery

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestBuildZeroConfig(t *testing.T) {
	var buf bytes.Buffer
	r, err := Build(Config{}, slog.New(slog.NewTextHandler(&buf, nil)))
	if err != nil {
		t.Fatalf("Build(Config{}): %v", err)
	}
	if got := r.Providers(); !slices.Equal(got, []string{"log", "poll"}) {
		t.Errorf("providers = %v, want [log poll]", got)
	}
	for comm, want := range map[string]string{"fcm": "log", "gcm": "log", "apns": "log", "webhook": "log", "log": "log", "poll": "poll"} {
		if got, _, err := r.Route(testMessage(comm, "t")); err != nil || got != want {
			t.Errorf("%s goes to %q (%v), want %q", comm, got, err, want)
		}
	}
	m := testMessage("fcm", "t")
	m.AnswerCommand = "arbor-authenticator answer " + m.MessageID
	if err := r.Deliver(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.Contains(out, "development mode") || !strings.Contains(out, m.AnswerCommand) || strings.Contains(out, m.JWT) {
		t.Errorf("log output:\n%s", out)
	}
}

// exampleYAML is the documented configuration shape; the paths are filled in by the test.
const exampleYAML = `
providers:
  - name: fcm-prod
    type: fcm
    credentials_file: CREDENTIALS
    endpoint: FCM_ENDPOINT
    timeout: 5s
  - name: apns-prod
    type: apns
    key_file: P8_FILE
    key_id: KEYID12345
    team_id: TEAMID6789
    topic: com.example.arbor.authenticator
    endpoint: APNS_ENDPOINT
    ca_file: CA_FILE
  - name: dmz-relay
    type: webhook
    urls: [WEBHOOK_URL]
    secret_env: ARBOR_TEST_WEBHOOK_SECRET
    timeout: 3s
rules:
  - name: branch-offices
    networks: [10.20.0.0/16, "2001:db8:20::/48"]
    provider: dmz-relay
  - name: qa
    realms: [/staff]
    users: ["qa-*"]
    provider: log
defaults:
  fcm: fcm-prod
  apns: apns-prod
`

func TestBuildExampleEndToEnd(t *testing.T) {
	fcmPeer := newFCMPeer(t)
	keyFile, key := writeP8(t)
	apnsPeer := newAPNsPeer(t, &key.PublicKey)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: apnsPeer.srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	hook := newWebhookPeer(t, http.StatusOK, false)
	t.Setenv("ARBOR_TEST_WEBHOOK_SECRET", string(testWebhookSecret))
	doc := strings.NewReplacer(
		"CREDENTIALS", writeServiceAccount(t, fcmPeer.srv.URL+"/token"),
		"FCM_ENDPOINT", fcmPeer.srv.URL,
		"P8_FILE", keyFile,
		"APNS_ENDPOINT", apnsPeer.srv.URL,
		"CA_FILE", caFile,
		"WEBHOOK_URL", hook.srv.URL,
	).Replace(exampleYAML)

	var fromYAML Config
	dec := yaml.NewDecoder(strings.NewReader(doc))
	dec.KnownFields(true)
	if err := dec.Decode(&fromYAML); err != nil {
		t.Fatalf("YAML: %v", err)
	}
	if time.Duration(fromYAML.Providers[0].Timeout) != 5*time.Second {
		t.Errorf("timeout = %v", fromYAML.Providers[0].Timeout)
	}
	// The JSON form is the same structure.
	js, err := json.Marshal(fromYAML)
	if err != nil {
		t.Fatal(err)
	}
	var fromJSON Config
	jd := json.NewDecoder(bytes.NewReader(js))
	jd.DisallowUnknownFields()
	if err := jd.Decode(&fromJSON); err != nil {
		t.Fatalf("JSON %s: %v", js, err)
	}
	if !strings.Contains(string(js), `"timeout":"5s"`) {
		t.Errorf("JSON form: %s", js)
	}

	r, err := Build(fromJSON, quietLogger())
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	if got := r.Providers(); !slices.Equal(got, []string{"fcm-prod", "apns-prod", "dmz-relay", "log", "poll"}) {
		t.Errorf("providers = %v", got)
	}
	var results []string
	r.OnResult = func(p string, err error) {
		if err != nil {
			t.Errorf("%s: %v", p, err)
		}
		results = append(results, p)
	}
	ctx := context.Background()
	android := testMessage("gcm", "fcm-token")
	iphone := testMessage("apns", testAPNsTk)
	iphone.Device.Platform = "ios"
	branch := testMessage("fcm", "fcm-token")
	branch.ClientIP = "10.20.30.40"
	qa := testMessage("fcm", "fcm-token")
	qa.Realm, qa.User = "/staff", "qa-7"
	poller := testMessage("poll", "")
	for _, m := range []Message{android, iphone, branch, qa, poller} {
		if err := r.Deliver(ctx, m); err != nil {
			t.Fatalf("Deliver to %s: %v", m.Device.Communication, err)
		}
	}
	if want := []string{"fcm-prod", "apns-prod", "dmz-relay", "log", "poll"}; !slices.Equal(results, want) {
		t.Errorf("delivered through %v, want %v", results, want)
	}
	if _, sends := fcmPeer.counts(); sends != 1 {
		t.Errorf("FCM got %d sends", sends)
	}
	if sends, _ := apnsPeer.counts(); sends != 1 {
		t.Errorf("APNs got %d sends", sends)
	}
	if hook.hits.Load() != 1 {
		t.Errorf("webhook got %d posts", hook.hits.Load())
	}
}

func TestBuildDerivesDefaults(t *testing.T) {
	t.Setenv("ARBOR_TEST_WEBHOOK_SECRET", string(testWebhookSecret))
	r, err := Build(Config{Providers: []ProviderConfig{
		{Type: "webhook", URLs: []string{"https://relay.example/push"}, SecretEnv: "ARBOR_TEST_WEBHOOK_SECRET"},
	}}, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	for comm, want := range map[string]string{"webhook": "webhook", "poll": "poll", "log": "log"} {
		if got, rule, err := r.Route(testMessage(comm, "t")); err != nil || got != want || rule != DefaultRule {
			t.Errorf("%s: %q %q %v, want %q", comm, got, rule, err, want)
		}
	}
	// With providers configured, fcm devices are not silently logged.
	if _, _, err := r.Route(testMessage("fcm", "t")); !errors.Is(err, ErrNoProvider) {
		t.Errorf("fcm with no fcm provider: %v", err)
	}
}

func TestBuildRejects(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	p8, _ := writeP8(t)
	creds := writeServiceAccount(t, "http://127.0.0.1:1/token")
	apns := func(name string) ProviderConfig {
		return ProviderConfig{Name: name, Type: "apns", KeyFile: p8, KeyID: testKeyID, TeamID: testTeamID, Topic: testTopic}
	}
	hook := ProviderConfig{Name: "hook", Type: "webhook", URLs: []string{"https://relay.example"}, Secret: string(testWebhookSecret)}
	for _, tc := range []struct {
		name string
		cfg  Config
		want []string
	}{
		{"unknown type", Config{Providers: []ProviderConfig{{Name: "x", Type: "sms"}}},
			[]string{`providers[0] "x": unknown type "sms" (want one of fcm, apns, webhook, log, poll, challenge_service)`}},
		{"missing type", Config{Providers: []ProviderConfig{{Name: "x"}}},
			[]string{`providers[0] "x": type is required`}},
		{"missing type and name", Config{Providers: []ProviderConfig{{}}},
			[]string{`providers[0]: type is required`}},
		{"missing credentials file", Config{Providers: []ProviderConfig{{Name: "f", Type: "fcm", CredentialsFile: filepath.Join(dir, "missing.json")}}},
			[]string{`providers[0] "f": read credentials: open`, "missing.json: no such file or directory"}},
		{"no credentials file", Config{Providers: []ProviderConfig{{Type: "fcm"}}},
			[]string{`providers[0] "fcm": credentials_file is required`}},
		{"credentials not a key", Config{Providers: []ProviderConfig{{Type: "fcm", CredentialsFile: write("x.json", "not json")}}},
			[]string{"credentials are not a service account key"}},
		{"unreadable key", Config{Providers: []ProviderConfig{{Name: "a", Type: "apns", KeyFile: write("bad.p8", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), KeyID: "k", TeamID: "t", Topic: "x"}}},
			[]string{`providers[0] "a": signing key: not a PKCS#8 key`}},
		{"missing key file", Config{Providers: []ProviderConfig{{Name: "a", Type: "apns", KeyFile: filepath.Join(dir, "AuthKey.p8"), KeyID: "k", TeamID: "t", Topic: "x"}}},
			[]string{`providers[0] "a": read key: open`}},
		{"missing ca file", Config{Providers: []ProviderConfig{func() ProviderConfig { p := apns("a"); p.CAFile = filepath.Join(dir, "ca.pem"); return p }()}},
			[]string{`providers[0] "a": ca_file: read CA file`}},
		{"ca file without certificates", Config{Providers: []ProviderConfig{func() ProviderConfig { p := apns("a"); p.CAFile = write("empty.pem", "nothing"); return p }()}},
			[]string{"holds no PEM certificate"}},
		{"bad cidr", Config{Rules: []Rule{{Name: "office", Networks: []string{"10.0.0.0/40"}, Provider: "log"}}},
			[]string{`rules[0] "office": network "10.0.0.0/40"`}},
		{"rule names unknown provider", Config{Rules: []Rule{{Name: "office", Provider: "fcm-prod"}}},
			[]string{`rules[0] "office": unknown provider "fcm-prod" (have log, poll)`}},
		{"duplicate names", Config{Providers: []ProviderConfig{apns("ios"), apns("ios")}},
			[]string{`providers[1] "ios": duplicate provider name "ios"`}},
		{"duplicate default names", Config{Providers: []ProviderConfig{{Type: "log"}, {Type: "log"}}},
			[]string{`providers[1] "log": duplicate provider name "log"`}},
		{"field for another type", Config{Providers: []ProviderConfig{{Name: "f", Type: "fcm", CredentialsFile: creds, KeyFile: p8, URLs: []string{"https://x"}}}},
			[]string{`providers[0] "f": key_file, urls not valid for type fcm`}},
		{"timeout on poll", Config{Providers: []ProviderConfig{{Type: "poll", Timeout: Duration(time.Second)}}},
			[]string{"timeout not valid for type poll"}},
		{"webhook without secret", Config{Providers: []ProviderConfig{{Name: "h", Type: "webhook", URLs: []string{"https://x"}}}},
			[]string{`providers[0] "h": secret or secret_env is required`}},
		{"webhook secret env unset", Config{Providers: []ProviderConfig{{Name: "h", Type: "webhook", URLs: []string{"https://x"}, SecretEnv: "ARBOR_TEST_UNSET_VARIABLE"}}},
			[]string{"environment variable ARBOR_TEST_UNSET_VARIABLE is unset or empty"}},
		{"webhook both secrets", Config{Providers: []ProviderConfig{{Name: "h", Type: "webhook", URLs: []string{"https://x"}, Secret: "s", SecretEnv: "E"}}},
			[]string{"set secret or secret_env, not both"}},
		{"webhook without urls", Config{Providers: []ProviderConfig{{Name: "h", Type: "webhook", Secret: string(testWebhookSecret)}}},
			[]string{"urls is empty"}},
		{"default names unknown provider", Config{Defaults: map[string]string{"fcm": "fcm-prod"}},
			[]string{`defaults.fcm: unknown provider "fcm-prod"`}},
		{"default provider does not support", Config{Providers: []ProviderConfig{apns("ios")}, Defaults: map[string]string{"gcm": "ios"}},
			[]string{`defaults.gcm: provider "ios" does not support communication "fcm"`}},
		{"ambiguous default", Config{Providers: []ProviderConfig{apns("ios-a"), apns("ios-b")}},
			[]string{"defaults.apns: 2 providers of type apns (ios-a, ios-b); name the default"}},
		{"rule naming a broken provider is not reported twice", Config{Providers: []ProviderConfig{{Name: "f", Type: "fcm"}}, Rules: []Rule{{Provider: "f"}}},
			[]string{`providers[0] "f": credentials_file is required`}},
		{"every problem in a provider", Config{Providers: []ProviderConfig{{Name: "a", Type: "apns", KeyFile: filepath.Join(dir, "AuthKey.p8"), Endpoint: "http://plain"}}},
			[]string{"3 problems", `providers[0] "a": read key`, `providers[0] "a": missing key_id, team_id, topic`, `providers[0] "a": endpoint "http://plain": scheme must be https`}},
		{"every problem in a webhook", Config{Providers: []ProviderConfig{{Name: "h", Type: "webhook", URLs: []string{"mailto:x@y", "https://ok"}, Secret: "short", Communications: []string{"sms"}}}},
			[]string{"3 problems", `urls[0] "mailto:": want an absolute http or https URL`, "secret is 5 bytes", `unknown communication "sms"`}},
		{"a rule naming a provider of unknown type is not reported twice", Config{Providers: []ProviderConfig{{Name: "x", Type: "sms"}}, Rules: []Rule{{Provider: "x"}}},
			[]string{`unknown type "sms"`}},
		{"every problem at once", Config{
			Providers: []ProviderConfig{{Name: "x", Type: "sms"}, hook, hook, {Name: "f", Type: "fcm", CredentialsFile: filepath.Join(dir, "missing.json")}},
			Rules:     []Rule{{Name: "r1", Provider: "nope"}, {Name: "r2", Provider: "hook", Networks: []string{"bad"}, Users: []string{"["}}},
			Defaults:  map[string]string{"apns": "hook2"},
		}, []string{"7 problems", `unknown type "sms"`, `duplicate provider name "hook"`, "missing.json", `unknown provider "nope"`, `network "bad"`, `user pattern "["`, `defaults.apns: unknown provider "hook2"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Build(tc.cfg, quietLogger())
			var ce *ConfigError
			if r != nil || !errors.As(err, &ce) {
				t.Fatalf("Build = %v, %v; want a *ConfigError", r, err)
			}
			if !strings.HasPrefix(err.Error(), "delivery: invalid push configuration") {
				t.Errorf("error %q does not say what it is about", err)
			}
			for _, s := range tc.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error lacks %q:\n%s", s, err)
				}
			}
			if !strings.HasPrefix(tc.name, "every problem") && len(ce.Problems) != 1 {
				t.Errorf("%d problems reported, want 1:\n%s", len(ce.Problems), err)
			}
		})
	}
}

func TestDuration(t *testing.T) {
	var c ProviderConfig
	if err := yaml.Unmarshal([]byte("type: fcm\ntimeout: 1m30s\n"), &c); err != nil || time.Duration(c.Timeout) != 90*time.Second {
		t.Fatalf("YAML 1m30s: %v, %v", c.Timeout, err)
	}
	if err := json.Unmarshal([]byte(`{"type":"fcm","timeout":"250ms"}`), &c); err != nil || time.Duration(c.Timeout) != 250*time.Millisecond {
		t.Fatalf("JSON 250ms: %v, %v", c.Timeout, err)
	}
	for _, bad := range []string{`{"timeout":"soon"}`, `{"timeout":"-1s"}`, `{"timeout":5}`} {
		if err := json.Unmarshal([]byte(bad), &c); err == nil {
			t.Errorf("%s was accepted", bad)
		}
	}
	if err := yaml.Unmarshal([]byte("timeout: ten seconds\n"), &c); err == nil || !strings.Contains(err.Error(), "Go duration") {
		t.Errorf("YAML bad duration: %v", err)
	}
}
