package proftest

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// NewH2CServer starts h on 127.0.0.1 speaking plaintext HTTP/2, as a gRPC
// server such as Parca's does, closed when the test ends.
func NewH2CServer(t testing.TB, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// WriteGRPCOK answers a unary gRPC call with an empty message and status
// 0 (OK), as Parca answers a WriteRaw it accepted.
func WriteGRPCOK(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/grpc")
	w.Header().Set("Trailer", "Grpc-Status")
	w.Write([]byte{0, 0, 0, 0, 0})
	w.Header().Set("Grpc-Status", "0")
}
