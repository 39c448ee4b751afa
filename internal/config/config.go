// Package config loads the settings of `arbor serve` from one declaration: each field of
// Config names its flag, environment variable and config-file key, with its default and
// usage. Precedence: command-line flag, then environment, then the config file, then the
// default. The README's configuration table is generated from the same declaration
// (`arbor config table`), so it cannot drift.
package config

import (
	"flag"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/arbor-auth/arbor/store/embedded"
)

// Config holds every setting of `arbor serve`.
type Config struct {
	ConfigFile       string        `key:"config" default:"" usage:"YAML config file with any of these settings (keys as in the key column)"`
	Listen           string        `key:"listen" default:"127.0.0.1:8080" usage:"Address the HTTP server listens on"`
	Redis            string        `key:"redis" default:"" usage:"Redis URL (redis://host:6379/0, or unix:///path/redis.sock?db=0); empty uses the embedded store in --data"`
	Data             string        `key:"data" default:"./data" usage:"Directory of the embedded store and the generated secret key"`
	StoreSync        string        `key:"store_sync" default:"accounts" usage:"Embedded store writes fsynced before they return: accounts (all but flows and sessions), all, or none"`
	Users            string        `key:"users" default:"" usage:"YAML users file imported at start"`
	Journeys         string        `key:"journeys" default:"" usage:"Directory of journey JSON files loaded at start (an invalid one stops the start)"`
	Demo             bool          `key:"demo" default:"false" usage:"Add the demo user demo / Ch4ng31t and print how to log in"`
	Secret           string        `key:"secret" default:"" usage:"Base64 master secret (32+ bytes); instances sharing Redis must share it. Empty: generated in --data"`
	PublicURL        string        `key:"public_url" default:"" usage:"Public base URL (https://id.example.com), for links and push callbacks behind NAT"`
	Realms           []string      `key:"realms" default:"" usage:"Extra realms besides / (comma-separated: alpha,beta)"`
	LogLevel         string        `key:"log_level" default:"info" usage:"debug, info, warn or error"`
	LogFormat        string        `key:"log_format" default:"text" usage:"text or json"`
	CookieName       string        `key:"cookie_name" default:"iPlanetDirectoryPro" usage:"Session cookie name"`
	SecureCookies    bool          `key:"secure_cookies" default:"false" usage:"Mark cookies Secure (always on for TLS requests)"`
	SuccessURL       string        `key:"success_url" default:"/" usage:"successUrl of a login without an allowed goto"`
	AllowedRedirects []string      `key:"allowed_redirects" default:"" usage:"URL prefixes a goto may redirect to (comma-separated)"`
	CORSOrigins      []string      `key:"cors_origins" default:"" usage:"Origins allowed to call the REST API with credentials (comma-separated)"`
	ZeroPageLogin    bool          `key:"zero_page_login" default:"true" usage:"Accept X-OpenAM-Username / X-OpenAM-Password on the first POST of /json/authenticate, as AM does (frodo-cli logs in this way)"`
	TrustedProxies   []string      `key:"trusted_proxies" default:"" usage:"Networks of reverse proxies whose X-Forwarded-For and X-Forwarded-Proto are believed (comma-separated: 10.0.0.0/8,::1); empty trusts none"`
	SessionIdle      time.Duration `key:"session_idle" default:"30m" usage:"Session idle timeout"`
	SessionMax       time.Duration `key:"session_max" default:"8h" usage:"Session maximum lifetime"`
	DefaultJourney   string        `key:"default_journey" default:"login" usage:"Journey a door starts when none is named (per realm: realm_settings in the config file)"`
	StepUpJourney    string        `key:"step_up_journey" default:"push-mfa" usage:"Journey a signed-in user goes through before removing a device or generating recovery codes; must verify the account's second factor"`
	OTPStepUpJourney string        `key:"otp_step_up_journey" default:"oath-mfa" usage:"The step-up journey for a user whose only second factor is an authenticator app (step_up_journey cannot verify them if it is a push journey)"`
	MFABypass        string        `key:"mfa_bypass" default:"refuse" usage:"A login that verified no second factor for a user who has one: refuse, or restricted (a session that cannot manage factors or reach admin pages)"`
	DisabledJourneys []string      `key:"disabled_journeys" default:"" usage:"Journeys no door may start (comma-separated), built-in ones included"`
	ReauthMaxAge     time.Duration `key:"reauth_max_age" default:"5m" usage:"How recent a login must be to remove a device or generate recovery codes on the devices page"`
	MetricsToken     string        `key:"metrics_token" default:"" usage:"Bearer token /metrics demands (empty: none)"`
	MetricsListen    string        `key:"metrics_listen" default:"" usage:"Serve /metrics only on this address (for example 127.0.0.1:9100), not on the main listener"`
	PprofListen      string        `key:"pprof_listen" default:"" usage:"Serve Go's profiler (/debug/pprof/) on this address, for measuring where CPU and memory go; keep it on loopback"`
	HashMemoryKiB    int           `key:"hash_memory_kib" default:"19456" usage:"argon2id memory for new password hashes, KiB"`
	HashIterations   int           `key:"hash_iterations" default:"2" usage:"argon2id iterations for new password hashes"`
	GCHeapFloorMiB   int           `key:"gc_heap_floor_mib" default:"32" usage:"Let the heap grow by at least this many MiB between garbage collections (fewer collections while little is live; 0: Go's default, also when GOGC is set)"`
	HashConcurrency  int           `key:"hash_concurrency" default:"0" usage:"Password hashes computed at once (0: number of CPUs); bounds memory under load"`
	ThrottleWindow   time.Duration `key:"throttle_window" default:"24h" usage:"How long the guessing defence remembers failed passwords and recovery codes"`
	ThrottlePairFree int           `key:"throttle_pair_free" default:"5" usage:"Failures per user and client address before each further one doubles a delay"`
	ThrottleAddrFree int           `key:"throttle_address_free" default:"100" usage:"Failures per client address, at any users, before delays start"`
	ThrottleUserFree int           `key:"throttle_user_free" default:"100" usage:"Failures per user from addresses it never signed in from before account-wide delays start (audited, expire by themselves)"`
	ThrottleDelay    time.Duration `key:"throttle_delay" default:"1s" usage:"First delay past the free failures; doubles with each further failure"`
	ThrottleMaxDelay time.Duration `key:"throttle_max_delay" default:"1h" usage:"Longest delay between guesses"`
	MaxBodyBytes     int64         `key:"max_body_bytes" default:"65536" usage:"Largest request body accepted"`
	ShutdownTimeout  time.Duration `key:"shutdown_timeout" default:"15s" usage:"How long a graceful shutdown waits for requests in flight"`

	// Extra holds config-file sections owned by other packages (for example "push").
	Extra map[string]yaml.Node `key:"-"`
}

