package discover

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
)

// KubeConfig says how to reach the Kubernetes API server. Printing one
// never shows the token.
type KubeConfig struct {
	Server string // https://host:port
	CA     []byte // PEM certificates the server's must chain to; nil: the system's
	// TokenFile holds the bearer token. It is read again at every list and
	// watch, since service-account tokens are rotated in place.
	TokenFile string
	Token     string // the bearer token, when there is no TokenFile
	// CertPEM and KeyPEM are a client certificate and its key, for API
	// servers that authenticate by certificate (a kubeconfig's
	// client-certificate and client-key); nil: none.
	CertPEM, KeyPEM []byte
	// ServerName, when set, is the name the server's certificate is checked
	// against instead of Server's host (a kubeconfig's tls-server-name).
	ServerName string
	// InsecureSkipVerify accepts any server certificate (a kubeconfig's
	// insecure-skip-tls-verify): for test clusters only.
	InsecureSkipVerify bool
}

// String names the server and where the token comes from, never the token.
func (c KubeConfig) String() string {
	tok := "no token"
	switch {
	case c.TokenFile != "":
		tok = "token from " + c.TokenFile
	case c.Token != "":
		tok = "token [redacted]"
	case c.CertPEM != nil:
		tok = "client certificate"
	}
	if c.InsecureSkipVerify {
		tok += ", server certificate not verified"
	}
	return fmt.Sprintf("Kubernetes API %s (%s)", c.Server, tok)
}

// GoString is String, so that %#v does not print the token either.
func (c KubeConfig) GoString() string { return c.String() }

// Format is String for every verb, so %+v does not print the token either.
func (c KubeConfig) Format(f fmt.State, _ rune) { io.WriteString(f, c.String()) }

// serviceAccountDir is where Kubernetes mounts a pod's service account.
const serviceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"

// InClusterConfig is the configuration of an agent running in a pod: the
// API server from KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT, the
// pod's service-account token and CA certificate.
func InClusterConfig() (KubeConfig, error) {
	return inClusterConfig(os.Getenv, serviceAccountDir)
}

func inClusterConfig(getenv func(string) string, dir string) (KubeConfig, error) {
	host, port := getenv("KUBERNETES_SERVICE_HOST"), getenv("KUBERNETES_SERVICE_PORT")
	token, ca := dir+"/token", dir+"/ca.crt"
	var missing []string
	if host == "" || port == "" {
		missing = append(missing, "KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not both set")
	}
	if _, err := os.Stat(token); err != nil {
		missing = append(missing, "no service-account token at "+token)
	}
	caPEM, err := os.ReadFile(ca)
	if err != nil {
		missing = append(missing, "no service-account CA at "+ca)
	}
	if len(missing) > 0 {
		return KubeConfig{}, fmt.Errorf("discover: no Kubernetes credentials: looked for the in-cluster service account: %s; run the agent in a pod with a service account, or give it a kubeconfig", strings.Join(missing, "; "))
	}
	return KubeConfig{Server: "https://" + net.JoinHostPort(host, port), CA: caPEM, TokenFile: token}, nil
}

func (c KubeConfig) client() (*http.Client, error) {
	if _, err := url.Parse(c.Server); err != nil || !strings.HasPrefix(c.Server, "https://") {
		return nil, fmt.Errorf("discover: Kubernetes API server %q is not an https:// address", c.Server)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.ServerName, InsecureSkipVerify: c.InsecureSkipVerify}
	if c.CertPEM != nil || c.KeyPEM != nil {
		cert, err := tls.X509KeyPair(c.CertPEM, c.KeyPEM)
		if err != nil {
			return nil, fmt.Errorf("discover: the Kubernetes client certificate and key: %w", err)
		}
		tr.TLSClientConfig.Certificates = []tls.Certificate{cert}
	}
	if c.CA != nil {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(c.CA) {
			return nil, errors.New("discover: the Kubernetes CA holds no PEM certificate")
		}
		tr.TLSClientConfig.RootCAs = pool
	}
	return &http.Client{Transport: tr}, nil
}

func (c KubeConfig) token() (string, error) {
	if c.TokenFile == "" {
		return c.Token, nil
	}
	b, err := os.ReadFile(c.TokenFile)
	if err != nil {
		return "", fmt.Errorf("discover: Kubernetes token: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// The parts of the Kubernetes API's objects the agent reads.
type (
	apiPod struct {
		Metadata struct {
			Name            string            `json:"name"`
			Namespace       string            `json:"namespace"`
			UID             string            `json:"uid"`
			ResourceVersion string            `json:"resourceVersion"`
			Labels          map[string]string `json:"labels"`
			Annotations     map[string]string `json:"annotations"`
		} `json:"metadata"`
		Status struct {
			Phase                      string               `json:"phase"`
			InitContainerStatuses      []apiContainerStatus `json:"initContainerStatuses"`
			ContainerStatuses          []apiContainerStatus `json:"containerStatuses"`
			EphemeralContainerStatuses []apiContainerStatus `json:"ephemeralContainerStatuses"`
		} `json:"status"`
	}
	apiContainerStatus struct {
		Name        string `json:"name"`
		ContainerID string `json:"containerID"` // containerd://<id>, cri-o://<id>, docker://<id>
	}
	apiPodList struct {
		Metadata struct {
			ResourceVersion string `json:"resourceVersion"`
			Continue        string `json:"continue"`
		} `json:"metadata"`
		Items []apiPod `json:"items"`
	}
	apiWatchEvent struct {
		Type   string          `json:"type"` // ADDED, MODIFIED, DELETED, BOOKMARK, ERROR
		Object json.RawMessage `json:"object"`
	}
	apiStatus struct {
		Code    int    `json:"code"`
		Reason  string `json:"reason"`
		Message string `json:"message"`
	}
)

// containers are a pod's containers that have an ID; nil for a pod that
// has ended, which is then dropped.
func (p *apiPod) containers() []Container {
	if p.Status.Phase == "Succeeded" || p.Status.Phase == "Failed" {
		return nil
	}
	cs := []Container{}
	for _, list := range [][]apiContainerStatus{p.Status.InitContainerStatuses, p.Status.ContainerStatuses, p.Status.EphemeralContainerStatuses} {
		for _, st := range list {
			_, id, ok := strings.Cut(st.ContainerID, "://")
			if !ok || id == "" {
				continue // not started yet
			}
			svc := p.Metadata.Annotations[ServiceNameAnnotation]
			if svc == "" {
				svc = p.Metadata.Namespace + "/" + st.Name
			}
			cs = append(cs, Container{
				Namespace: p.Metadata.Namespace, Pod: p.Metadata.Name, PodUID: p.Metadata.UID,
				Name: st.Name, ID: id, PodLabels: p.Metadata.Labels, ServiceName: svc,
			})
		}
	}
	return cs
}
