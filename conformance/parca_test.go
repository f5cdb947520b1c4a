package conformance

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/pprof/profile"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/pyroscope-sdk/pyroscope-go/internal/config"
	"github.com/pyroscope-sdk/pyroscope-go/internal/upload"
	"github.com/pyroscope-sdk/pyroscope-go/internal/window"
)

// writeRawProcedure is the method profilestore.proto declares, which
// Parca and Polar Signals Cloud serve.
const writeRawProcedure = "parca.profilestore.v1alpha1.ProfileStoreService/WriteRaw"

// writeRawRequestType describes parca.profilestore.v1alpha1.WriteRawRequest
// as Parca's profilestore.proto declares it, so that the test server decodes
// requests with the protobuf runtime rather than with the code under test.
func writeRawRequestType(t *testing.T) protoreflect.MessageType {
	t.Helper()
	const pkg = ".parca.profilestore.v1alpha1."
	field := func(name string, num int32, typ descriptorpb.FieldDescriptorProto_Type, repeated bool, msg string) *descriptorpb.FieldDescriptorProto {
		label := descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL
		if repeated {
			label = descriptorpb.FieldDescriptorProto_LABEL_REPEATED
		}
		f := &descriptorpb.FieldDescriptorProto{Name: proto.String(name), Number: proto.Int32(num), Type: typ.Enum(), Label: label.Enum()}
		if msg != "" {
			f.TypeName = proto.String(pkg + msg)
		}
		return f
	}
	const (
		str   = descriptorpb.FieldDescriptorProto_TYPE_STRING
		bytes = descriptorpb.FieldDescriptorProto_TYPE_BYTES
		boolT = descriptorpb.FieldDescriptorProto_TYPE_BOOL
		msgT  = descriptorpb.FieldDescriptorProto_TYPE_MESSAGE
	)
	message := func(name string, fields ...*descriptorpb.FieldDescriptorProto) *descriptorpb.DescriptorProto {
		return &descriptorpb.DescriptorProto{Name: proto.String(name), Field: fields}
	}
	fd, err := protodesc.NewFile(&descriptorpb.FileDescriptorProto{
		Name:    proto.String("parca/profilestore/v1alpha1/profilestore.proto"),
		Package: proto.String("parca.profilestore.v1alpha1"),
		Syntax:  proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{
			message("WriteRawRequest", field("tenant", 1, str, false, ""), field("series", 2, msgT, true, "RawProfileSeries"), field("normalized", 3, boolT, false, "")),
			message("RawProfileSeries", field("labels", 1, msgT, false, "LabelSet"), field("samples", 2, msgT, true, "RawSample")),
			message("Label", field("name", 1, str, false, ""), field("value", 2, str, false, "")),
			message("LabelSet", field("labels", 1, msgT, true, "Label")),
			message("RawSample", field("raw_profile", 1, bytes, false, "")),
		},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return dynamicpb.NewMessageType(fd.Messages().ByName("WriteRawRequest"))
}

// writeRaw is a decoded WriteRawRequest.
type writeRaw struct {
	Series []struct {
		Labels struct {
			Labels []struct{ Name, Value string }
		}
		Samples []struct {
			RawProfile []byte
		}
	}
}

func (w *writeRaw) labels(i int) map[string]string {
	m := map[string]string{}
	for _, l := range w.Series[i].Labels.Labels {
		m[l.Name] = l.Value
	}
	return m
}

// hasUnknownFields reports whether m or a message inside it holds fields
// its type does not declare: a field number or wire type got wrong.
func hasUnknownFields(m protoreflect.Message) bool {
	if len(m.GetUnknown()) > 0 {
		return true
	}
	found := false
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.Message() != nil && fd.IsList():
			for i := 0; i < v.List().Len(); i++ {
				found = found || hasUnknownFields(v.List().Get(i).Message())
			}
		case fd.Message() != nil:
			found = found || hasUnknownFields(v.Message())
		}
		return !found
	})
	return found
}

// rawCodec hands the test server the request bytes undecoded.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return *v.(*[]byte), nil }
func (rawCodec) Unmarshal(data []byte, v any) error {
	*v.(*[]byte) = append([]byte(nil), data...)
	return nil
}
func (rawCodec) Name() string { return "proto" }

// parcaServer is a real gRPC server answering WriteRaw like Parca and
// recording what it receives. fail, when set, decides the answer to the
// n-th call (from 0).
type parcaServer struct {
	fail    func(n int) error
	reqType protoreflect.MessageType

	mu    sync.Mutex
	calls []receivedWrite
}

type receivedWrite struct {
	md          metadata.MD
	hasDeadline bool
	unknown     bool
	req         writeRaw
}

