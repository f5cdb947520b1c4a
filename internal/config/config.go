// Package config turns what a user configured (pyroscope.Config, or the
// CLI's flags) and the PYROSCOPE_* environment into Settings: validated,
// with defaults applied, each value in exactly one field. Start and
// cmd/pyroscope both resolve through Resolve, so a variable means the same to
// both and every error names the field or variable at fault.
package config

import (
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pyroscope-sdk/pyroscope-go/internal/logging"
)

// Config is what a caller asks for, with the meaning and environment
// variable of each field as pyroscope.Config documents them. Zero values
// are read from the environment, then defaulted.
type Config struct {
	ApplicationName   string
	Tags              map[string]string
	ServerAddress     string
	Protocol          string
	AuthToken         string
	AuthTokenFile     string
	BasicAuthUser     string
	BasicAuthPassword string
	TenantID          string
	HTTPHeaders       map[string]string
	HTTPClient        HTTPClient

	UploadRate           time.Duration
	ProfileTypes         []string
	DefaultProfileTypes  []string // used when ProfileTypes and PYROSCOPE_PROFILE_TYPES are empty
	DisableGCRuns        bool
	MutexProfileFraction int
	BlockProfileRate     int
	SampleRate           uint32

	Logger logging.Printf

	QueueBytes    int
	UploadTimeout time.Duration
	StopTimeout   time.Duration

	TLSCAFile, TLSCertFile, TLSKeyFile string
	TLSInsecureSkipVerify              bool

	DisableAutomaticResets bool

	// Names says how the user set a field, by field name ("UploadRate":
	// "--upload-rate"), for the messages about it; a field it leaves out
	// is named "Config.<field>". The CLI fills it with its flags.
	Names map[string]string

	fromEnv map[string]string // field -> the variable Resolve read it from
}

// name is how the user set field, for a message: Names[field], else the
// variable Resolve read it from, else "Config.<field>".
func (c *Config) name(field string) string {
	if n := c.Names[field]; n != "" {
		return n
	}
	if v := c.fromEnv[field]; v != "" {
		return v
	}
	return "Config." + field
}

// HTTPClient sends requests; *http.Client satisfies it.
type HTTPClient interface {
	Do(*http.Request) (*http.Response, error)
}

// Protocols, as Settings.Protocol holds them.
const (
	ProtocolIngest = "ingest"
	ProtocolPush   = "push"
	ProtocolParca  = "parca"
	ProtocolDir    = "dir" // a file:// address, whatever Protocol said
)

// Defaults of the fields that have one.
const (
	DefaultUploadRate    = 15 * time.Second
	DefaultUploadTimeout = 10 * time.Second
	DefaultStopTimeout   = 10 * time.Second
	DefaultSampleRate    = 100
	DefaultLogLevel      = logging.Warn // for the standard logger; a Logger of the caller's gets Debug
)

// ProfileTypes are the profile type names Resolve accepts.
var ProfileTypes = []string{
	"cpu", "inuse_objects", "alloc_objects", "inuse_space", "alloc_space",
	"goroutines", "mutex_count", "mutex_duration", "block_count",
	"block_duration", "goroutine_leak",
}

// Settings are a resolved Config: every value from the Config, the
// environment or the defaults, validated and parsed.
type Settings struct {
	// App is the application name without tags; Tags are those of the
	// name, PYROSCOPE_TAGS and Config.Tags, validated.
	App  string
	Tags map[string]string
	// Address is the server address (a file:// URL for the directory
	// sink), without a trailing slash; Protocol is one of the Protocol*.
	Address  string
	Protocol string

	// Token or TokenFile (at most one) is the bearer token; TokenSource
	// names where it came from ("Config.AuthToken", "PYROSCOPE_AUTH_TOKEN",
	// ...) for the messages that explain a rejected token. The secrets
	// print as "[redacted]", so Settings can be logged.
	Token                  Secret
	TokenFile, TokenSource string
	BasicUser              string
	BasicPassword          Secret
	TenantID               string
	Headers                map[string]string
	HTTPClient             HTTPClient // nil: the SDK builds its own

	TLSCAFile, TLSCertFile, TLSKeyFile string
	TLSInsecureSkipVerify              bool

	UploadRate, UploadTimeout, StopTimeout time.Duration
	QueueBytes                             int

	// Types are the profile types asked for, in order, without repeats.
	Types                []string
	SampleRate           int
	MutexProfileFraction int
	BlockProfileRate     int
	DisableGCRuns        bool
	// Manual is Config.DisableAutomaticResets: windows are cut only on
	// Flush and Stop.
	Manual bool

	// Renamed maps each tag key the user gave that servers cannot store
	// to the key sent instead (TagKey).
	Renamed map[string]string

	// Log writes the SDK's lines to the Logger, filtered by
	// PYROSCOPE_LOG_LEVEL, each with the attribute app.
	Log logging.Func
}

