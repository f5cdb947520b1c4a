package main

import (
	"net/http"
	"net/http/httptest"
	"runtime/debug"
	"slices"
	"strings"
	"testing"

	pyroscope "github.com/pyroscope-sdk/pyroscope-go"
)

// runInProcess runs the CLI's main logic with env as its whole environment.
func runInProcess(args []string, env map[string]string) (code int, stdout, stderr string) {
	// Not *bytes.Buffer: exec.Cmd would fill it with ReadFrom while the CLI
	// writes its own lines, and lose them.
	out, errOut := newLockedBuffer(), newLockedBuffer()
	code = run(args, &stdio{
		stdin: strings.NewReader(""), stdout: out, stderr: errOut,
		getenv:  func(k string) string { return env[k] },
		environ: func() []string { return nil },
	})
	return code, out.String(), errOut.String()
}

func TestBadInputSaysWhatToFix(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	unreachable := closed.URL
	closed.Close()
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"missing --", []string{"exec", "/bin/true"}, nil, "put -- before the command"},
		{"no command", []string{"exec", "--"}, nil, "no command given"},
		{"unknown flag", []string{"exec", "--frobnicate", "--", "/bin/true"}, nil, "flag provided but not defined: --frobnicate"},
		{"unknown command", []string{"attach"}, nil, `unknown command "attach"`},
		{"nonexistent PID", []string{"connect", "--pid", "999999999"}, nil, "no process with PID 999999999"},
		{"PID not a number", []string{"connect", "--pid", "abc"}, nil, `"abc" is not a process ID`},
		{"unreachable URL", []string{"connect", "--url", unreachable}, nil, "check that the program runs and serves net/http/pprof"},
		{"URL without scheme", []string{"connect", "--url", "localhost:6060"}, nil, "is not an http(s) URL"},
		{"connect without target", []string{"connect"}, nil, "--pid PID or --url"},
		{"empty application name", []string{"exec", "--application-name", "", "--", "/bin/true"}, nil, "--application-name is empty"},
		{"bad tag", []string{"exec", "--tag", "a=b}", "--", "/bin/true"}, nil, `--tag: tag "a" value "b}" contains '}'`},
		{"bad server address", []string{"exec", "--server-address", "localhost:4040", "--", "/bin/true"}, nil, `--server-address "localhost:4040" is not an http(s) URL with a host`},
		{"bad upload rate in env", []string{"exec", "--", "/bin/true"}, map[string]string{"PYROSCOPE_UPLOAD_RATE": "often"}, `PYROSCOPE_UPLOAD_RATE="often"`},
		{"upload rate without unit", []string{"exec", "--upload-rate", "15", "--", "/bin/true"}, nil, `--upload-rate "15": not a duration: give a unit, such as 15s`},
		{"upload rate variable without unit", []string{"exec", "--", "/bin/true"}, map[string]string{"PYROSCOPE_UPLOAD_RATE": "15"}, `PYROSCOPE_UPLOAD_RATE="15": not a duration: give a unit, such as 15s`},
		{"stop timeout without unit", []string{"exec", "--stop-timeout", "10", "--", "/bin/true"}, nil, `--stop-timeout "10": not a duration: give a unit, such as 10s`},
		{"negative stop timeout", []string{"exec", "--stop-timeout", "-1s", "--", "/bin/true"}, nil, "--stop-timeout -1s: use a positive duration such as 10s"},
		{"zero stop timeout", []string{"exec", "--stop-timeout", "0", "--", "/bin/true"}, nil, "--stop-timeout 0s: use a positive duration such as 10s"},
		{"bad stop timeout variable", []string{"exec", "--", "/bin/true"}, map[string]string{"PYROSCOPE_STOP_TIMEOUT": "0"}, "PYROSCOPE_STOP_TIMEOUT 0s: use a positive duration"},
		{"bad sample rate", []string{"exec", "--sample-rate", "fast", "--", "/bin/true"}, nil, `--sample-rate "fast"`},
		{"missing token file", []string{"exec", "--auth-token-file", "/nonexistent/token", "--", "/bin/true"}, nil, "--auth-token-file: "},
		{"unknown protocol", []string{"exec", "--protocol", "otlp", "--", "/bin/true"}, nil, `--protocol "otlp" is unknown`},
		{"unknown protocol variable", []string{"exec", "--", "/bin/true"}, map[string]string{"PYROSCOPE_PROTOCOL": "otlp"}, `PYROSCOPE_PROTOCOL "otlp" is unknown`},
		{"bad server address variable", []string{"exec", "--", "/bin/true"}, map[string]string{"PYROSCOPE_SERVER_ADDRESS": "localhost:4040"}, `PYROSCOPE_SERVER_ADDRESS "localhost:4040" is not an http(s) URL`},
		{"bad tag variable", []string{"exec", "--", "/bin/true"}, map[string]string{"PYROSCOPE_TAGS": "env=a}b"}, "PYROSCOPE_TAGS: "},
		{"unknown profile type", []string{"connect", "--url", "http://127.0.0.1:1", "--profile-types", "heap"}, nil, `--profile-types: unknown profile type "heap"`},
		{"unknown profile type variable", []string{"connect", "--url", "http://127.0.0.1:1"}, map[string]string{"PYROSCOPE_PROFILE_TYPES": "cpu,heap"}, `PYROSCOPE_PROFILE_TYPES: unknown profile type "heap"`},
		{"connect lists the valid types", []string{"connect", "--url", "http://127.0.0.1:1", "--profile-types", "heap"}, nil, "use cpu, inuse_objects, alloc_objects, inuse_space, alloc_space, goroutines, mutex_count, mutex_duration, block_count, block_duration, goroutine_leak"},
		{"url cannot pull goroutine_leak", []string{"connect", "--url", "http://127.0.0.1:1", "--profile-types", "cpu,goroutine_leak"}, nil, `--profile-types: --url cannot pull "goroutine_leak"`},
		{"exec unknown profile type", []string{"exec", "--profile-types", "cpu,heap", "--", "/bin/true"}, nil, `--profile-types: unknown profile type "heap": use cpu, inuse_objects,`},
		{"exec unknown profile type variable", []string{"exec", "--", "/bin/true"}, map[string]string{"PYROSCOPE_PROFILE_TYPES": "cpu, heap"}, `PYROSCOPE_PROFILE_TYPES: unknown profile type "heap": use cpu, inuse_objects,`},
		{"exec flag beats a bad variable", []string{"exec", "--profile-types", "bogus", "--", "/bin/true"}, map[string]string{"PYROSCOPE_PROFILE_TYPES": "cpu"}, `--profile-types: unknown profile type "bogus"`},
		{"pid with heap types", []string{"connect", "--pid", "1", "--profile-types", "inuse_space"}, nil, "--pid samples the CPU only"},
		{"agent with heap types", []string{"agent", "--kubernetes=false", "--profile-types", "cpu,inuse_space"}, nil, "--profile-types: the agent samples the CPU only"},
		{"agent with heap types variable", []string{"agent", "--kubernetes=false"}, map[string]string{"PYROSCOPE_PROFILE_TYPES": "goroutines"}, "PYROSCOPE_PROFILE_TYPES: the agent samples the CPU only"},
		{"command not found", []string{"exec", "--", "/nonexistent/cmd"}, nil, "check the command's name and PATH"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runInProcess(tc.args, tc.env)
			if code == 0 {
				t.Errorf("exit code 0, want non-zero")
			}
			if strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, tc.want) {
				t.Errorf("stderr = %q, want one line containing %q", stderr, tc.want)
			}
			if strings.Contains(stderr, "Config.") || strings.Contains(stderr, " -upload-rate") {
				t.Errorf("stderr = %q names an SDK field or a single-dash flag", stderr)
			}
		})
	}
}

