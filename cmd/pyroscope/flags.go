package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pyroscope-sdk/pyroscope-go/internal/config"
	"github.com/pyroscope-sdk/pyroscope-go/internal/logging"
	"github.com/pyroscope-sdk/pyroscope-go/internal/perf"
)

// commonFlags are the flags every profiling subcommand takes. Each is also
// read from its PYROSCOPE_* variable; a flag given on the command line beats
// the variable, which beats the default.
type commonFlags struct {
	app        string
	server     string
	protocol   string
	token      string
	tokenFile  string
	tenantID   string
	tags       tagFlag
	sampleRate int
	uploadRate time.Duration
	// stopTimeout bounds the end of a run (the last windows and their
	// delivery), as Config.StopTimeout bounds the SDK's Stop.
	stopTimeout time.Duration
	logLevel    string
	noLogging   bool
	types       string // --profile-types as given; profileTypes parses it
	// given holds the names of the flags set on the command line, an
	// alias under the flag it stands for; typed says how the user spelled
	// each (the alias's name, for messages).
	given map[string]bool
	typed map[string]string
}

// Defaults shared with the SDK, except the sample rate: the perf sampler's
// 99 Hz keeps its period from dividing common timer periods (see
// perf.DefaultFrequency), where the SDK keeps runtime/pprof's 100 Hz.
const (
	defaultServer     = "http://localhost:4040"
	defaultSampleRate = perf.DefaultFrequency
	defaultUploadRate = 15 * time.Second
)

// envOf names the variable each flag falls back to.
var envOf = map[string]string{
	"application-name": "PYROSCOPE_APPLICATION_NAME",
	"server-address":   "PYROSCOPE_SERVER_ADDRESS",
	"protocol":         "PYROSCOPE_PROTOCOL",
	"auth-token":       "PYROSCOPE_AUTH_TOKEN",
	"auth-token-file":  "PYROSCOPE_AUTH_TOKEN_FILE",
	"tenant-id":        "PYROSCOPE_TENANT_ID",
	"tag":              "PYROSCOPE_TAGS",
	"sample-rate":      "PYROSCOPE_SAMPLE_RATE",
	"upload-rate":      "PYROSCOPE_UPLOAD_RATE",
	"stop-timeout":     "PYROSCOPE_STOP_TIMEOUT",
	"log-level":        "PYROSCOPE_LOG_LEVEL",
	"no-logging":       "PYROSCOPE_NO_LOGGING",
	"profile-types":    "PYROSCOPE_PROFILE_TYPES",
}

// aliasOf names the flag each alias stands for: the agent takes Parca
// agent's flags (and the Polar Signals documentation's) under their own
// names, so that its commands work as they are written there.
var aliasOf = map[string]string{
	"remote-store-address":           "server-address",
	"remote-store-bearer-token":      "auth-token",
	"bearer-token":                   "auth-token",
	"remote-store-bearer-token-file": "auth-token-file",
	"bearer-token-file":              "auth-token-file",
	"remote-store-insecure":          "insecure",
}

// canonical is the flag name stands for: itself, or the flag it is an
// alias of.
func canonical(name string) string {
	if c, ok := aliasOf[name]; ok {
		return c
	}
	return name
}

// addAliases registers, for each flag of fs that has aliases, the aliases,
// sharing its value: whichever is given sets the same field.
func addAliases(fs *flag.FlagSet) {
	names := make([]string, 0, len(aliasOf))
	for a := range aliasOf {
		names = append(names, a)
	}
	slices.Sort(names)
	for _, a := range names {
		if f := fs.Lookup(aliasOf[a]); f != nil {
			fs.Var(f.Value, a, "same as --"+f.Name)
		}
	}
}

// givenFlags returns the flags set on the command line under their
// canonical names, with the name each was typed as. Two spellings of one
// flag are an error: which one was meant is not clear.
func givenFlags(fs *flag.FlagSet) (map[string]bool, map[string]string, error) {
	given, typed := map[string]bool{}, map[string]string{}
	var err error
	fs.Visit(func(f *flag.Flag) {
		c := canonical(f.Name)
		if prev, dup := typed[c]; dup && err == nil {
			err = fmt.Errorf("--%s and --%s are the same setting: give one of them", min(prev, f.Name), max(prev, f.Name))
		}
		given[c], typed[c] = true, f.Name
	})
	return given, typed, err
}

// tagFlag collects repeated --tag k=v.
type tagFlag []string