// EnvName returns the environment variable of a key: ARBOR_ plus the key in upper case.
func EnvName(key string) string { return "ARBOR_" + strings.ToUpper(key) }

// Field describes one setting, for help and the README table.
type Field struct {
	Key, Flag, Env, Default, Usage, Type string
}

// Fields lists the settings in declaration order.
func Fields() []Field {
	t := reflect.TypeFor[Config]()
	var out []Field
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		key := f.Tag.Get("key")
		if key == "-" || key == "" {
			continue
		}
		out = append(out, Field{Key: key, Flag: "--" + strings.ReplaceAll(key, "_", "-"), Env: EnvName(key),
			Default: f.Tag.Get("default"), Usage: f.Tag.Get("usage"), Type: f.Type.String()})
	}
	return out
}

// Load parses args (after the subcommand) with env and an optional config file.
func Load(args []string, getenv func(string) string) (*Config, error) {
	var c Config
	v := reflect.ValueOf(&c).Elem()
	t := v.Type()
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	raw := map[string]*string{}
	for _, fd := range Fields() {
		s := new(string)
		raw[fd.Key] = s
		fs.Func(strings.TrimPrefix(fd.Flag, "--"), fd.Usage+" (env "+fd.Env+", default "+strconv.Quote(fd.Default)+")", func(val string) error {
			*s = val
			return nil
		})
	}
	// Boolean flags may be given bare (--demo).
	for i, a := range args {
		for _, fd := range Fields() {
			if fd.Type == "bool" && (a == fd.Flag || a == "-"+strings.TrimPrefix(fd.Flag, "--")) {
				args[i] = a + "=true"
			}
		}
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[strings.ReplaceAll(f.Name, "-", "_")] = true })

	value := func(key, def string) (string, bool) {
		if set[key] {
			return *raw[key], true
		}
		if e, ok := lookupEnv(getenv, EnvName(key)); ok {
			return e, true
		}
		return def, false
	}
	// The config file first, so flags and env override it.
	file, _ := value("config", "")
	fileVals := map[string]yaml.Node{}
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("read config file: %w", err)
		}
		if err := yaml.Unmarshal(b, &fileVals); err != nil {
			return nil, fmt.Errorf("config file %s: %w", file, err)
		}
	}
	known := map[string]bool{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		key := f.Tag.Get("key")
		if key == "-" || key == "" {
			continue
		}
		known[key] = true
		def := f.Tag.Get("default")
		s, explicit := value(key, def)
		if !explicit {
			if n, ok := fileVals[key]; ok {
				if err := n.Decode(v.Field(i).Addr().Interface()); err != nil {
					return nil, fmt.Errorf("config file %s: %s: %w", file, key, err)
				}
				continue
			}
		}
		if err := setField(v.Field(i), s); err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
	}
	c.Extra = map[string]yaml.Node{}
	for k, n := range fileVals {
		if !known[k] {
			c.Extra[k] = n
		}
	}
	return &c, c.validate()
}