func TestFlagBeatsVariableBeatsDefault(t *testing.T) {
	dir := t.TempDir()
	code, _, stderr := runInProcess(
		[]string{"exec", "--server-address", "file://" + dir, "--tag", "b=flag", "--", "/bin/true"},
		map[string]string{
			"PYROSCOPE_SERVER_ADDRESS":   "http://from-env.invalid:4040",
			"PYROSCOPE_APPLICATION_NAME": "envapp",
			"PYROSCOPE_TAGS":             "a=env",
		})
	if code != 0 {
		t.Fatalf("exit code %d: %s", code, stderr)
	}
	// The flag's tag replaces the variable's list; the variable's name
	// replaces the default (the command's name); the flag's address wins.
	if want := "as envapp{b=flag} to file://" + dir; !strings.Contains(stderr, want) {
		t.Errorf("start line %q does not contain %q", stderr, want)
	}
}

func TestHelpIsCompleteForEachCommand(t *testing.T) {
	for _, cmd := range []string{"exec", "connect"} {
		code, stdout, _ := runInProcess([]string{cmd, "--help"}, nil)
		if code != 0 {
			t.Errorf("%s --help exit code %d", cmd, code)
		}
		for _, want := range []string{"Examples:", "--application-name", "--server-address", "--auth-token", "PYROSCOPE_AUTH_TOKEN", "shell history", "--tag", "--sample-rate", "--upload-rate", "--log-level", "--no-logging", "--protocol", "--auth-token-file"} {
			if !strings.Contains(stdout, want) {
				t.Errorf("%s --help lacks %q", cmd, want)
			}
		}
	}
	if code, stdout, _ := runInProcess([]string{"version"}, nil); code != 0 || !strings.HasPrefix(stdout, "pyroscope "+version) {
		t.Errorf("version: %d %q", code, stdout)
	}
}

