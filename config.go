package pyroscope

import (
	"fmt"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Config says what to profile and where to send it. Every field left at its
// zero value is read from the PYROSCOPE_* environment variable named in its
// comment, then falls back to the default given there. A value set in Config
// wins over the environment, with one exception kept for tools that rely on
// it: PYROSCOPE_ADHOC_SERVER_ADDRESS, when set, overrides ServerAddress.
type Config struct {
	// ApplicationName names the series, e.g. "checkout.api". It may carry
	// tags: "checkout.api{env=prod}". Required. PYROSCOPE_APPLICATION_NAME.
	ApplicationName string
	// Tags are static labels added to every series; they win over tags in
	// ApplicationName. Keys are letters, digits and '_'. PYROSCOPE_TAGS
	// ("k=v,k2=v2").
	Tags map[string]string
	// ServerAddress is where profiles go: "https://host[:port][/prefix]",
	// "file:///some/dir" for a directory of .pb.gz files, or, with Protocol
	// "parca", a bare "host:port" (TLS). PYROSCOPE_SERVER_ADDRESS.
	ServerAddress string
	// Protocol chooses the backend: "ingest" (default, Pyroscope's /ingest),
	// "push" (Pyroscope's push API) or "parca" (Parca and Polar Signals
	// Cloud). A file:// address always uses the directory sink.
	// PYROSCOPE_PROTOCOL.
	Protocol string

	// AuthToken is sent as "Authorization: Bearer <token>" on every request:
	// a Pyroscope API key or a Polar Signals project token.
	// PYROSCOPE_AUTH_TOKEN.
	AuthToken string
	// AuthTokenFile names a file holding the token; it is re-read when it
	// changes, so a rotated token is used without a restart.
	// PYROSCOPE_AUTH_TOKEN_FILE.
	AuthTokenFile string
	// BasicAuthUser and BasicAuthPassword are sent as HTTP basic auth. They
	// cannot be combined with a token. PYROSCOPE_BASIC_AUTH_USER,
	// PYROSCOPE_BASIC_AUTH_PASSWORD.
	BasicAuthUser     string
	BasicAuthPassword string
	// TenantID is sent as X-Scope-OrgID for multi-tenant servers.
	// PYROSCOPE_TENANT_ID.
	TenantID string
	// HTTPHeaders are added to every request (gRPC metadata for Parca).
	HTTPHeaders map[string]string
	// HTTPClient sends the requests of the ingest and push protocols. The
	// default honours HTTPS_PROXY and NO_PROXY and verifies TLS.
	HTTPClient HTTPClient

	// UploadRate is the length of a window: one batch is cut and sent this
	// often. PYROSCOPE_UPLOAD_RATE (a Go duration); default 15s.
	UploadRate time.Duration
	// ProfileTypes lists what to collect. PYROSCOPE_PROFILE_TYPES (comma
	// list); default DefaultProfileTypes.
	ProfileTypes []ProfileType
	// DisableGCRuns stops the SDK from forcing a GC before reading the heap
	// profile in a window in which no GC ran; without a GC the in-use heap is
	// that of the last GC.
	DisableGCRuns bool
	// MutexProfileFraction is passed to runtime.SetMutexProfileFraction when
	// a mutex type is collected and the runtime's fraction is 0; the previous
	// value is restored by Stop. -1 leaves the runtime's fraction alone.
	// PYROSCOPE_MUTEX_PROFILE_FRACTION; default 10 (1 event in 10).
	MutexProfileFraction int
	// BlockProfileRate is passed to runtime.SetBlockProfileRate (in
	// nanoseconds) when a block type is collected and block profiling looks
	// off; set back to 0 by Stop. -1 leaves the runtime's rate alone (use it
	// when your program sets its own rate but may not have blocked yet: Go
	// offers no way to read the rate). PYROSCOPE_BLOCK_PROFILE_RATE; default
	// 10000 (one sample per ~10µs blocked).
	BlockProfileRate int
	// SampleRate is the CPU sampling frequency in Hz. PYROSCOPE_SAMPLE_RATE;
	// default 100. Any other value goes through runtime.SetCPUProfileRate,
	// which makes the Go runtime print one warning line to stderr per window.
	SampleRate uint32

	// Logger receives the SDK's log lines, filtered by PYROSCOPE_LOG_LEVEL
	// (debug, info, warn, error, off). Default: StandardLogger at level warn.
	Logger Logger

	// QueueBytes bounds the memory of windows waiting for delivery; when it
	// is full the oldest windows are dropped and counted.
	// PYROSCOPE_QUEUE_BYTES; default 8 MiB.
	QueueBytes int
	// UploadTimeout bounds one request. PYROSCOPE_UPLOAD_TIMEOUT; default 10s.
	UploadTimeout time.Duration
	// StopTimeout bounds how long Stop and Flush(true) wait for delivery.
	// PYROSCOPE_STOP_TIMEOUT; default 10s.
	StopTimeout time.Duration

	// TLSCAFile is a PEM bundle of CAs trusted for the server, added to the
	// system's. PYROSCOPE_TLS_CA_FILE.
	TLSCAFile string
	// TLSCertFile and TLSKeyFile are a client certificate and key in PEM.
	// PYROSCOPE_TLS_CERT_FILE, PYROSCOPE_TLS_KEY_FILE.
	TLSCertFile, TLSKeyFile string
	// TLSInsecureSkipVerify turns off server certificate verification, with a
	// warning in the log. PYROSCOPE_TLS_INSECURE_SKIP_VERIFY.
	TLSInsecureSkipVerify bool

	// DisableAutomaticResets, kept from grafana/pyroscope-go, cuts windows
	// only on Flush and Stop instead of every UploadRate.
	DisableAutomaticResets bool
	// DisableCumulativeMerge, kept from grafana/pyroscope-go, has no effect:
	// this SDK always sends per-window deltas.
	DisableCumulativeMerge bool
}

// Protocols accepted in Config.Protocol.
const (
	protocolIngest = "ingest"
	protocolPush   = "push"
	protocolParca  = "parca"
	protocolDir    = "dir"
)

const (
	defaultUploadRate  = 15 * time.Second
	defaultStopTimeout = 10 * time.Second
)

// settings is a Config with the environment applied, validated and parsed.
type settings struct {
	app         string
	tags        map[string]string
	address     string
	protocol    string
	token       string
	tokenSource string
	tokenFile   string
	types       []ProfileType
	logLevel    logLevel
	Config
}

// lookupEnv reads an environment variable; tests replace it.
type lookupEnv func(string) (string, bool)

// resolve applies the environment to cfg and validates the result. Every
// error names the Config field or variable at fault and how to fix it.
func resolve(cfg Config, env lookupEnv) (*settings, error) {
	s := &settings{Config: cfg}
	str := func(field *string, name string) {
		if *field == "" {
			if v, ok := env(name); ok {
				*field = strings.TrimSpace(v)
			}
		}
	}
	str(&s.ApplicationName, "PYROSCOPE_APPLICATION_NAME")
	str(&s.ServerAddress, "PYROSCOPE_SERVER_ADDRESS")
	str(&s.Protocol, "PYROSCOPE_PROTOCOL")
	str(&s.BasicAuthUser, "PYROSCOPE_BASIC_AUTH_USER")
	str(&s.BasicAuthPassword, "PYROSCOPE_BASIC_AUTH_PASSWORD")
	str(&s.TenantID, "PYROSCOPE_TENANT_ID")
	str(&s.TLSCAFile, "PYROSCOPE_TLS_CA_FILE")
	str(&s.TLSCertFile, "PYROSCOPE_TLS_CERT_FILE")
	str(&s.TLSKeyFile, "PYROSCOPE_TLS_KEY_FILE")
	if v, ok := env("PYROSCOPE_ADHOC_SERVER_ADDRESS"); ok && strings.TrimSpace(v) != "" {
		s.ServerAddress = strings.TrimSpace(v)
	}

	if err := s.resolveToken(env); err != nil {
		return nil, err
	}
	if err := s.resolveNumbers(env); err != nil {
		return nil, err
	}
	if err := s.resolveTypes(env); err != nil {
		return nil, err
	}
	if err := s.resolveName(env); err != nil {
		return nil, err
	}
	if err := s.resolveAddress(); err != nil {
		return nil, err
	}
	s.logLevel = levelWarn
	if s.Logger != nil {
		s.logLevel = levelDebug
	}
	if v, ok := env("PYROSCOPE_LOG_LEVEL"); ok && strings.TrimSpace(v) != "" {
		lv, err := parseLogLevel(v)
		if err != nil {
			return nil, fmt.Errorf("pyroscope: PYROSCOPE_LOG_LEVEL: %w", err)
		}
		s.logLevel = lv
	}
	if s.Logger == nil {
		s.Logger = StandardLogger
	}
	return s, nil
}

func (s *settings) resolveToken(env lookupEnv) error {
	switch {
	case s.AuthToken != "":
		s.token, s.tokenSource = s.AuthToken, "Config.AuthToken"
	case s.AuthTokenFile != "":
		s.tokenFile, s.tokenSource = s.AuthTokenFile, "Config.AuthTokenFile"
	default:
		if v, ok := env("PYROSCOPE_AUTH_TOKEN"); ok && strings.TrimSpace(v) != "" {
			s.token, s.tokenSource = strings.TrimSpace(v), "PYROSCOPE_AUTH_TOKEN"
		} else if v, ok := env("PYROSCOPE_AUTH_TOKEN_FILE"); ok && strings.TrimSpace(v) != "" {
			s.tokenFile, s.tokenSource = strings.TrimSpace(v), "PYROSCOPE_AUTH_TOKEN_FILE"
		}
	}
	if s.token != "" && s.tokenFile != "" {
		return fmt.Errorf("pyroscope: both a token and a token file are set (%s): drop one", s.tokenSource)
	}
	if (s.token != "" || s.tokenFile != "") && (s.BasicAuthUser != "" || s.BasicAuthPassword != "") {
		return fmt.Errorf("pyroscope: a token (from %s) and basic auth (BasicAuthUser/BasicAuthPassword or PYROSCOPE_BASIC_AUTH_*) are both set, which is ambiguous: drop the basic auth for a Pyroscope API key or Polar Signals token, or drop the token", s.tokenSource)
	}
	if s.tokenFile != "" {
		if _, err := os.Stat(s.tokenFile); err != nil {
			return fmt.Errorf("pyroscope: %s: %w", s.tokenSource, err)
		}
	}
	return nil
}

func (s *settings) resolveNumbers(env lookupEnv) error {
	dur := func(field *time.Duration, name string, def time.Duration) error {
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
			return fmt.Errorf("pyroscope: %s must not be negative", strings.TrimPrefix(name, "PYROSCOPE_"))
		}
		if *field == 0 {
			*field = def
		}
		return nil
	}
	// integer reads a whole number no smaller than least: 0 for sizes, -1
	// for the runtime rates, where -1 means "leave the runtime's alone".
	integer := func(field *int, name string, least int) error {
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
			return fmt.Errorf("pyroscope: %s is %d: use an integer of at least %d", strings.TrimPrefix(name, "PYROSCOPE_"), *field, least)
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
		dur(&s.UploadRate, "PYROSCOPE_UPLOAD_RATE", defaultUploadRate),
		dur(&s.UploadTimeout, "PYROSCOPE_UPLOAD_TIMEOUT", 10*time.Second),
		dur(&s.StopTimeout, "PYROSCOPE_STOP_TIMEOUT", defaultStopTimeout),
		integer(&s.QueueBytes, "PYROSCOPE_QUEUE_BYTES", 0),
		integer(&s.MutexProfileFraction, "PYROSCOPE_MUTEX_PROFILE_FRACTION", -1),
		integer(&s.BlockProfileRate, "PYROSCOPE_BLOCK_PROFILE_RATE", -1),
		boolean(&s.TLSInsecureSkipVerify, "PYROSCOPE_TLS_INSECURE_SKIP_VERIFY"),
	} {
		if err != nil {
			return err
		}
	}
	if s.SampleRate == 0 {
		if v, ok := env("PYROSCOPE_SAMPLE_RATE"); ok && strings.TrimSpace(v) != "" {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32)
			if err != nil || n == 0 || n > 10000 {
				return fmt.Errorf("pyroscope: PYROSCOPE_SAMPLE_RATE=%q is not a frequency in Hz between 1 and 10000", v)
			}
			s.SampleRate = uint32(n)
		}
	}
	if s.SampleRate == 0 {
		s.SampleRate = DefaultSampleRate
	}
	if s.SampleRate > 10000 {
		return fmt.Errorf("pyroscope: SampleRate %d is above 10000 Hz: use 100 (the default) or a value up to 10000", s.SampleRate)
	}
	return nil
}

