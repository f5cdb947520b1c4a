package config

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// Settings may be printed whole without leaking a credential, while Env,
// meant for a child's environment only, carries them.
func TestSettingsPrintWithoutSecrets(t *testing.T) {
	env := func(string) (string, bool) { return "", false }
	for _, cfg := range []Config{
		{ApplicationName: "app", ServerAddress: "https://p.example.com", AuthToken: "canary-token-51"},
		{ApplicationName: "app", ServerAddress: "https://p.example.com", BasicAuthUser: "u", BasicAuthPassword: "canary-pass-51"},
	} {
		s, err := Resolve(cfg, env)
		if err != nil {
			t.Fatal(err)
		}
		secret := cfg.AuthToken + cfg.BasicAuthPassword
		for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
			if out := fmt.Sprintf(verb, s); strings.Contains(out, secret) {
				t.Errorf("Settings printed with %s shows the secret: %s", verb, out)
			}
		}
		e := s.Env()
		if got := e["PYROSCOPE_AUTH_TOKEN"] + e["PYROSCOPE_BASIC_AUTH_PASSWORD"]; got != secret {
			t.Errorf("Env carries %q, want the secret for the child", got)
		}
	}
}

// PYROSCOPE_PROFILE_TYPES=none asks for nothing, where an empty variable
// falls back to the defaults: pyroscope exec relies on the difference when
// it samples a command's CPU and cpu was the only type asked for.
func TestProfileTypesVariable(t *testing.T) {
	defaults := []string{"cpu", "inuse_space"}
	for _, tc := range []struct {
		name  string
		env   map[string]string
		given []string
		want  []string
	}{
		{"unset", nil, nil, defaults},
		{"empty", map[string]string{"PYROSCOPE_PROFILE_TYPES": " "}, nil, defaults},
		{"list", map[string]string{"PYROSCOPE_PROFILE_TYPES": "goroutines, cpu,goroutines"}, nil, []string{"goroutines", "cpu"}},
		{"none", map[string]string{"PYROSCOPE_PROFILE_TYPES": "none"}, nil, nil},
		{"none with spaces", map[string]string{"PYROSCOPE_PROFILE_TYPES": " none ,"}, nil, nil},
		{"Config.ProfileTypes beats none", map[string]string{"PYROSCOPE_PROFILE_TYPES": "none"}, []string{"cpu"}, []string{"cpu"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{ApplicationName: "app", ServerAddress: "http://localhost:4040",
				ProfileTypes: tc.given, DefaultProfileTypes: defaults}
			s, err := Resolve(cfg, func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok })
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(s.Types, tc.want) {
				t.Errorf("Types = %q, want %q", s.Types, tc.want)
			}
		})
	}
}