func (t *tagFlag) String() string { return strings.Join(*t, ",") }
func (t *tagFlag) Set(v string) error {
	if !strings.Contains(v, "=") {
		return fmt.Errorf("%q has no '=': write --tag key=value", v)
	}
	*t = append(*t, v)
	return nil
}

// register adds the common flags to fs.
func (c *commonFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.app, "application-name", "", "`name` the profiles appear under in the UI, e.g. checkout.api; may carry tags: checkout.api{env=prod}")
	fs.StringVar(&c.server, "server-address", defaultServer, "where profiles go: a Pyroscope `URL`, or file:///dir to write .pb.gz files")
	fs.StringVar(&c.protocol, "protocol", "ingest", "`ingest` (Pyroscope /ingest), push (Pyroscope push API) or parca (Parca, Polar Signals)")
	fs.StringVar(&c.token, "auth-token", "", "API `token` sent as \"Authorization: Bearer\". Prefer PYROSCOPE_AUTH_TOKEN or\n--auth-token-file: a flag's value is visible to every user in ps and stays in the shell history")
	fs.StringVar(&c.tokenFile, "auth-token-file", "", "`file` holding the token; re-read when it changes, so rotation needs no restart")
	fs.StringVar(&c.tenantID, "tenant-id", "", "tenant `ID` sent as X-Scope-OrgID to multi-tenant servers")
	fs.Var(&c.tags, "tag", "static label `key=value` on every profile; repeat for more")
	fs.IntVar(&c.sampleRate, "sample-rate", defaultSampleRate, "CPU sampling frequency in `Hz`")
	fs.DurationVar(&c.uploadRate, "upload-rate", defaultUploadRate, "length of one profile window; one upload per `duration`")
	fs.DurationVar(&c.stopTimeout, "stop-timeout", config.DefaultStopTimeout, "longest the end of a run may take: cutting the last windows and delivering what is\nqueued (as the SDK's StopTimeout); windows not delivered by then are counted as dropped")
	fs.StringVar(&c.logLevel, "log-level", "info", "`level` of this tool's messages on stderr: debug, info, warn, error or off")
	fs.BoolVar(&c.noLogging, "no-logging", false, "print nothing but errors that stop the tool (same as --log-level error)")
	fs.StringVar(&c.types, "profile-types", "", "comma-separated profile `types`: "+strings.Join(config.ProfileTypes, ", ")+
		"\n(default: exec samples cpu and the command's SDK its defaults; connect --url pulls all,\n--pid samples cpu only)")
}

// profileTypes parses --profile-types (or PYROSCOPE_PROFILE_TYPES, which
// applyEnv put in it) as the SDK's resolver does: names from
// config.ProfileTypes, in order, without repeats; none for an empty value,
// which means the mode's default. An unknown name is an error naming the
// flag or the variable, whichever the user set, and listing the valid names.
func (c *commonFlags) profileTypes(fs *flag.FlagSet, getenv func(string) string) ([]string, error) {
	var types []string
	for _, t := range strings.Split(c.types, ",") {
		if t = strings.TrimSpace(t); t == "" || slices.Contains(types, t) {
			continue
		}
		if !slices.Contains(config.ProfileTypes, t) {
			return nil, fmt.Errorf("%s: unknown profile type %q: use %s", typesSource(fs, getenv), t, strings.Join(config.ProfileTypes, ", "))
		}
		types = append(types, t)
	}
	return types, nil
}

// cpuOnly checks that the profile types ask for nothing but cpu, for the
// modes that sample with perf alone (connect --pid, agent); mode names the
// mode in the error.
func (c *commonFlags) cpuOnly(fs *flag.FlagSet, getenv func(string) string, mode string) error {
	types, err := c.profileTypes(fs, getenv)
	if err != nil {
		return err
	}
	if len(types) > 0 && !slices.Equal(types, []string{"cpu"}) {
		return fmt.Errorf("%s: %s samples the CPU only: leave out every type but cpu", typesSource(fs, getenv), mode)
	}
	return nil
}

// typesSource names where the profile types came from.
func typesSource(fs *flag.FlagSet, getenv func(string) string) string {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == "profile-types" })
	if !given && strings.TrimSpace(getenv("PYROSCOPE_PROFILE_TYPES")) != "" {
		return "PYROSCOPE_PROFILE_TYPES"
	}
	return "--profile-types"
}

