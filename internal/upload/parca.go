package upload

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pyroscope-sdk/pyroscope-go/internal/protowire"
	"github.com/pyroscope-sdk/pyroscope-go/internal/window"
)

// writeRawProcedure is the gRPC method Parca and Polar Signals Cloud accept
// profiles on.
const writeRawProcedure = "parca.profilestore.v1alpha1.ProfileStoreService/WriteRaw"

// Parca sends windows to a Parca server or Polar Signals Cloud with the gRPC
// call ProfileStoreService/WriteRaw. gRPC is spoken directly on net/http's
// HTTP/2 client (length-prefixed messages, grpc-status trailers), so that
// embedding the SDK does not pull google.golang.org/grpc into a program.
//
// Each window becomes one series labelled __name__ (Parca's name for the
// profile family), service_name (the application) and the window's tags,
// carrying the window's pprof bytes. The application goes in service_name,
// the label Pyroscope and OpenTelemetry use too, so one query finds the same
// service whichever backend stores it.
type Parca struct {
	endpoint string
	creds    *Credentials
	client   Doer
	maxBytes int // maxRequestBytes
}

// NewParca returns a backend that writes to the Parca server at address:
// "https://host:port" or a bare "host:port" (TLS, the port defaulting to
// 443), or "http://host:port" for plaintext HTTP/2, which nothing else
// selects. client must speak HTTP/2, in plaintext for an http:// address:
// NewHTTPClient with TransportOptions.HTTP2 does.
func NewParca(address string, creds *Credentials, client Doer) (*Parca, error) {
	u, err := parcaURL(address)
	if err != nil {
		return nil, err
	}
	return &Parca{endpoint: u.String(), creds: creds, client: client, maxBytes: maxRequestBytes}, nil
}

// parcaURL turns a Parca address into the URL of the WriteRaw method.
func parcaURL(address string) (*url.URL, error) {
	var u *url.URL
	if strings.Contains(address, "://") {
		var err error
		u, err = url.Parse(address)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("parca: server address %q: want https://host:port, a bare host:port (TLS), or http://host:port for plaintext", redactURL(address))
		}
	} else {
		u = &url.URL{Scheme: "https", Host: address}
		if _, _, err := net.SplitHostPort(address); err != nil {
			u.Host = net.JoinHostPort(strings.Trim(address, "[]"), "443")
		}
		if h, _, err := net.SplitHostPort(u.Host); err != nil || h == "" || strings.ContainsAny(u.Host, "/?#@") {
			return nil, fmt.Errorf("parca: server address %q: want host:port such as grpc.polarsignals.com:443", address)
		}
	}
	u.User, u.RawQuery, u.Fragment, u.RawPath = nil, "", "", ""
	u.Path = strings.TrimSuffix(u.Path, "/") + "/" + writeRawProcedure
	return u, nil
}

// Close closes the idle connections of the client the SDK made; a client
// passed in Config.HTTPClient is left as it is.
func (p *Parca) Close() error {
	closeIdle(p.client)
	return nil
}

// Send writes batch in as few calls as maxRequestBytes allows, in order,
// stopping at the first failure.
func (p *Parca) Send(ctx context.Context, batch []window.Window) (int, error) {
	return sendInChunks(ctx, writeRawProcedure, batch, p.maxBytes, encodeWriteRaw, p.call)
}

