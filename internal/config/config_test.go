package config

import (
	"fmt"
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