// LookupEnv reads an environment variable, as os.LookupEnv does; tests and
// the CLI pass their own.
type LookupEnv func(string) (string, bool)

// Resolve applies the environment to cfg and validates the result; env nil
// means os.LookupEnv. Every error starts "pyroscope: " and names the Config
// field or variable at fault and how to fix it.
func Resolve(cfg Config, env LookupEnv) (*Settings, error) {
	if env == nil {
		env = os.LookupEnv
	}
	c := cfg // the environment fills what cfg left unset
	c.fromEnv = map[string]string{}
	str := func(field *string, fieldName, name string) {
		if *field == "" {
			if v, ok := env(name); ok {
				*field = strings.TrimSpace(v)
				c.fromEnv[fieldName] = name
			}
		}
	}
	str(&c.ApplicationName, "ApplicationName", "PYROSCOPE_APPLICATION_NAME")
	str(&c.ServerAddress, "ServerAddress", "PYROSCOPE_SERVER_ADDRESS")
	str(&c.Protocol, "Protocol", "PYROSCOPE_PROTOCOL")
	str(&c.BasicAuthUser, "BasicAuthUser", "PYROSCOPE_BASIC_AUTH_USER")
	str(&c.BasicAuthPassword, "BasicAuthPassword", "PYROSCOPE_BASIC_AUTH_PASSWORD")
	str(&c.TenantID, "TenantID", "PYROSCOPE_TENANT_ID")
	str(&c.TLSCAFile, "TLSCAFile", "PYROSCOPE_TLS_CA_FILE")
	str(&c.TLSCertFile, "TLSCertFile", "PYROSCOPE_TLS_CERT_FILE")
	str(&c.TLSKeyFile, "TLSKeyFile", "PYROSCOPE_TLS_KEY_FILE")
	if v, ok := env("PYROSCOPE_ADHOC_SERVER_ADDRESS"); ok && strings.TrimSpace(v) != "" {
		c.ServerAddress = strings.TrimSpace(v)
		c.fromEnv["ServerAddress"] = "PYROSCOPE_ADHOC_SERVER_ADDRESS"
	}
	s := &Settings{
		BasicUser: c.BasicAuthUser, BasicPassword: NewSecret(c.BasicAuthPassword), TenantID: c.TenantID,
		Headers: c.HTTPHeaders, HTTPClient: c.HTTPClient,
		TLSCAFile: c.TLSCAFile, TLSCertFile: c.TLSCertFile, TLSKeyFile: c.TLSKeyFile,
		DisableGCRuns: c.DisableGCRuns, Manual: c.DisableAutomaticResets,
	}
	for _, step := range []func(*Config, *Settings, LookupEnv) error{
		resolveToken, resolveNumbers, resolveTypes, resolveName, resolveAddress, resolveLog,
	} {
		if err := step(&c, s, env); err != nil {
			return nil, err
		}
	}
	if len(s.Renamed) > 0 {
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(s.Renamed)) {
			parts = append(parts, fmt.Sprintf("%q as %q", k, s.Renamed[k]))
		}
		s.Log.Logf(logging.Info, "tag keys sent as the servers store them: %s", strings.Join(parts, ", "))
	}
	return s, nil
}

