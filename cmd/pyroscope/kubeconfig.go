package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/pyroscope-sdk/pyroscope-go/internal/discover"
)

// The parts of a kubeconfig file (kubectl's format, clientcmd's v1 Config)
// the agent reads. Fields it cannot honour are read too, so that a file
// that needs them is refused with a reason instead of failing later with a
// 401 that hides why.
type (
	kubeconfigFile struct {
		CurrentContext string `yaml:"current-context"`
		Contexts       []struct {
			Name    string `yaml:"name"`
			Context struct {
				Cluster string `yaml:"cluster"`
				User    string `yaml:"user"`
			} `yaml:"context"`
		} `yaml:"contexts"`
		Clusters []struct {
			Name    string `yaml:"name"`
			Cluster struct {
				Server                   string `yaml:"server"`
				CertificateAuthority     string `yaml:"certificate-authority"`
				CertificateAuthorityData string `yaml:"certificate-authority-data"`
				InsecureSkipTLSVerify    bool   `yaml:"insecure-skip-tls-verify"`
				TLSServerName            string `yaml:"tls-server-name"`
				ProxyURL                 string `yaml:"proxy-url"`
			} `yaml:"cluster"`
		} `yaml:"clusters"`
		Users []struct {
			Name string         `yaml:"name"`
			User kubeconfigUser `yaml:"user"`
		} `yaml:"users"`
	}
	kubeconfigUser struct {
		Token                 string    `yaml:"token"`
		TokenFile             string    `yaml:"tokenFile"`
		ClientCertificate     string    `yaml:"client-certificate"`
		ClientCertificateData string    `yaml:"client-certificate-data"`
		ClientKey             string    `yaml:"client-key"`
		ClientKeyData         string    `yaml:"client-key-data"`
		Exec                  yaml.Node `yaml:"exec"`
		AuthProvider          yaml.Node `yaml:"auth-provider"`
		Username              string    `yaml:"username"`
		Password              string    `yaml:"password"`
		As                    string    `yaml:"as"`
	}
)