// applyEnv fills every flag not given on the command line from its
// variable. It returns an error naming the variable when a value is invalid.
func applyEnv(fs *flag.FlagSet, getenv func(string) string) error {
	given, _, err := givenFlags(fs)
	if err != nil {
		return err
	}
	// A token flag overrides a token file variable, and the other way round:
	// the user's explicit choice wins over either variable.
	if given["auth-token"] || given["auth-token-file"] {
		given["auth-token"], given["auth-token-file"] = true, true
	}
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		name := envOf[f.Name]
		if name == "" || given[f.Name] {
			return
		}
		v := strings.TrimSpace(getenv(name))
		if f.Name == "server-address" {
			// Honoured by Pyroscope's tools and the SDK: it overrides the
			// regular variable.
			if adhoc := strings.TrimSpace(getenv("PYROSCOPE_ADHOC_SERVER_ADDRESS")); adhoc != "" {
				v, name = adhoc, "PYROSCOPE_ADHOC_SERVER_ADDRESS"
			}
		}
		if v == "" {
			return
		}
		if f.Name == "tag" {
			for _, kv := range strings.Split(v, ",") {
				if kv = strings.TrimSpace(kv); kv != "" {
					if err := f.Value.Set(kv); err != nil {
						errs = append(errs, fmt.Errorf("%s: %w", name, err))
					}
				}
			}
			return
		}
		if err := f.Value.Set(v); err != nil {
			errs = append(errs, fmt.Errorf("%s=%q: %s", name, v, valueProblem(f.Name, v, err.Error())))
		}
	})
	return errors.Join(errs...)
}

// parseFlags parses args into fs, then applies the environment. It returns
// flag.ErrHelp for -h/--help, and otherwise an error in one line that says
// what to fix.
func parseFlags(fs *flag.FlagSet, args []string, getenv func(string) string) error {
	fs.SetOutput(io.Discard) // usage is printed by the caller, once
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return flagError(err)
	}
	return applyEnv(fs, getenv)
}

// badValue matches the flag package's "invalid value" error.
var badValue = regexp.MustCompile(`^invalid value "(.*)" for flag -([^:]+): `)

// flagError rewrites the flag package's errors with flags spelled as the
// help shows them (--upload-rate, not -upload-rate), and says what a
// duration looks like when one did not parse.
func flagError(err error) error {
	msg := err.Error()
	if m := badValue.FindStringSubmatch(msg); m != nil {
		return fmt.Errorf("--%s %q: %s", m[2], m[1], valueProblem(m[2], m[1], strings.TrimPrefix(msg, m[0])))
	}
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		return fmt.Errorf("flag provided but not defined: --%s", strings.TrimPrefix(name, "-"))
	}
	return err
}

// valueProblem says what is wrong with value v of flag name, given the
// flag package's reason: for a duration, what one looks like.
func valueProblem(name, v, reason string) string {
	if !durationFlags[name] {
		return reason
	}
	if _, err := strconv.ParseFloat(v, 64); err == nil {
		return fmt.Sprintf("not a duration: give a unit, such as %ss", v)
	}
	return "not a duration: use one such as 15s or 1m"
}

// durationFlags are the flags whose value is a Go duration.
var durationFlags = map[string]bool{"upload-rate": true, "stop-timeout": true}

// validateNumbers checks the flags' numeric ranges.
func (c *commonFlags) validateNumbers() error {
	if c.sampleRate < 1 || c.sampleRate > 10000 {
		return fmt.Errorf("--sample-rate %d is out of range: use a frequency between 1 and 10000 Hz (default %d)", c.sampleRate, defaultSampleRate)
	}
	if c.uploadRate < time.Second {
		return fmt.Errorf("--upload-rate %s is too short: use 1s or more (default %s)", c.uploadRate, defaultUploadRate)
	}
	if _, err := logging.ParseLevel(c.logLevel); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	return nil
}

// positiveInt parses a PID.
func positiveInt(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a process ID", s)
	}
	return n, nil
}

// validate checks the flags and fills the application name with def when
// none was given. An application name given but empty is an error, not a
// request for the default.
func (c *commonFlags) validate(fs *flag.FlagSet, def string) error {
	var err error
	if c.given, c.typed, err = givenFlags(fs); err != nil {
		return err
	}
	if c.given["application-name"] && strings.TrimSpace(c.app) == "" {
		return errors.New("--application-name is empty: give a name such as checkout.api, or leave the flag out for the default")
	}
	if strings.TrimSpace(c.app) == "" {
		c.app = def
	}
	return c.validateNumbers()
}