var knownTypes = []ProfileType{
	ProfileCPU, ProfileInuseObjects, ProfileAllocObjects, ProfileInuseSpace, ProfileAllocSpace,
	ProfileGoroutines, ProfileMutexCount, ProfileMutexDuration, ProfileBlockCount,
	ProfileBlockDuration, ProfileGoroutineLeak,
}

func (s *settings) resolveTypes(env lookupEnv) error {
	types, source := s.ProfileTypes, "ProfileTypes"
	if len(types) == 0 {
		if v, ok := env("PYROSCOPE_PROFILE_TYPES"); ok && strings.TrimSpace(v) != "" {
			source = "PYROSCOPE_PROFILE_TYPES"
			for _, t := range strings.Split(v, ",") {
				if t = strings.TrimSpace(t); t != "" {
					types = append(types, ProfileType(t))
				}
			}
		}
	}
	if len(types) == 0 {
		types = DefaultProfileTypes
	}
	for _, t := range types {
		if !slices.Contains(knownTypes, t) {
			return fmt.Errorf("pyroscope: %s: unknown profile type %q: use one of %v", source, t, knownTypes)
		}
		if !slices.Contains(s.types, t) {
			s.types = append(s.types, t)
		}
	}
	return nil
}

func (s *settings) resolveName(env lookupEnv) error {
	if s.ApplicationName == "" {
		return fmt.Errorf("pyroscope: ApplicationName is empty: set Config.ApplicationName or PYROSCOPE_APPLICATION_NAME (e.g. \"checkout.api\")")
	}
	app, nameTags, err := parseAppName(s.ApplicationName)
	if err != nil {
		return fmt.Errorf("pyroscope: ApplicationName: %w", err)
	}
	s.app, s.tags = app, nameTags
	tags, source := s.Tags, "Tags"
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
		s.tags[k] = v
	}
	return nil
}