func resolveToken(c *Config, s *Settings, env LookupEnv) error {
	switch {
	case c.AuthToken != "":
		s.Token, s.TokenSource = NewSecret(c.AuthToken), c.name("AuthToken")
	case c.AuthTokenFile != "":
		s.TokenFile, s.TokenSource = c.AuthTokenFile, c.name("AuthTokenFile")
	default:
		if v, ok := env("PYROSCOPE_AUTH_TOKEN"); ok && strings.TrimSpace(v) != "" {
			s.Token, s.TokenSource = NewSecret(strings.TrimSpace(v)), "PYROSCOPE_AUTH_TOKEN"
		} else if v, ok := env("PYROSCOPE_AUTH_TOKEN_FILE"); ok && strings.TrimSpace(v) != "" {
			s.TokenFile, s.TokenSource = strings.TrimSpace(v), "PYROSCOPE_AUTH_TOKEN_FILE"
		}
	}
	if c.AuthToken != "" && c.AuthTokenFile != "" {
		return fmt.Errorf("pyroscope: both a token (%s) and a token file (%s) are set: drop one", c.name("AuthToken"), c.name("AuthTokenFile"))
	}
	if (s.Token.IsSet() || s.TokenFile != "") && (s.BasicUser != "" || s.BasicPassword.IsSet()) {
		return fmt.Errorf("pyroscope: a token (from %s) and basic auth (BasicAuthUser/BasicAuthPassword or PYROSCOPE_BASIC_AUTH_*) are both set, which is ambiguous: drop the basic auth for a Pyroscope API key or Polar Signals token, or drop the token", s.TokenSource)
	}
	if s.TokenFile != "" {
		if _, err := os.Stat(s.TokenFile); err != nil {
			return fmt.Errorf("pyroscope: %s: %w", s.TokenSource, err)
		}
	}
	return nil
}

func resolveNumbers(c *Config, s *Settings, env LookupEnv) error {
	dur := func(field *time.Duration, fieldName, name string, def time.Duration) error {
		if *field == 0 {
			if v, ok := env(name); ok && strings.TrimSpace(v) != "" {
				d, err := time.ParseDuration(strings.TrimSpace(v))
				if err != nil || d <= 0 {
					return fmt.Errorf("pyroscope: %s=%q is not a positive Go duration (like 15s or 1m)", name, v)
				}
				*field = d
			}
		}
		if *field < 0 {
			return fmt.Errorf("pyroscope: %s is %s, which is negative: use a duration such as %s, or leave it zero for %s or the default", c.name(fieldName), *field, def, name)
		}
		if *field == 0 {
			*field = def
		}
		return nil
	}
	// integer reads a whole number no smaller than least: 0 for sizes, -1
	// for the runtime rates, where -1 means "leave the runtime's alone".
	integer := func(field *int, fieldName, name string, least int) error {
		if *field == 0 {
			if v, ok := env(name); ok && strings.TrimSpace(v) != "" {
				n, err := strconv.Atoi(strings.TrimSpace(v))
				if err != nil || n < least {
					return fmt.Errorf("pyroscope: %s=%q is not an integer of at least %d", name, v, least)
				}
				*field = n
			}
		}
		if *field < least {
			return fmt.Errorf("pyroscope: %s is %d: use an integer of at least %d", c.name(fieldName), *field, least)
		}
		return nil
	}
	boolean := func(field *bool, name string) error {
		if v, ok := env(name); ok && strings.TrimSpace(v) != "" && !*field {
			b, err := strconv.ParseBool(strings.TrimSpace(v))
			if err != nil {
				return fmt.Errorf("pyroscope: %s=%q is not a boolean (true or false)", name, v)
			}
			*field = b
		}
		return nil
	}
	for _, err := range []error{
		dur(&c.UploadRate, "UploadRate", "PYROSCOPE_UPLOAD_RATE", DefaultUploadRate),
		dur(&c.UploadTimeout, "UploadTimeout", "PYROSCOPE_UPLOAD_TIMEOUT", DefaultUploadTimeout),
		dur(&c.StopTimeout, "StopTimeout", "PYROSCOPE_STOP_TIMEOUT", DefaultStopTimeout),
		integer(&c.QueueBytes, "QueueBytes", "PYROSCOPE_QUEUE_BYTES", 0),
		integer(&c.MutexProfileFraction, "MutexProfileFraction", "PYROSCOPE_MUTEX_PROFILE_FRACTION", -1),
		integer(&c.BlockProfileRate, "BlockProfileRate", "PYROSCOPE_BLOCK_PROFILE_RATE", -1),
		boolean(&c.TLSInsecureSkipVerify, "PYROSCOPE_TLS_INSECURE_SKIP_VERIFY"),
	} {
		if err != nil {
			return err
		}
	}
	if c.SampleRate == 0 {
		if v, ok := env("PYROSCOPE_SAMPLE_RATE"); ok && strings.TrimSpace(v) != "" {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32)
			if err != nil || n == 0 || n > 10000 {
				return fmt.Errorf("pyroscope: PYROSCOPE_SAMPLE_RATE=%q is not a frequency in Hz between 1 and 10000", v)
			}
			c.SampleRate = uint32(n)
		}
	}
	if c.SampleRate == 0 {
		c.SampleRate = DefaultSampleRate
	}
	if c.SampleRate > 10000 {
		return fmt.Errorf("pyroscope: %s is %d, above 10000 Hz: use 100 (the default) or a value up to 10000", c.name("SampleRate"), c.SampleRate)
	}
	s.UploadRate, s.UploadTimeout, s.StopTimeout = c.UploadRate, c.UploadTimeout, c.StopTimeout
	s.QueueBytes, s.MutexProfileFraction, s.BlockProfileRate = c.QueueBytes, c.MutexProfileFraction, c.BlockProfileRate
	s.TLSInsecureSkipVerify, s.SampleRate = c.TLSInsecureSkipVerify, int(c.SampleRate)
	return nil
}

