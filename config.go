package pyroscope

import (
	"time"

	"github.com/pyroscope-sdk/pyroscope-go/internal/config"
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
	// HTTPClient sends the requests of every protocol, with the SDK's short
	// retries around it; for "parca" it must speak HTTP/2 (in plaintext for
	// an http:// address). The default honours HTTPS_PROXY and NO_PROXY and
	// verifies TLS.
	HTTPClient HTTPClient

	// UploadRate is the length of a window: one batch is cut and sent this
	// often. PYROSCOPE_UPLOAD_RATE (a Go duration); default 15s.
	UploadRate time.Duration
	// ProfileTypes lists what to collect. PYROSCOPE_PROFILE_TYPES (comma
	// list; "none" alone collects nothing, as pyroscope exec sets it when
	// it samples the CPU itself); default DefaultProfileTypes.
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
	// DisableCumulativeMerge is kept so that programs written for
	// grafana/pyroscope-go build.
	//
	// Deprecated: it has no effect: this SDK always sends per-window deltas.
	DisableCumulativeMerge bool
}

// resolve applies the environment to c through the resolver the CLI shares
// (internal/config).
func (c Config) resolve(env config.LookupEnv) (*config.Settings, error) {
	types := make([]string, len(c.ProfileTypes))
	for i, t := range c.ProfileTypes {
		types[i] = string(t)
	}
	defaults := make([]string, len(DefaultProfileTypes))
	for i, t := range DefaultProfileTypes {
		defaults[i] = string(t)
	}
	ic := config.Config{
		ApplicationName: c.ApplicationName, Tags: c.Tags, ServerAddress: c.ServerAddress, Protocol: c.Protocol,
		AuthToken: c.AuthToken, AuthTokenFile: c.AuthTokenFile,
		BasicAuthUser: c.BasicAuthUser, BasicAuthPassword: c.BasicAuthPassword,
		TenantID: c.TenantID, HTTPHeaders: c.HTTPHeaders,
		UploadRate: c.UploadRate, ProfileTypes: types, DefaultProfileTypes: defaults,
		DisableGCRuns: c.DisableGCRuns, MutexProfileFraction: c.MutexProfileFraction,
		BlockProfileRate: c.BlockProfileRate, SampleRate: c.SampleRate,
		QueueBytes: c.QueueBytes, UploadTimeout: c.UploadTimeout, StopTimeout: c.StopTimeout,
		TLSCAFile: c.TLSCAFile, TLSCertFile: c.TLSCertFile, TLSKeyFile: c.TLSKeyFile,
		TLSInsecureSkipVerify:  c.TLSInsecureSkipVerify,
		DisableAutomaticResets: c.DisableAutomaticResets,
	}
	if c.Logger != nil {
		ic.Logger = c.Logger
	}
	if c.HTTPClient != nil {
		ic.HTTPClient = c.HTTPClient
	}
	return config.Resolve(ic, env)
}