// call makes one unary gRPC call carrying msg and classifies its outcome.
func (p *Parca) call(ctx context.Context, msg []byte) error {
	// A gRPC message: a compressed flag (0), a big-endian length, the bytes.
	body := make([]byte, 5, 5+len(msg))
	binary.BigEndian.PutUint32(body[1:], uint32(len(msg)))
	body = append(body, msg...)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.endpoint, bytes.NewReader(body))
	if err != nil {
		return &Error{Op: writeRawProcedure, Err: err}
	}
	// Headers travel as gRPC metadata: the bearer token as "authorization",
	// Config.HTTPHeaders as they are.
	p.creds.Apply(req.Header)
	req.Header.Set("Content-Type", "application/grpc")
	req.Header.Set("Te", "trailers")
	if d, ok := ctx.Deadline(); ok {
		req.Header.Set("Grpc-Timeout", grpcTimeout(time.Until(d)))
	}
	resp, err := p.client.Do(req)
	if err != nil {
		var rh tls.RecordHeaderError
		// net/http turns a plaintext answer into an error of its own text.
		if errors.As(err, &rh) || strings.Contains(err.Error(), "server gave HTTP response to HTTPS client") {
			err = fmt.Errorf("%w (the server does not speak TLS; for a plaintext server write the address as http://host:port)", err)
		}
		return Classify(writeRawProcedure, nil, err)
	}
	if resp.StatusCode != http.StatusOK {
		// Not a gRPC answer: a proxy or load balancer in front said no.
		err := Classify(writeRawProcedure, resp, nil)
		if e, ok := err.(*Error); ok && e.Auth {
			p.creds.scrub(e)
		}
		return err
	}
	// Trailers arrive once the body is read to its end.
	_, readErr := io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	status := resp.Trailer.Get("Grpc-Status")
	h := resp.Trailer
	if status == "" { // a trailers-only response puts the status in the headers
		status, h = resp.Header.Get("Grpc-Status"), resp.Header
	}
	if status == "" {
		if readErr != nil {
			return &Error{Op: writeRawProcedure, Retryable: true, Err: readErr}
		}
		return &Error{Op: writeRawProcedure, Err: fmt.Errorf("the answer carries no grpc-status (content type %q); is the address a Parca gRPC endpoint?", resp.Header.Get("Content-Type"))}
	}
	code, err := strconv.Atoi(status)
	if err != nil {
		return &Error{Op: writeRawProcedure, Err: fmt.Errorf("malformed grpc-status %q", status)}
	}
	if code == codeOK {
		return nil
	}
	e := &Error{Op: writeRawProcedure, Status: code}
	classifyCode(e, code)
	msgText := h.Get("Grpc-Message")
	if m, err := url.PathUnescape(msgText); err == nil {
		msgText = m
	}
	e.Err = fmt.Errorf("%s: %s", codeName(code), msgText)
	e.RetryAfter = retryDelay(h.Get("Grpc-Status-Details-Bin"))
	if e.Auth {
		p.creds.scrub(e)
	}
	return e
}

// grpcTimeout formats d as a grpc-timeout header value (at most 8 digits).
func grpcTimeout(d time.Duration) string {
	ms := max(d.Milliseconds(), 1)
	if ms < 1e8 {
		return strconv.FormatInt(ms, 10) + "m"
	}
	return strconv.FormatInt(min(int64(d/time.Second), 1e8-1), 10) + "S"
}

// encodeWriteRaw encodes a WriteRawRequest holding the longest prefix of
// batch that fits maxBytes (at least one window) and returns it with
// the number of windows it holds. Each window's pprof travels as its
// producer wrote it: Parca takes a profile with a duration for a change
// over the window and one without for a snapshot, and the producers write
// the two apart (the heap's live memory is a window of its own) and stamp
// them so.
func encodeWriteRaw(batch []window.Window, maxBytes int) ([]byte, int, error) {
	all, total, err := fitSeries(batch, maxBytes, 2, func(w *window.Window) (series, error) {
		ls, err := seriesLabels(w)
		if err != nil {
			return series{}, err
		}
		s := series{labels: ls, data: w.Data}
		// RawProfileSeries: labels = 1 (a LabelSet whose labels = 1),
		// samples = 2 (RawSample whose raw_profile = 1).
		s.size = protowire.SizeBytesField(1, sizeLabels(1, ls)) +
			protowire.SizeBytesField(2, protowire.SizeBytesField(1, len(s.data)))
		return s, nil
	})
	if err != nil {
		return nil, 0, err
	}
	b := make([]byte, 0, total)
	for _, s := range all {
		// WriteRawRequest: series = 2.
		b = protowire.AppendBytesHeader(b, 2, s.size)
		b = protowire.AppendBytesHeader(b, 1, sizeLabels(1, s.labels))
		b = appendLabels(b, 1, s.labels)
		b = protowire.AppendBytesHeader(b, 2, protowire.SizeBytesField(1, len(s.data)))
		b = protowire.AppendBytes(b, 1, s.data)
	}
	return b, len(all), nil
}