// NoProfileTypes, as the whole of PYROSCOPE_PROFILE_TYPES, asks for no
// profile at all, where an empty variable means the defaults. pyroscope exec
// gives it to a command whose CPU it samples itself when cpu was the only
// type asked for.
const NoProfileTypes = "none"

func resolveTypes(c *Config, s *Settings, env LookupEnv) error {
	types, source := c.ProfileTypes, c.name("ProfileTypes")
	if len(types) == 0 {
		if v, ok := env("PYROSCOPE_PROFILE_TYPES"); ok && strings.TrimSpace(v) != "" {
			source = "PYROSCOPE_PROFILE_TYPES"
			for _, t := range strings.Split(v, ",") {
				if t = strings.TrimSpace(t); t != "" {
					types = append(types, t)
				}
			}
			if slices.Contains(types, NoProfileTypes) {
				if len(types) > 1 {
					return fmt.Errorf("pyroscope: PYROSCOPE_PROFILE_TYPES=%q: %q means no profile at all and cannot be combined with types", v, NoProfileTypes)
				}
				s.Types = nil
				return nil
			}
		}
	}
	if len(types) == 0 {
		types = c.DefaultProfileTypes
	}
	for _, t := range types {
		if !slices.Contains(ProfileTypes, t) {
			if source == "PYROSCOPE_PROFILE_TYPES" {
				return fmt.Errorf("pyroscope: %s: unknown profile type %q: use one of %v, or %s alone for no profile", source, t, ProfileTypes, NoProfileTypes)
			}
			return fmt.Errorf("pyroscope: %s: unknown profile type %q: use one of %v", source, t, ProfileTypes)
		}
		if !slices.Contains(s.Types, t) {
			s.Types = append(s.Types, t)
		}
	}
	return nil
}

