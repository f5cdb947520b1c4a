package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pyroscope-sdk/pyroscope-go/internal/discover/discovertest"
)

// The agent's Kubernetes tests replay what a real kube-apiserver (v1.34.4
// on etcd v3.6.16) answered to discovery's pod watch, recorded by
// e2e/kubernetes_test.go into internal/discover/testdata/apiserver: CI runs
// the agent against real answers without the real server.
const recordedSession = "../../internal/discover/testdata/apiserver/watch-session.json"

// The recording's node and pods, as e2e/kubernetes_test.go made them.
const (
	recordedNode      = "ptest-node"
	recordedNamespace = "ptest"
)

type recordedExchange struct {
	Request string `json:"request"`
	Status  int    `json:"status"`
	Body    string `json:"body"`
}

// apiReplay serves a recorded session over TLS: each list request gets the
// recorded list, the first watch waits for the test to open gate and then
// gets the recorded events, and later watches are held open until the
// client gives up, as an idle watch is.
type apiReplay struct {
	*httptest.Server
	t     *testing.T
	token string
	gate  chan struct{}
	list  recordedExchange
	watch recordedExchange

	mu       sync.Mutex
	watched  bool
	requests int
}

func newAPIReplay(t *testing.T, token string, tlsCfg *tls.Config) *apiReplay {
	t.Helper()
	b, err := os.ReadFile(recordedSession)
	if err != nil {
		t.Fatal(err)
	}
	var rec struct {
		Node      string             `json:"node"`
		Exchanges []recordedExchange `json:"exchanges"`
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	r := &apiReplay{t: t, token: token, gate: make(chan struct{})}
	for _, ex := range rec.Exchanges {
		u, _ := url.Parse(ex.Request)
		if u.Query().Get("watch") == "true" {
			r.watch = ex
		} else {
			r.list = ex
		}
	}
	if rec.Node != recordedNode || r.list.Body == "" || r.watch.Body == "" {
		t.Fatalf("%s: want a list and a watch on node %s", recordedSession, recordedNode)
	}
	r.Server = httptest.NewUnstartedServer(http.HandlerFunc(r.serve))
	if tlsCfg != nil {
		r.Server.TLS = tlsCfg
	}
	r.StartTLS()
	t.Cleanup(r.Close)
	return r
}

func (r *apiReplay) serve(w http.ResponseWriter, req *http.Request) {
	if r.token != "" && req.Header.Get("Authorization") != "Bearer "+r.token {
		http.Error(w, `{"kind":"Status","code":401,"message":"Unauthorized"}`, http.StatusUnauthorized)
		return
	}
	if req.URL.Path != "/api/v1/pods" || req.URL.Query().Get("fieldSelector") != "spec.nodeName="+recordedNode {
		r.t.Errorf("request %s: want the pods of node %s", req.URL, recordedNode)
		http.NotFound(w, req)
		return
	}
	r.mu.Lock()
	r.requests++
	first := false
	if req.URL.Query().Get("watch") == "true" && !r.watched {
		r.watched, first = true, true
	}
	r.mu.Unlock()
	ex := r.list
	if req.URL.Query().Get("watch") == "true" {
		if !first {
			<-req.Context().Done()
			return
		}
		select {
		case <-r.gate:
		case <-req.Context().Done():
			return
		}
		ex = r.watch
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(ex.Status)
	w.Write([]byte(ex.Body))
}

// openWatch lets the recorded watch events through.
func (r *apiReplay) openWatch() { close(r.gate) }

// pki is a CA with a server certificate for 127.0.0.1 and a client
// certificate, as a cluster's are.
type pki struct {
	caPEM                 []byte
	server                tls.Certificate
	clientCert, clientKey []byte
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ptest-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	issue := func(serial int64, tmpl *x509.Certificate) ([]byte, []byte) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl.SerialNumber = big.NewInt(serial)
		tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour)
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kb, _ := x509.MarshalECPrivateKey(key)
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
	}
	p := &pki{caPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})}
	sc, sk := issue(2, &x509.Certificate{Subject: pkix.Name{CommonName: "kube-apiserver"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature})
	if p.server, err = tls.X509KeyPair(sc, sk); err != nil {
		t.Fatal(err)
	}
	p.clientCert, p.clientKey = issue(3, &x509.Certificate{Subject: pkix.Name{CommonName: "pyroscope-agent"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature})
	return p
}

// serverTLS is the API server's TLS configuration; with requireClient it
// accepts only clients with a certificate from the CA.
func (p *pki) serverTLS(requireClient bool) *tls.Config {
	cfg := &tls.Config{Certificates: []tls.Certificate{p.server}}
	if requireClient {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(p.caPEM)
		cfg.ClientCAs, cfg.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return cfg
}

// writeKubeconfig writes a kubeconfig whose current context reaches server
// as user, given as YAML lines under "user:".
func writeKubeconfig(t *testing.T, dir, server, clusterExtra, user string) string {
	t.Helper()
	indent := func(s string) string {
		if s == "" {
			return ""
		}
		return "    " + strings.ReplaceAll(strings.TrimSpace(s), "\n", "\n    ") + "\n"
	}
	text := fmt.Sprintf(`apiVersion: v1
kind: Config
current-context: ptest
contexts:
- name: other
  context: {cluster: nowhere, user: nobody}
- name: ptest
  context:
    cluster: ptest-cluster
    user: ptest-user
    namespace: default
clusters:
- name: ptest-cluster
  cluster:
    server: %s
%susers:
- name: ptest-user
  user:
%s`, server, indent(clusterExtra), indent(user))
	path := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// recordedPodUID are the UIDs of the recording's pods, for cgroup paths
// laid out as the kubelet lays them out.
var recordedPodUID = map[string]string{
	"batch":   "65e788f8-f0be-49ee-8c9b-b104210c3bfa",
	"db":      "e3af3699-e193-4552-a204-13f935a97580",
	"pending": "d677554a-e384-4803-94f4-069b2c85e82e",
	"web":     "eae4c08e-6df1-4077-9da9-e2c97ceb8747",
	"late":    "6ef0efaa-5658-4494-964f-558eef60b040",
}

// containerCgroup is the cgroup of a recorded pod's container under the
// systemd cgroup driver with containerd.
func containerCgroup(pod, container string) string {
	return "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + strings.ReplaceAll(recordedPodUID[pod], "-", "_") +
		".slice/cri-containerd-" + discovertest.ContainerID(pod, container) + ".scope"
}