func (s *parcaServer) handle(_ any, stream grpc.ServerStream) error {
	if m, _ := grpc.MethodFromServerStream(stream); m != "/"+writeRawProcedure {
		return status.Errorf(codes.Unimplemented, "unknown method %s", m)
	}
	var in []byte
	if err := stream.RecvMsg(&in); err != nil {
		return err
	}
	msg := s.reqType.New().Interface()
	if err := proto.Unmarshal(in, msg); err != nil {
		return status.Errorf(codes.InvalidArgument, "decoding WriteRawRequest: %v", err)
	}
	js, err := protojson.MarshalOptions{UseProtoNames: false}.Marshal(msg)
	if err != nil {
		return status.Error(codes.Internal, err.Error())
	}
	rec := receivedWrite{unknown: hasUnknownFields(msg.ProtoReflect())}
	if err := json.Unmarshal(js, &rec.req); err != nil {
		return status.Error(codes.Internal, err.Error())
	}
	rec.md, _ = metadata.FromIncomingContext(stream.Context())
	_, rec.hasDeadline = stream.Context().Deadline()
	s.mu.Lock()
	n := len(s.calls)
	s.calls = append(s.calls, rec)
	s.mu.Unlock()
	if s.fail != nil {
		if err := s.fail(n); err != nil {
			return err
		}
	}
	return stream.SendMsg(&[]byte{}) // an empty WriteRawResponse
}

func (s *parcaServer) received() []receivedWrite {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]receivedWrite(nil), s.calls...)
}

// startParcaServer serves s on 127.0.0.1, with TLS when tlsConfig is set,
// and returns its host:port.
func startParcaServer(t *testing.T, s *parcaServer, tlsConfig *tls.Config) string {
	t.Helper()
	s.reqType = writeRawRequestType(t)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	opts := []grpc.ServerOption{grpc.ForceServerCodec(rawCodec{}), grpc.UnknownServiceHandler(s.handle)}
	if tlsConfig != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(tlsConfig)))
	}
	srv := grpc.NewServer(opts...)
	served := make(chan struct{})
	go func() { srv.Serve(lis); close(served) }()
	t.Cleanup(func() { srv.Stop(); <-served })
	return lis.Addr().String()
}

// testTLS makes a CA and a certificate it signs for 127.0.0.1, and returns
// a server configuration using that certificate and a client configuration
// that trusts the CA alone.
func testTLS(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "upload test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{leafDER}, PrivateKey: leafKey}}},
		&tls.Config{RootCAs: pool}
}

// newTestParca is NewParca on the SDK's own HTTP client, closed when the
// test ends. With tlsConfig, the client wraps a user's client that trusts
// the test CA (Config.HTTPClient); without, it is the SDK's default one.
func newTestParca(t *testing.T, address string, creds *upload.Credentials, tlsConfig *tls.Config) *upload.Parca {
	t.Helper()
	var base upload.Doer
	if tlsConfig != nil {
		tr := &http.Transport{TLSClientConfig: tlsConfig, Protocols: new(http.Protocols)}
		tr.Protocols.SetHTTP2(true)
		t.Cleanup(tr.CloseIdleConnections)
		base = &http.Client{Transport: tr}
	}
	client, err := upload.NewHTTPClient(upload.TransportOptions{HTTP2: true}, base)
	if err != nil {
		t.Fatal(err)
	}
	p, err := upload.NewParca(address, creds, client)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func TestParcaWriteRaw(t *testing.T) {
	verifyNoLeaks(t)
	windows := testWindows(t, config.ProtocolParca)
	serverTLS, clientTLS := testTLS(t)
	tests := []struct {
		name    string
		tls     bool
		address func(hostPort string) string
	}{
		{"plaintext http://", false, func(a string) string { return "http://" + a }},
		{"TLS https://", true, func(a string) string { return "https://" + a }},
		{"TLS bare host:port", true, func(a string) string { return a }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &parcaServer{}
			var srvTLS, cliTLS *tls.Config
			if tt.tls {
				srvTLS, cliTLS = serverTLS, clientTLS
			}
			creds := &upload.Credentials{
				Token: config.NewSecret("eyJhbGciOiJSUzI1NiJ9.jwt.sig"), TokenSource: "PYROSCOPE_AUTH_TOKEN",
				Headers: map[string]string{"X-Polarsignals-Project": "p-42"},
			}
			p := newTestParca(t, tt.address(startParcaServer(t, s, srvTLS)), creds, cliTLS)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			n, err := p.Send(ctx, windows)
			if err != nil || n != len(windows) {
				t.Fatalf("Send = %d, %v; want %d, nil", n, err, len(windows))
			}
			got := s.received()
			if len(got) != 1 {
				t.Fatalf("server got %d calls, want the batch in one", len(got))
			}
			c := got[0]
			if a := c.md.Get("authorization"); len(a) != 1 || a[0] != "Bearer eyJhbGciOiJSUzI1NiJ9.jwt.sig" {
				t.Errorf("authorization metadata %q, want the bearer token", a)
			}
			if v := c.md.Get("x-polarsignals-project"); len(v) != 1 || v[0] != "p-42" {
				t.Errorf("extra header reached the server as %q, want p-42", v)
			}
			if !c.hasDeadline {
				t.Error("the context's deadline did not reach the server as grpc-timeout")
			}
			if c.unknown {
				t.Error("the request holds fields profilestore.proto does not declare")
			}
			if len(c.req.Series) != len(windows) {
				t.Fatalf("got %d series, want %d", len(c.req.Series), len(windows))
			}
			shapes := map[string]shape{}
			for i := range c.req.Series {
				want := map[string]string{
					"__name__": mustProfileName(t, windows[i].Name), "service_name": "checkout.api",
					"env": "test", "region": "eu_west",
				}
				if got := c.req.labels(i); fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("series %d labels %v, want %v", i, got, want)
				}
				if len(c.req.Series[i].Samples) != 1 {
					t.Fatalf("series %d (%s %v) holds %d profiles, want the window's one", i, windows[i].Name, windows[i].SampleTypes, len(c.req.Series[i].Samples))
				}
				raw := c.req.Series[i].Samples[0].RawProfile
				checkParcaProfile(t, windows[i], raw)
				if p, err := profile.ParseData(raw); err == nil {
					shapes[windows[i].Name] = shapes[windows[i].Name].add(p)
				}
			}
			// Parca takes a profile with a duration for a change and one
			// without for a snapshot: live heap and goroutines arrive as
			// profiles of their own, the heap's allocations as another.
			want := map[string]shape{window.KindCPU: {1, 0}, window.KindGoroutines: {0, 1}, window.KindHeap: {1, 1}}
			if fmt.Sprint(shapes) != fmt.Sprint(want) {
				t.Errorf("change and snapshot profiles per family %v, want %v", shapes, want)
			}
		})
	}
}

