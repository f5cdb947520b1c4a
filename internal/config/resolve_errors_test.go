package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Every validation error names what the user set: the Config field (and the
// variable that sets it too) for the SDK, the variable when the value came
// from the environment, and the caller's spelling (the CLI's flags) when
// Names gives one; and it says the fix.
func TestResolveErrorsNameWhatTheUserSet(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-such-token")
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("t"), 0o600); err != nil {
		t.Fatal(err)
	}
	cli := map[string]string{
		"ApplicationName": "--application-name", "ServerAddress": "--server-address",
		"Protocol": "--protocol", "AuthToken": "--auth-token", "AuthTokenFile": "--auth-token-file",
		"Tags": "--tag", "SampleRate": "--sample-rate", "UploadRate": "--upload-rate",
		"ProfileTypes": "--profile-types",
	}
	ok := Config{ApplicationName: "app", ServerAddress: "http://localhost:4040"}
	with := func(f func(*Config)) Config { c := ok; f(&c); return c }
	withCLI := func(f func(*Config)) Config { c := with(f); c.Names = cli; return c }
	for _, tc := range []struct {
		name string
		cfg  Config
		env  []string
		want []string
	}{
		{"negative upload rate", with(func(c *Config) { c.UploadRate = -time.Second }), nil,
			[]string{"Config.UploadRate is -1s", "PYROSCOPE_UPLOAD_RATE", "a duration such as 15s"}},
		{"negative upload timeout", with(func(c *Config) { c.UploadTimeout = -time.Second }), nil,
			[]string{"Config.UploadTimeout is -1s", "PYROSCOPE_UPLOAD_TIMEOUT"}},
		{"negative stop timeout", with(func(c *Config) { c.StopTimeout = -time.Second }), nil,
			[]string{"Config.StopTimeout is -1s", "PYROSCOPE_STOP_TIMEOUT"}},
		{"upload rate from the CLI", withCLI(func(c *Config) { c.UploadRate = -time.Second }), nil,
			[]string{"--upload-rate is -1s"}},
		{"bad upload rate variable", ok, []string{"PYROSCOPE_UPLOAD_RATE", "15"},
			[]string{`PYROSCOPE_UPLOAD_RATE="15"`, "like 15s"}},
		{"bad queue bytes variable", ok, []string{"PYROSCOPE_QUEUE_BYTES", "lots"},
			[]string{`PYROSCOPE_QUEUE_BYTES="lots"`, "integer"}},
		{"negative queue bytes", with(func(c *Config) { c.QueueBytes = -1 }), nil,
			[]string{"Config.QueueBytes is -1", "at least 0"}},
		{"mutex fraction too low", with(func(c *Config) { c.MutexProfileFraction = -2 }), nil,
			[]string{"Config.MutexProfileFraction is -2", "at least -1"}},
		{"block rate variable", ok, []string{"PYROSCOPE_BLOCK_PROFILE_RATE", "-5"},
			[]string{`PYROSCOPE_BLOCK_PROFILE_RATE="-5"`}},
		{"bad boolean variable", ok, []string{"PYROSCOPE_TLS_INSECURE_SKIP_VERIFY", "maybe"},
			[]string{`PYROSCOPE_TLS_INSECURE_SKIP_VERIFY="maybe"`, "true or false"}},
		{"sample rate too high", with(func(c *Config) { c.SampleRate = 20000 }), nil,
			[]string{"Config.SampleRate is 20000", "up to 10000"}},
		{"sample rate too high from the CLI", withCLI(func(c *Config) { c.SampleRate = 20000 }), nil,
			[]string{"--sample-rate is 20000"}},
		{"bad sample rate variable", ok, []string{"PYROSCOPE_SAMPLE_RATE", "0"},
			[]string{`PYROSCOPE_SAMPLE_RATE="0"`, "between 1 and 10000"}},
		{"unknown profile type", with(func(c *Config) { c.ProfileTypes = []string{"heap"} }), nil,
			[]string{`Config.ProfileTypes: unknown profile type "heap"`, "inuse_space"}},
		{"unknown profile type variable", ok, []string{"PYROSCOPE_PROFILE_TYPES", "cpu,heap"},
			[]string{`PYROSCOPE_PROFILE_TYPES: unknown profile type "heap"`, "none alone for no profile"}},
		{"none with types", ok, []string{"PYROSCOPE_PROFILE_TYPES", "none,cpu"},
			[]string{`PYROSCOPE_PROFILE_TYPES="none,cpu"`, "cannot be combined"}},
		{"unknown profile type from the CLI", withCLI(func(c *Config) { c.ProfileTypes = []string{"heap"} }), nil,
			[]string{`--profile-types: unknown profile type "heap"`}},
		{"empty application name", with(func(c *Config) { c.ApplicationName = "" }), nil,
			[]string{"set Config.ApplicationName or PYROSCOPE_APPLICATION_NAME"}},
		{"bad application name variable", with(func(c *Config) { c.ApplicationName = "" }), []string{"PYROSCOPE_APPLICATION_NAME", "app{env"},
			[]string{"PYROSCOPE_APPLICATION_NAME: ", "without a closing '}'"}},
		{"bad application name from the CLI", withCLI(func(c *Config) { c.ApplicationName = "{env=x}" }), nil,
			[]string{"--application-name: ", "no name before its tags"}},
		{"bad tags", with(func(c *Config) { c.Tags = map[string]string{"env": "a,b"} }), nil,
			[]string{"Config.Tags: ", "breaks the app{k=v}"}},
		{"bad tags variable", ok, []string{"PYROSCOPE_TAGS", "env"},
			[]string{"PYROSCOPE_TAGS: ", "has no '='"}},
		{"bad tags from the CLI", withCLI(func(c *Config) { c.Tags = map[string]string{"env": ""} }), nil,
			[]string{"--tag: ", "empty value"}},
		{"empty server address", with(func(c *Config) { c.ServerAddress = "" }), nil,
			[]string{"set Config.ServerAddress or PYROSCOPE_SERVER_ADDRESS"}},
		{"server address not a URL", with(func(c *Config) { c.ServerAddress = "localhost:4040" }), nil,
			[]string{`Config.ServerAddress "localhost:4040" is not an http(s) URL`, "https://"}},
		{"server address variable not a URL", with(func(c *Config) { c.ServerAddress = "" }), []string{"PYROSCOPE_SERVER_ADDRESS", "localhost:4040"},
			[]string{`PYROSCOPE_SERVER_ADDRESS "localhost:4040" is not an http(s) URL`}},
		{"adhoc address not a URL", ok, []string{"PYROSCOPE_ADHOC_SERVER_ADDRESS", "ftp://x"},
			[]string{`PYROSCOPE_ADHOC_SERVER_ADDRESS "ftp://x"`}},
		{"server address from the CLI", withCLI(func(c *Config) { c.ServerAddress = "localhost:4040" }), nil,
			[]string{`--server-address "localhost:4040"`}},
		{"credentials in the address", with(func(c *Config) { c.ServerAddress = "http://u:p@host" }), nil,
			[]string{"Config.ServerAddress must not carry credentials"}},
		{"unknown protocol", with(func(c *Config) { c.Protocol = "otlp" }), nil,
			[]string{`Config.Protocol "otlp" is unknown`, `"parca"`}},
		{"unknown protocol variable", ok, []string{"PYROSCOPE_PROTOCOL", "otlp"},
			[]string{`PYROSCOPE_PROTOCOL "otlp" is unknown`}},
		{"unknown protocol from the CLI", withCLI(func(c *Config) { c.Protocol = "otlp" }), nil,
			[]string{`--protocol "otlp" is unknown`}},
		{"token and token file", with(func(c *Config) { c.AuthToken = "t"; c.AuthTokenFile = tokenFile }), nil,
			[]string{"both a token (Config.AuthToken) and a token file (Config.AuthTokenFile)", "drop one"}},
		{"token and basic auth", with(func(c *Config) { c.AuthToken = "t"; c.BasicAuthUser = "u" }), nil,
			[]string{"token (from Config.AuthToken) and basic auth", "ambiguous"}},
		{"token flag and basic auth", withCLI(func(c *Config) { c.AuthToken = "t"; c.BasicAuthUser = "u" }), nil,
			[]string{"token (from --auth-token)"}},
		{"missing token file", with(func(c *Config) { c.AuthTokenFile = missing }), nil,
			[]string{"Config.AuthTokenFile: ", "no such file"}},
		{"missing token file variable", ok, []string{"PYROSCOPE_AUTH_TOKEN_FILE", missing},
			[]string{"PYROSCOPE_AUTH_TOKEN_FILE: "}},
		{"missing token file from the CLI", withCLI(func(c *Config) { c.AuthTokenFile = missing }), nil,
			[]string{"--auth-token-file: "}},
		{"bad log level", ok, []string{"PYROSCOPE_LOG_LEVEL", "loud"},
			[]string{"PYROSCOPE_LOG_LEVEL: ", "debug, info, warn"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vars := map[string]string{}
			for i := 0; i+1 < len(tc.env); i += 2 {
				vars[tc.env[i]] = tc.env[i+1]
			}
			_, err := Resolve(tc.cfg, func(k string) (string, bool) { v, ok := vars[k]; return v, ok })
			if err == nil {
				t.Fatalf("Resolve succeeded, want an error mentioning %q", tc.want)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "pyroscope: ") || strings.Contains(msg, "\n") {
				t.Errorf("error %q is not one line starting \"pyroscope: \"", msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not mention %q", msg, w)
				}
			}
			if tc.cfg.Names != nil && strings.Contains(msg, "Config.") {
				t.Errorf("error %q names a Config field although the user set a flag", msg)
			}
		})
	}
}