func resolveName(c *Config, s *Settings, env LookupEnv) error {
	if c.ApplicationName == "" {
		return fmt.Errorf("pyroscope: the application name is empty: set %s or PYROSCOPE_APPLICATION_NAME (e.g. \"checkout.api\")", c.name("ApplicationName"))
	}
	app, nameTags, err := parseAppName(c.ApplicationName)
	if err != nil {
		return fmt.Errorf("pyroscope: %s: %w", c.name("ApplicationName"), err)
	}
	s.App, s.Tags = app, nameTags
	tags, source := c.Tags, c.name("Tags")
	if len(tags) == 0 {
		if v, ok := env("PYROSCOPE_TAGS"); ok && strings.TrimSpace(v) != "" {
			source = "PYROSCOPE_TAGS"
			if tags, err = parseTagList(v); err != nil {
				return fmt.Errorf("pyroscope: PYROSCOPE_TAGS: %w", err)
			}
		}
	}
	for k, v := range tags {
		if err := validateTag(k, v); err != nil {
			return fmt.Errorf("pyroscope: %s: %w", source, err)
		}
	}
	s.Renamed = map[string]string{}
	if s.Tags, err = renameTags(s.Tags, s.Renamed); err != nil {
		return fmt.Errorf("pyroscope: %s: %w", c.name("ApplicationName"), err)
	}
	if tags, err = renameTags(tags, s.Renamed); err != nil {
		return fmt.Errorf("pyroscope: %s: %w", source, err)
	}
	maps.Copy(s.Tags, tags)
	return nil
}

// ResolveProtocol is the protocol Resolve settles on for a Protocol and a
// ServerAddress as given, without checking either: ProtocolDir for a
// file:// address, else protocol in lower case, ProtocolIngest when empty.
// A producer that writes windows for one protocol (the pprof puller) asks
// it before the destination is open.
func ResolveProtocol(protocol, address string) string {
	switch {
	case strings.HasPrefix(address, "file://"):
		return ProtocolDir
	case protocol == "":
		return ProtocolIngest
	}
	return strings.ToLower(protocol)
}

func resolveAddress(c *Config, s *Settings, _ LookupEnv) error {
	a := c.ServerAddress
	if a == "" {
		return fmt.Errorf("pyroscope: the server address is empty: set %s or PYROSCOPE_SERVER_ADDRESS (e.g. \"http://pyroscope:4040\", or \"file:///tmp/profiles\" to write files)", c.name("ServerAddress"))
	}
	if c.Protocol == "" {
		c.Protocol = ProtocolIngest
	}
	switch strings.ToLower(c.Protocol) {
	case ProtocolIngest, ProtocolPush, ProtocolParca:
	default:
		return fmt.Errorf("pyroscope: %s %q is unknown: use \"ingest\" (Pyroscope /ingest, the default), \"push\" (Pyroscope push API) or \"parca\" (Parca, Polar Signals)", c.name("Protocol"), c.Protocol)
	}
	s.Protocol = ResolveProtocol(c.Protocol, a)
	if s.Protocol == ProtocolDir {
		s.Address = a
		return nil
	}
	u, err := url.Parse(a)
	if s.Protocol == ProtocolParca && (err != nil || u.Host == "") && !strings.Contains(a, "://") {
		// A bare host:port: gRPC over TLS.
		if _, perr := url.Parse("https://" + a); perr == nil && a != "" {
			s.Address = a
			return nil
		}
	}
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("pyroscope: %s %q is not an http(s) URL with a host: use e.g. \"https://profiles.example.com\" or \"file:///var/lib/profiles\"", c.name("ServerAddress"), a)
	}
	if u.User != nil {
		return fmt.Errorf("pyroscope: %s must not carry credentials in the URL: use a token or basic auth instead", c.name("ServerAddress"))
	}
	s.Address = strings.TrimRight(a, "/")
	return nil
}

// resolveLog picks the level: PYROSCOPE_LOG_LEVEL, else everything for a
// Logger the caller gave and DefaultLogLevel for the standard one.
func resolveLog(c *Config, s *Settings, env LookupEnv) error {
	level := logging.Debug
	if c.Logger == nil {
		level = DefaultLogLevel
	}
	if v, ok := env("PYROSCOPE_LOG_LEVEL"); ok && strings.TrimSpace(v) != "" {
		lv, err := logging.ParseLevel(v)
		if err != nil {
			return fmt.Errorf("pyroscope: PYROSCOPE_LOG_LEVEL: %w", err)
		}
		level = lv
	}
	out := c.Logger
	if out == nil {
		out = logging.Stderr{}
	}
	s.Log = logging.To(out, level).With(slog.String("app", s.App))
	return nil
}