// shape counts a family's profiles of changes and of snapshots, as Parca
// tells them apart: by their duration.
type shape struct{ changes, snapshots int }

func (s shape) add(p *profile.Profile) shape {
	if p.DurationNanos == 0 {
		s.snapshots++
	} else {
		s.changes++
	}
	return s
}

// checkParcaProfile checks the profile Parca received for window w: the
// producer's bytes (checkReceivedProfile), of changes only or of snapshots
// only, as the window's sample types say.
func checkParcaProfile(t *testing.T, w window.Window, raw []byte) {
	t.Helper()
	checkReceivedProfile(t, w, raw)
	for _, st := range w.SampleTypes {
		if st.Snapshot != w.SampleTypes[0].Snapshot {
			t.Errorf("%s: one profile mixes snapshot and change types: %v", w.Name, w.SampleTypes)
		}
	}
}

func TestParcaPlaintextOnlyForHTTP(t *testing.T) {
	verifyNoLeaks(t)
	windows := testWindows(t, config.ProtocolParca)[:1]
	serverTLS, clientTLS := testTLS(t)
	tests := []struct {
		name      string
		serverTLS bool
		address   func(hostPort string) string
		clientTLS *tls.Config
		wantInErr string
	}{
		{"bare host:port to a plaintext server", false, func(a string) string { return a }, clientTLS, "does not speak TLS"},
		{"https:// to a plaintext server", false, func(a string) string { return "https://" + a }, clientTLS, "does not speak TLS"},
		{"http:// to a TLS server", true, func(a string) string { return "http://" + a }, nil, ""},
		{"TLS server signed by an unknown CA", true, func(a string) string { return a }, nil, "certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &parcaServer{}
			var srvTLS *tls.Config
			if tt.serverTLS {
				srvTLS = serverTLS
			}
			p := newTestParca(t, tt.address(startParcaServer(t, s, srvTLS)), &upload.Credentials{Token: config.NewSecret("tok")}, tt.clientTLS)
			n, err := p.Send(context.Background(), windows)
			if n != 0 || err == nil {
				t.Fatalf("Send = %d, %v; want a failure", n, err)
			}
			t.Log(err)
			if !strings.Contains(err.Error(), tt.wantInErr) {
				t.Errorf("error %q does not say %q", err, tt.wantInErr)
			}
			if got := s.received(); len(got) != 0 {
				t.Errorf("the server received %d calls; the token travelled over the wrong transport", len(got))
			}
		})
	}
}

