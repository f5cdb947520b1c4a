package upload

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pyroscope-sdk/pyroscope-go/internal/protowire"
	"github.com/pyroscope-sdk/pyroscope-go/internal/window"
)

// pushProcedure is Pyroscope's push RPC, served over the connect protocol.
const pushProcedure = "push.v1.PusherService/Push"

// maxRequestBytes bounds the profile bytes one request carries. A batch
// larger than this is sent in several requests, so that no request exceeds
// the 4 MiB that gRPC servers accept by default.
const maxRequestBytes = 3 << 20

// Push sends windows to Pyroscope's push API, push.v1.PusherService/Push, as
// connect unary calls with binary protobuf bodies. Several windows travel in
// one request, each as its own series labelled the way Grafana Alloy labels
// them. It works over HTTP/1.1 and HTTP/2, whichever the client speaks.
type Push struct {
	endpoint string
	creds    *Credentials
	client   Doer
	maxBytes int // maxRequestBytes; smaller in tests
}

// NewPush returns a backend that pushes to the Pyroscope server at address,
// an http:// or https:// URL whose path prefix, if any, is kept (as behind a
// reverse proxy). A nil client means http.DefaultClient.
func NewPush(address string, creds *Credentials, client Doer) (*Push, error) {
	u, err := url.Parse(address)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("push: server address %q is not an http:// or https:// URL; set it like http://localhost:4040", redactURL(address))
	}
	if client == nil {
		client = http.DefaultClient
	}
	u.RawQuery, u.Fragment = "", ""
	u.Path = strings.TrimSuffix(u.Path, "/") + "/" + pushProcedure
	u.RawPath = ""
	return &Push{endpoint: u.String(), creds: creds, client: client, maxBytes: maxRequestBytes}, nil
}

// Send pushes batch in as few requests as maxRequestBytes allows, in order,
// stopping at the first failure.
func (p *Push) Send(ctx context.Context, batch []window.Window) (int, error) {
	return sendInChunks(ctx, pushProcedure, batch, p.maxBytes, encodePushRequest, p.post)
}

func (p *Push) post(ctx context.Context, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.endpoint, bytes.NewReader(body))
	if err != nil {
		return &Error{Op: pushProcedure, Err: err}
	}
	p.creds.Apply(req.Header)
	req.Header.Set("Content-Type", "application/proto")
	req.Header.Set("Connect-Protocol-Version", "1")
	if d, ok := ctx.Deadline(); ok {
		ms := max(time.Until(d).Milliseconds(), 1)
		req.Header.Set("Connect-Timeout-Ms", strconv.FormatInt(ms, 10))
	}
	resp, err := p.client.Do(req)
	if err != nil || resp.StatusCode/100 == 2 {
		return Classify(pushProcedure, resp, err)
	}
	return connectError(resp, p.creds)
}

// connectError classifies a failed connect unary call: by its HTTP status as
// for any HTTP backend, refined by the connect error code in the JSON body
// where the server sent one, since several codes share a status.
func connectError(resp *http.Response, creds *Credentials) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	err := Classify(pushProcedure, resp, nil)
	e, ok := err.(*Error)
	if !ok {
		return err
	}
	var wire struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mt == "application/json" && json.Unmarshal(body, &wire) == nil && wire.Code != "" {
		if code, known := connectCode(wire.Code); known {
			classifyCode(e, code)
		}
		e.Err = fmt.Errorf("%s: %s", wire.Code, wire.Message)
	}
	if e.Auth {
		creds.scrub(e)
	}
	return e
}

// encodePushRequest encodes a push.v1.PushRequest holding the longest prefix
// of batch that fits maxBytes (at least one window) and returns it
// with the number of windows it holds. Each window is a RawProfileSeries
// with one RawSample holding the window's pprof as its producer wrote and
// stamped it; __delta__="false" tells the server the profile is already a
// delta so it must not subtract a previous one.
func encodePushRequest(batch []window.Window, maxBytes int) ([]byte, int, error) {
	all, total, err := fitSeries(batch, maxBytes, 1, func(w *window.Window) (series, error) {
		ls, err := seriesLabels(w, label{labelDelta, "false"})
		if err != nil {
			return series{}, err
		}
		s := series{labels: ls, data: w.Data, id: newUUID()}
		// RawSample: raw_profile = 1, ID = 2.
		sampleSize := protowire.SizeBytesField(1, len(s.data)) + protowire.SizeBytesField(2, len(s.id))
		// RawProfileSeries: labels = 1 (repeated LabelPair), samples = 2.
		s.size = sizeLabels(1, ls) + protowire.SizeBytesField(2, sampleSize)
		return s, nil
	})
	if err != nil {
		return nil, 0, err
	}
	b := make([]byte, 0, total)
	for _, s := range all {
		// PushRequest: series = 1.
		b = protowire.AppendBytesHeader(b, 1, s.size)
		b = appendLabels(b, 1, s.labels)
		sampleSize := protowire.SizeBytesField(1, len(s.data)) + protowire.SizeBytesField(2, len(s.id))
		b = protowire.AppendBytesHeader(b, 2, sampleSize)
		b = protowire.AppendBytes(b, 1, s.data)
		b = protowire.AppendString(b, 2, s.id)
	}
	return b, len(all), nil
}

// redactURL is an address as messages show it: scheme, host and path, so
// neither a password in the URL nor a token in its query reaches a log
// line. An address that does not parse keeps only what follows its last
// '@'.
func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil && u.Host != "" {
		return u.Scheme + "://" + u.Host + u.Path
	}
	if i := strings.LastIndex(s, "@"); i >= 0 {
		return "…" + s[i:]
	}
	return s
}

// Close closes the idle connections of the client the SDK made; a client
// passed in Config.HTTPClient is left as it is.
func (p *Push) Close() error {
	closeIdle(p.client)
	return nil
}