func (s *settings) resolveAddress() error {
	a := s.ServerAddress
	if a == "" {
		return fmt.Errorf("pyroscope: ServerAddress is empty: set Config.ServerAddress or PYROSCOPE_SERVER_ADDRESS (e.g. \"http://pyroscope:4040\", or \"file:///tmp/profiles\" to write files)")
	}
	if s.Protocol == "" {
		s.Protocol = protocolIngest
	}
	s.protocol = strings.ToLower(s.Protocol)
	switch s.protocol {
	case protocolIngest, protocolPush, protocolParca:
	default:
		return fmt.Errorf("pyroscope: Protocol %q is unknown: use \"ingest\" (Pyroscope /ingest, the default), \"push\" (Pyroscope push API) or \"parca\" (Parca, Polar Signals)", s.Protocol)
	}
	if strings.HasPrefix(a, "file://") {
		s.protocol = protocolDir
		s.address = a
		return nil
	}
	u, err := url.Parse(a)
	if s.protocol == protocolParca && (err != nil || u.Host == "") && !strings.Contains(a, "://") {
		// A bare host:port: gRPC over TLS.
		if _, perr := url.Parse("https://" + a); perr == nil && a != "" {
			s.address = a
			return nil
		}
	}
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("pyroscope: ServerAddress %q is not an http(s) URL with a host: use e.g. \"https://profiles.example.com\" or \"file:///var/lib/profiles\"", a)
	}
	if u.User != nil {
		return fmt.Errorf("pyroscope: ServerAddress must not carry credentials in the URL: use AuthToken or BasicAuthUser/BasicAuthPassword")
	}
	s.address = strings.TrimRight(a, "/")
	return nil
}

// wants reports whether any of types was asked for.
func (s *settings) wants(types ...ProfileType) bool {
	for _, t := range types {
		if slices.Contains(s.types, t) {
			return true
		}
	}
	return false
}