func TestParcaErrorsAreClassified(t *testing.T) {
	verifyNoLeaks(t)
	windows := testWindows(t, config.ProtocolParca)[:1]
	const token = "eyJhbGciOiJSUzI1NiJ9.jwt.sig"
	slowDown, err := status.New(codes.ResourceExhausted, "rate limited").
		WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(3 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name          string
		err           error
		retryable     bool
		auth          bool
		retryAfter    time.Duration
		wantInMessage string
	}{
		{"rejected token", status.Error(codes.Unauthenticated, "invalid token "+token), false, true, 0,
			"unauthenticated: invalid token [redacted]"},
		{"no write permission", status.Error(codes.PermissionDenied, "project is read-only"), false, true, 0, "project is read-only"},
		{"rate limited with RetryInfo", slowDown.Err(), true, false, 3 * time.Second, "resource_exhausted: rate limited"},
		{"unavailable", status.Error(codes.Unavailable, "shutting down"), true, false, 0, "unavailable: shutting down"},
		{"internal", status.Error(codes.Internal, "panic"), true, false, 0, "internal"},
		{"invalid profile", status.Error(codes.InvalidArgument, "bad pprof: 100% broken"), false, false, 0, "bad pprof: 100% broken"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &parcaServer{fail: func(int) error { return tt.err }}
			p := newTestParca(t, "http://"+startParcaServer(t, s, nil), &upload.Credentials{Token: config.NewSecret(token), TokenSource: "Config.AuthTokenFile"}, nil)
			n, err := p.Send(context.Background(), windows)
			var e *upload.Error
			if n != 0 || !errors.As(err, &e) {
				t.Fatalf("Send = %d, %v; want 0 and an *upload.Error", n, err)
			}
			t.Log(err)
			if e.Retryable != tt.retryable || e.Auth != tt.auth || e.RetryAfter != tt.retryAfter || e.Status != int(status.Code(tt.err)) {
				t.Errorf("Retryable=%v Auth=%v RetryAfter=%v Status=%d, want %v %v %v %d (%v)",
					e.Retryable, e.Auth, e.RetryAfter, e.Status, tt.retryable, tt.auth, tt.retryAfter, status.Code(tt.err), e)
			}
			if !strings.Contains(e.Error(), tt.wantInMessage) {
				t.Errorf("message %q does not say %q", e.Error(), tt.wantInMessage)
			}
			if strings.Contains(fmt.Sprintf("%v %+v %#v", e, e, e), token) {
				t.Errorf("message leaks the token: %v", e)
			}
		})
	}
}

func TestParcaSplitsLargeBatches(t *testing.T) {
	verifyNoLeaks(t)
	big := make([]byte, 2<<20) // two do not fit one call: the SDK sends at most 3 MiB per request
	batch := []window.Window{{App: "a", Name: window.KindCPU, Data: big}, {App: "a", Name: window.KindHeap, Data: big}, {App: "a", Name: window.KindBlock, Data: big}}
	s := &parcaServer{fail: func(n int) error {
		if n == 1 {
			return status.Error(codes.Unavailable, "restarting")
		}
		return nil
	}}
	p := newTestParca(t, "http://"+startParcaServer(t, s, nil), nil, nil)
	n, err := p.Send(context.Background(), batch)
	if n != 1 || !upload.Retryable(err) {
		t.Fatalf("Send = %d, %v; want the first window delivered and a retryable error", n, err)
	}
	got := s.received()
	if len(got) != 2 {
		t.Fatalf("server got %d calls, want 2", len(got))
	}
	for i, c := range got {
		if len(c.req.Series) != 1 || c.req.labels(0)["__name__"] != mustProfileName(t, batch[i].Name) {
			t.Errorf("call %d does not hold window %d alone, in order", i, i)
		}
	}
}

func TestParcaTokenFile(t *testing.T) {
	verifyNoLeaks(t)
	const token = "eyJ0b2tlbi1maWxlIjp0cnVlfQ.jwt.sig"
	path := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := &parcaServer{fail: func(int) error { return status.Error(codes.Unauthenticated, "expired: "+token) }}
	p := newTestParca(t, "http://"+startParcaServer(t, s, nil), &upload.Credentials{TokenFile: path, TokenSource: "Config.AuthTokenFile"}, nil)
	_, err := p.Send(context.Background(), testWindows(t, config.ProtocolParca)[:1])
	var e *upload.Error
	if !errors.As(err, &e) || !e.Auth || !strings.Contains(e.Error(), "expired: [redacted]") {
		t.Fatalf("got %v, want an Auth error with the server's message, the file's token redacted", err)
	}
	if strings.Contains(e.Error(), token) {
		t.Errorf("message leaks the token: %v", e)
	}
	if got := s.received(); len(got) != 1 || fmt.Sprint(got[0].md.Get("authorization")) != "[Bearer "+token+"]" {
		t.Errorf("the server did not receive the file's token as bearer metadata")
	}
}
