// Package upload delivers profiles to a backend: a byte-bounded queue, a retry
// policy, and one file per wire protocol (ingest, push, parca, dir).
//
// It knows bytes, labels, time ranges and, from each window.Window, which
// sample types are snapshots; never how a profile was collected. Backends
// send each window's pprof as its producer wrote and stamped it, without
// parsing it; the one rewrite is Destination.Push's, of sample label keys a
// server cannot store (labelkeys.go).
package upload

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pyroscope-sdk/pyroscope-go/internal/window"
)

// A Backend turns windows into requests for one protocol.
//
// Send makes one attempt at delivering batch, in order, and reports how many
// windows (a prefix of batch) were delivered. A non-nil error should be, or
// wrap, an *Error so that the queue can tell a retryable failure from a
// permanent one; an error of any other type is treated as retryable.
type Backend interface {
	Send(ctx context.Context, batch []window.Window) (delivered int, err error)
}

// An Error is a failed delivery, classified the same way for every backend.
type Error struct {
	// Op says what failed, e.g. "POST /ingest" or "WriteRaw".
	Op string
	// Status is the HTTP status (or gRPC code) the server answered, 0 when none.
	Status int
	// Retryable is true for connection errors, timeouts, 408, 429 and 5xx.
	Retryable bool
	// Auth is true when the server rejected the credentials (401/403,
	// gRPC Unauthenticated/PermissionDenied).
	Auth bool
	// RetryAfter is the wait the server asked for, 0 when it asked none.
	RetryAfter time.Duration
	// Err is the underlying cause; it never holds a secret.
	Err error
}

func (e *Error) Error() string {
	s := e.Op
	if e.Status != 0 {
		s += fmt.Sprintf(": status %d", e.Status)
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Retryable reports whether err is worth another attempt later.
func Retryable(err error) bool {
	var e *Error
	if errors.As(err, &e) {
		return e.Retryable
	}
	return err != nil
}

// sendInChunks delivers batch, in order, in as few requests as maxBytes of
// profile data per request allows, and stops at the first failure. encode
// packs a prefix of the windows it is given into one request body and says
// how many it took; send makes the request.
func sendInChunks(ctx context.Context, op string, batch []window.Window, maxBytes int,
	encode func([]window.Window, int) ([]byte, int, error), send func(context.Context, []byte) error) (int, error) {
	delivered := 0
	for delivered < len(batch) {
		body, n, err := encode(batch[delivered:], maxBytes)
		if err != nil {
			return delivered, &Error{Op: op, Err: err}
		}
		if err := send(ctx, body); err != nil {
			return delivered, err
		}
		delivered += n
	}
	return delivered, nil
}