func TestChildEnv(t *testing.T) {
	set := map[string]string{"PYROSCOPE_APPLICATION_NAME": "app", "PYROSCOPE_AUTH_TOKEN": "", "PYROSCOPE_TAGS": "a=b"}
	const rest = "PYROSCOPE_APPLICATION_NAME=app PYROSCOPE_TAGS=a=b"
	for _, tc := range []struct {
		name     string
		env      []string
		types    []string // as profileTypes parsed them
		cpuByCLI bool
		want     string
	}{
		{"sampler on, types unset", []string{"HOME=/h", "PYROSCOPE_AUTH_TOKEN=old"}, nil, true,
			"HOME=/h PYROSCOPE_APPLICATION_NAME=app PYROSCOPE_PROFILE_TYPES=inuse_objects,alloc_objects,inuse_space,alloc_space PYROSCOPE_TAGS=a=b"},
		{"sampler on, user types", []string{"PYROSCOPE_PROFILE_TYPES=cpu,goroutines"}, []string{"cpu", "goroutines"}, true,
			"PYROSCOPE_APPLICATION_NAME=app PYROSCOPE_PROFILE_TYPES=goroutines PYROSCOPE_TAGS=a=b"},
		{"sampler on, only cpu", nil, []string{"cpu"}, true,
			"PYROSCOPE_APPLICATION_NAME=app PYROSCOPE_PROFILE_TYPES=none PYROSCOPE_TAGS=a=b"},
		{"flag beats the variable", []string{"PYROSCOPE_PROFILE_TYPES=goroutines"}, []string{"mutex_count", "cpu"}, true,
			"PYROSCOPE_APPLICATION_NAME=app PYROSCOPE_PROFILE_TYPES=mutex_count PYROSCOPE_TAGS=a=b"},
		{"sampler off", []string{"PYROSCOPE_PROFILE_TYPES=cpu", "PYROSCOPE_ADHOC_SERVER_ADDRESS=x"}, []string{"cpu"}, false,
			"PYROSCOPE_APPLICATION_NAME=app PYROSCOPE_PROFILE_TYPES=cpu PYROSCOPE_TAGS=a=b"},
		{"sampler off, types unset", []string{"PYROSCOPE_PROFILE_TYPES="}, nil, false, rest},
		{"no cpu asked for", nil, []string{"goroutines", "inuse_space"}, false,
			"PYROSCOPE_APPLICATION_NAME=app PYROSCOPE_PROFILE_TYPES=goroutines,inuse_space PYROSCOPE_TAGS=a=b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := strings.Join(childEnv(tc.env, set, tc.types, tc.cpuByCLI), " "); got != tc.want {
				t.Errorf("childEnv = %q, want %q", got, tc.want)
			}
		})
	}
}

// The child's default types without cpu are the SDK's own defaults minus
// cpu: a change to DefaultProfileTypes must show here.
func TestSDKDefaultsWithoutCPU(t *testing.T) {
	var want []string
	for _, p := range pyroscope.DefaultProfileTypes {
		if p != pyroscope.ProfileCPU {
			want = append(want, string(p))
		}
	}
	got := strings.Split(sdkDefaultsWithoutCPU, ",")
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("sdkDefaultsWithoutCPU = %q, want %q", got, want)
	}
}

// The version line says which build this is: a release's module version,
// else the revision it was built from, and the Go toolchain.
func TestDescribeBuild(t *testing.T) {
	for _, tc := range []struct {
		bi   debug.BuildInfo
		want string
	}{
		{debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.1.0"}}, "v0.1.0, go1.26.8"},
		{debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "e034470a1b2c3d4e5f60718293a4b5c6d7e8f901"},
			{Key: "vcs.time", Value: "2026-12-01T12:00:00Z"},
			{Key: "vcs.modified", Value: "true"},
		}}, "revision e034470a1b2c+dirty of 2026-12-01T12:00:00Z, go1.26.8"},
		{debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}}, "development build, go1.26.8"},
	} {
		if got := describeBuild(&tc.bi); got != tc.want {
			t.Errorf("describeBuild = %q, want %q", got, tc.want)
		}
	}
}