// Sections owned by other packages; anything else unknown in the file is an error.
var sections = map[string]bool{"push": true, "realm_settings": true, "radius": true, "forward_auth": true, "oidc": true, "linotp": true, "fortigate": true}

func (c *Config) validate() error {
	var errs []string
	for k := range c.Extra {
		if !sections[k] {
			errs = append(errs, fmt.Sprintf("unknown config key %q", k))
		}
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Sprintf("log_level %q is not debug, info, warn or error", c.LogLevel))
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		errs = append(errs, fmt.Sprintf("log_format %q is not text or json", c.LogFormat))
	}
	if c.Listen == "" {
		errs = append(errs, "listen is empty")
	}
	if c.SessionIdle <= 0 || c.SessionMax <= 0 {
		errs = append(errs, "session_idle and session_max must be positive")
	}
	if c.ReauthMaxAge <= 0 || c.DefaultJourney == "" || c.StepUpJourney == "" || c.OTPStepUpJourney == "" {
		errs = append(errs, "reauth_max_age must be positive and default_journey, step_up_journey and otp_step_up_journey must name journeys")
	}
	if c.MFABypass != "refuse" && c.MFABypass != "restricted" {
		errs = append(errs, fmt.Sprintf("mfa_bypass %q is not refuse or restricted", c.MFABypass))
	}
	for _, j := range c.DisabledJourneys {
		if j == c.DefaultJourney || j == c.StepUpJourney || j == c.OTPStepUpJourney {
			errs = append(errs, fmt.Sprintf("journey %q is disabled but is the default or step-up journey", j))
		}
	}
	if c.HashMemoryKiB < 8 || c.HashIterations < 1 {
		errs = append(errs, "hash_memory_kib must be at least 8 and hash_iterations at least 1")
	}
	if _, err := embedded.ParseSyncMode(c.StoreSync); err != nil {
		errs = append(errs, fmt.Sprintf("store_sync %q is not accounts, all or none", c.StoreSync))
	}
	if c.GCHeapFloorMiB < 0 || c.GCHeapFloorMiB > 1<<20 {
		errs = append(errs, "gc_heap_floor_mib must be between 0 and 1048576")
	}
	if c.MaxBodyBytes < 1024 {
		errs = append(errs, "max_body_bytes must be at least 1024")
	}
	if len(errs) > 0 {
		return fmt.Errorf("bad configuration: %s", strings.Join(errs, "; "))
	}
	return nil
}

func lookupEnv(getenv func(string) string, name string) (string, bool) {
	if getenv == nil {
		return os.LookupEnv(name)
	}
	v := getenv(name)
	return v, v != ""
}

func setField(f reflect.Value, s string) error {
	switch f.Interface().(type) {
	case string:
		f.SetString(s)
	case bool:
		if s == "" {
			s = "false"
		}
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("%q is not true or false", s)
		}
		f.SetBool(b)
	case int, int64:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not a whole number", s)
		}
		f.SetInt(n)
	case time.Duration:
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("%q is not a duration like 30m", s)
		}
		f.SetInt(int64(d))
	case []string:
		var out []string
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
		f.Set(reflect.ValueOf(out))
	default:
		return fmt.Errorf("unsupported setting type %s", f.Type())
	}
	return nil
}

// Table renders the settings as a Markdown table for the README.
func Table() string {
	var b strings.Builder
	b.WriteString("| flag | environment | config file key | default | meaning |\n|---|---|---|---|---|\n")
	for _, f := range Fields() {
		def := f.Default
		if def == "" {
			def = "(none)"
		}
		fmt.Fprintf(&b, "| `%s` | `%s` | `%s` | `%s` | %s |\n", f.Flag, f.Env, f.Key, def, f.Usage)
	}
	return b.String()
}
