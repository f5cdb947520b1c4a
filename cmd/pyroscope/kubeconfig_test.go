package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pyroscope-sdk/pyroscope-go/internal/discover"
	"github.com/pyroscope-sdk/pyroscope-go/internal/discover/discovertest"
)

// Each way a kubeconfig can carry the server's CA and the user's
// credentials reaches a TLS API server that checks them: the pod watch
// lists the recorded pods through the loaded configuration.
func TestKubeconfigReachesTheAPIServer(t *testing.T) {
	p := newPKI(t)
	const token = "ptest-token-4e1f"
	for _, tc := range []struct {
		name          string
		token         string // the server's; "" accepts none
		requireClient bool
		files         map[string][]byte // written beside the kubeconfig
		cluster, user string
	}{
		{name: "inline CA and token", token: token,
			cluster: "certificate-authority-data: " + b64(p.caPEM), user: "token: " + token},
		{name: "CA file and token file, relative to the kubeconfig", token: token,
			files:   map[string][]byte{"pki/ca.crt": p.caPEM, "secrets/token": []byte(token + "\n")},
			cluster: "certificate-authority: pki/ca.crt", user: "tokenFile: secrets/token"},
		{name: "inline client certificate", requireClient: true,
			cluster: "certificate-authority-data: " + b64(p.caPEM),
			user:    "client-certificate-data: " + b64(p.clientCert) + "\nclient-key-data: " + b64(p.clientKey)},
		{name: "client certificate files", requireClient: true,
			files:   map[string][]byte{"ca.crt": p.caPEM, "client.crt": p.clientCert, "client.key": p.clientKey},
			cluster: "certificate-authority: ca.crt", user: "client-certificate: client.crt\nclient-key: client.key"},
		{name: "insecure-skip-tls-verify, no CA", token: token,
			cluster: "insecure-skip-tls-verify: true", user: "token: " + token},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newAPIReplay(t, tc.token, p.serverTLS(tc.requireClient))
			dir := t.TempDir()
			for name, b := range tc.files {
				os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755)
				if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			path := writeKubeconfig(t, dir, srv.URL, tc.cluster, tc.user)
			cfg, err := loadKubeconfig(path)
			if err != nil {
				t.Fatal(err)
			}
			if s := fmt.Sprintf("%v %+v %#v", cfg, cfg, cfg); strings.Contains(s, token) || strings.Contains(s, "PRIVATE KEY") {
				t.Errorf("the configuration prints a secret: %s", s)
			}
			pods := watchPods(t, cfg)
			if _, ok := pods.Container(discovertest.ContainerID("web", "app")); !ok {
				t.Errorf("the listed pods lack web/app (%d pods)", pods.Len())
			}
		})
	}
}

// What the agent cannot honour is refused with the file's name and the
// reason, not left to fail later as an unexplained 401.
func TestKubeconfigSaysWhatItCannotDo(t *testing.T) {
	p := newPKI(t)
	ca := "certificate-authority-data: " + b64(p.caPEM)
	for _, tc := range []struct {
		name, cluster, user string
		text                string // the whole file, instead of the template
		want                string
	}{
		{name: "exec plugin", cluster: ca, user: "exec:\n  apiVersion: client.authentication.k8s.io/v1\n  command: aws", want: `user "ptest-user" uses an exec credential plugin (user.exec), which the agent does not support`},
		{name: "auth provider", cluster: ca, user: "auth-provider:\n  name: gcp", want: "an auth-provider, which the agent does not support"},
		{name: "basic auth", cluster: ca, user: "username: admin\npassword: hunter2", want: "basic auth (username/password)"},
		{name: "impersonation", cluster: ca, user: "token: x\nas: admin", want: "impersonation (as)"},
		{name: "proxy", cluster: ca + "\nproxy-url: http://proxy:3128", user: "token: x", want: "proxy-url, which the agent does not support"},
		{name: "certificate without key", cluster: ca, user: "client-certificate-data: " + b64(p.clientCert), want: "client certificate without its key"},
		{name: "CA file missing", cluster: "certificate-authority: nowhere/ca.crt", user: "token: x", want: "certificate-authority: open "},
		{name: "CA data not base64", cluster: "certificate-authority-data: '%%%'", user: "token: x", want: "certificate-authority-data is not base64"},
		{name: "CA without a certificate", cluster: "certificate-authority-data: " + b64([]byte("not a certificate")), user: "token: x", want: "its certificate-authority holds no PEM certificate"},
		{name: "key of another certificate", cluster: ca, user: "client-certificate-data: " + b64(p.caPEM) + "\nclient-key-data: " + b64(p.clientKey), want: "its client certificate and key: "},
		{name: "plain http", text: "current-context: c\ncontexts: [{name: c, context: {cluster: k}}]\nclusters: [{name: k, cluster: {server: 'http://127.0.0.1:8080'}}]\n", want: `server "http://127.0.0.1:8080": the agent reaches the API server over https:// only`},
		{name: "no current context", text: "apiVersion: v1\nkind: Config\nclusters: []\n", want: "no current-context is set"},
		{name: "current context missing", text: "current-context: gone\ncontexts: []\n", want: `current-context "gone" is not among its contexts`},
		{name: "not YAML", text: "\tfoo: [", want: "not a kubeconfig file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "kubeconfig")
			if tc.text != "" {
				os.WriteFile(path, []byte(tc.text), 0o600)
			} else {
				path = writeKubeconfig(t, dir, "https://127.0.0.1:6443", tc.cluster, tc.user)
			}
			_, err := loadKubeconfig(path)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "kubeconfig "+path) {
				t.Errorf("error = %v, want one naming %s and saying %q", err, path, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "hunter2") {
				t.Errorf("the error prints the password: %v", err)
			}
		})
	}
}

// watchPods runs a pod watch of recordedNode with cfg until the test ends,
// and returns its pods once it has listed them.
func watchPods(t *testing.T, cfg discover.KubeConfig) *discover.Pods {
	t.Helper()
	pods := &discover.Pods{}
	w := &discover.PodWatch{Config: cfg, Node: recordedNode, Pods: pods}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run = %v", err)
		}
	})
	select {
	case <-w.Ready():
	case err := <-done:
		t.Fatalf("the watch ended before listing: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("no list within 30 s")
	}
	return pods
}