// gRPC status codes; connect uses the same codes under snake_case names.
const (
	codeOK                = 0
	codeCanceled          = 1
	codeUnknown           = 2
	codeDeadlineExceeded  = 4
	codePermissionDenied  = 7
	codeResourceExhausted = 8
	codeAborted           = 10
	codeInternal          = 13
	codeUnavailable       = 14
	codeDataLoss          = 15
	codeUnauthenticated   = 16
)

// codeNames lists the codes' connect names, code 0 first.
const codeNames = "ok canceled unknown invalid_argument deadline_exceeded not_found already_exists " +
	"permission_denied resource_exhausted failed_precondition aborted out_of_range unimplemented " +
	"internal unavailable data_loss unauthenticated"

// codeName returns the snake_case name of a gRPC code, as connect spells it.
func codeName(code int) string {
	names := strings.Fields(codeNames)
	if code >= 0 && code < len(names) {
		return names[code]
	}
	return "code " + strconv.Itoa(code)
}

// connectCode returns the code a connect error names.
func connectCode(name string) (int, bool) {
	for i, n := range strings.Fields(codeNames) {
		if n == name {
			return i, true
		}
	}
	return 0, false
}

// classifyCode sets e's Retryable and Auth from a gRPC or connect code with
// the same meaning Classify gives HTTP statuses: transient server trouble
// (the codes servers map to 5xx, 408 and 429) is retried, rejected
// credentials are an Auth failure, and anything else is permanent.
func classifyCode(e *Error, code int) {
	e.Retryable, e.Auth = false, false
	switch code {
	case codeCanceled, codeUnknown, codeDeadlineExceeded, codeResourceExhausted,
		codeAborted, codeInternal, codeUnavailable, codeDataLoss:
		e.Retryable = true
	case codeUnauthenticated, codePermissionDenied:
		e.Auth = true
	}
}

// retryDelay reads the RetryInfo a gRPC server may attach to a status in
// grpc-status-details-bin (a google.rpc.Status in base64) and returns its
// retry_delay, capped like a Retry-After header; 0 when there is none.
func retryDelay(detailsBin string) time.Duration {
	if detailsBin == "" {
		return 0
	}
	raw, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(detailsBin, "="))
	if err != nil {
		return 0
	}
	var delay time.Duration
	// google.rpc.Status: details = 3, each a google.protobuf.Any with
	// type_url = 1 and value = 2.
	walkFields(raw, func(field, wire int, _ uint64, any []byte) {
		if field != 3 || wire != protowire.Bytes {
			return
		}
		var typeURL string
		var value []byte
		walkFields(any, func(field, wire int, _ uint64, b []byte) {
			switch {
			case field == 1 && wire == protowire.Bytes:
				typeURL = string(b)
			case field == 2 && wire == protowire.Bytes:
				value = b
			}
		})
		if !strings.HasSuffix(typeURL, "/google.rpc.RetryInfo") {
			return
		}
		// google.rpc.RetryInfo: retry_delay = 1, a google.protobuf.Duration
		// with seconds = 1 and nanos = 2.
		walkFields(value, func(field, wire int, _ uint64, d []byte) {
			if field != 1 || wire != protowire.Bytes {
				return
			}
			walkFields(d, func(field, wire int, v uint64, _ []byte) {
				switch {
				case field == 1 && wire == protowire.Varint:
					delay += time.Duration(int64(v)) * time.Second
				case field == 2 && wire == protowire.Varint:
					delay += time.Duration(int32(v))
				}
			})
		})
	})
	return min(max(delay, 0), maxRetryAfter)
}
