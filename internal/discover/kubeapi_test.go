package discover

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestInClusterConfigNamesWhatItLookedFor(t *testing.T) {
	dir := t.TempDir()
	_, err := inClusterConfig(func(string) string { return "" }, dir)
	if err == nil {
		t.Fatal("no credentials: no error")
	}
	for _, want := range []string{"no Kubernetes credentials", "KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT", dir + "/token", dir + "/ca.crt", "kubeconfig"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}

	os.WriteFile(filepath.Join(dir, "token"), []byte("s3cr3t-token\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "ca.crt"), []byte("pem"), 0o600)
	env := map[string]string{"KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"}
	c, err := inClusterConfig(func(k string) string { return env[k] }, dir)
	if err != nil {
		t.Fatal(err)
	}
	if c.Server != "https://[fd00::1]:443" || c.TokenFile != dir+"/token" || string(c.CA) != "pem" {
		t.Errorf("in-cluster config = %s, CA %q", c, c.CA)
	}
	if tok, err := c.token(); err != nil || tok != "s3cr3t-token" {
		t.Errorf("token() = %q, %v", tok, err)
	}
}

func TestKubeConfigNeverPrintsTheToken(t *testing.T) {
	c := KubeConfig{Server: "https://127.0.0.1:6443", Token: "s3cr3t-token"}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
		if s := fmt.Sprintf(verb, c); strings.Contains(s, "s3cr3t") || !strings.Contains(s, "127.0.0.1:6443") {
			t.Errorf("Sprintf(%s, config) = %s", verb, s)
		}
	}
	if s := fmt.Sprintf("%v", struct{ C KubeConfig }{c}); strings.Contains(s, "s3cr3t") {
		t.Errorf("a struct holding the config prints %s", s)
	}
}