// loadKubeconfig reads the kubeconfig file at path and returns how to reach
// the API server of its current context: the cluster's server and CA (a
// file or inline data; insecure-skip-tls-verify and tls-server-name
// honoured) and the user's token, token file or client certificate and key
// (files or inline data). Relative file names are taken from the
// kubeconfig's directory, as kubectl takes them. Credential plugins (exec,
// auth-provider), basic auth, impersonation and proxies are refused with an
// error that says so: the agent talks to the API server itself, without
// client-go, and would otherwise fail with an unexplained 401.
func loadKubeconfig(path string) (discover.KubeConfig, error) {
	fail := func(format string, args ...any) (discover.KubeConfig, error) {
		return discover.KubeConfig{}, fmt.Errorf("kubeconfig %s: "+format, append([]any{path}, args...)...)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return discover.KubeConfig{}, fmt.Errorf("kubeconfig: %w", err)
	}
	var f kubeconfigFile
	if err := yaml.Unmarshal(b, &f); err != nil {
		return fail("not a kubeconfig file: %v", err)
	}
	if f.CurrentContext == "" {
		return fail("no current-context is set: set one with kubectl config use-context NAME")
	}
	ctxIdx := -1
	for i := range f.Contexts {
		if f.Contexts[i].Name == f.CurrentContext {
			ctxIdx = i
		}
	}
	if ctxIdx < 0 {
		return fail("current-context %q is not among its contexts", f.CurrentContext)
	}
	kctx := f.Contexts[ctxIdx].Context
	dir := filepath.Dir(path)
	rel := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	// readData returns the inline data of field-data (base64, as kubectl
	// writes it), else the content of the file field names.
	readData := func(field string, data string, file string) ([]byte, error) {
		if data != "" {
			b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(data))
			if err != nil {
				return nil, fmt.Errorf("kubeconfig %s: %s-data is not base64: %w", path, field, err)
			}
			return b, nil
		}
		if file == "" {
			return nil, nil
		}
		b, err := os.ReadFile(rel(file))
		if err != nil {
			return nil, fmt.Errorf("kubeconfig %s: %s: %w", path, field, err)
		}
		return b, nil
	}

	var c discover.KubeConfig
	found := false
	for _, cl := range f.Clusters {
		if cl.Name != kctx.Cluster {
			continue
		}
		found = true
		k := cl.Cluster
		if k.Server == "" {
			return fail("cluster %q has no server", cl.Name)
		}
		if k.ProxyURL != "" {
			return fail("cluster %q has a proxy-url, which the agent does not support: reach the API server directly", cl.Name)
		}
		if !strings.HasPrefix(k.Server, "https://") {
			return fail("cluster %q has server %q: the agent reaches the API server over https:// only", cl.Name, k.Server)
		}
		c.Server = strings.TrimRight(k.Server, "/")
		c.ServerName = k.TLSServerName
		c.InsecureSkipVerify = k.InsecureSkipTLSVerify
		if c.CA, err = readData("certificate-authority", k.CertificateAuthorityData, k.CertificateAuthority); err != nil {
			return discover.KubeConfig{}, err
		}
		if c.CA != nil && !x509.NewCertPool().AppendCertsFromPEM(c.CA) {
			return fail("cluster %q: its certificate-authority holds no PEM certificate", cl.Name)
		}
	}
	if !found {
		return fail("context %q names cluster %q, which it does not hold", f.CurrentContext, kctx.Cluster)
	}
	if kctx.User == "" {
		return c, nil // an API server that lets anyone list pods
	}
	found = false
	for _, u := range f.Users {
		if u.Name != kctx.User {
			continue
		}
		found = true
		usr := u.User
		var unsupported []string
		if !usr.Exec.IsZero() {
			unsupported = append(unsupported, "an exec credential plugin (user.exec)")
		}
		if !usr.AuthProvider.IsZero() {
			unsupported = append(unsupported, "an auth-provider")
		}
		if usr.Username != "" || usr.Password != "" {
			unsupported = append(unsupported, "basic auth (username/password)")
		}
		if usr.As != "" {
			unsupported = append(unsupported, "impersonation (as)")
		}
		if len(unsupported) > 0 {
			return fail("user %q uses %s, which the agent does not support: give it a kubeconfig whose user has a token, a tokenFile or a client certificate (e.g. a service account's token)", u.Name, strings.Join(unsupported, " and "))
		}
		c.Token, c.TokenFile = strings.TrimSpace(usr.Token), rel(usr.TokenFile)
		if c.CertPEM, err = readData("client-certificate", usr.ClientCertificateData, usr.ClientCertificate); err != nil {
			return discover.KubeConfig{}, err
		}
		if c.KeyPEM, err = readData("client-key", usr.ClientKeyData, usr.ClientKey); err != nil {
			return discover.KubeConfig{}, err
		}
		if (c.CertPEM == nil) != (c.KeyPEM == nil) {
			return fail("user %q has a client certificate without its key, or a key without its certificate: give both", u.Name)
		}
		if c.CertPEM != nil {
			if _, err := tls.X509KeyPair(c.CertPEM, c.KeyPEM); err != nil {
				return fail("user %q: its client certificate and key: %v", u.Name, err)
			}
		}
	}
	if !found {
		return fail("context %q names user %q, which it does not hold", f.CurrentContext, kctx.User)
	}
	return c, nil
}

// kubeConfigFor picks the Kubernetes credentials: the kubeconfig named by
// --kubeconfig, else the KUBECONFIG variable, else the in-cluster service
// account. When none is there, the error says each place it looked.
func kubeConfigFor(flagPath string, getenv func(string) string) (discover.KubeConfig, error) {
	if flagPath != "" {
		return loadKubeconfig(flagPath)
	}
	if env := strings.TrimSpace(getenv("KUBECONFIG")); env != "" {
		if strings.Contains(env, string(filepath.ListSeparator)) {
			return discover.KubeConfig{}, fmt.Errorf("KUBECONFIG %q lists several files, which the agent does not merge: name one with --kubeconfig", env)
		}
		c, err := loadKubeconfig(env)
		if err != nil {
			return c, fmt.Errorf("KUBECONFIG: %w", err)
		}
		return c, nil
	}
	c, err := discover.InClusterConfig()
	if err != nil {
		// InClusterConfig's message lists what it looked for in the pod.
		msg := strings.TrimPrefix(err.Error(), "discover: ")
		return c, errors.New(msg + " (no --kubeconfig and no KUBECONFIG were given either)")
	}
	if !x509.NewCertPool().AppendCertsFromPEM(c.CA) {
		return c, errors.New("the service account's CA certificate (ca.crt beside its token) holds no PEM certificate")
	}
	return c, nil
}
