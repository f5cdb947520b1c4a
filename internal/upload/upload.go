// Package upload delivers profiles to a backend: a byte-bounded queue, a retry
// policy, and one file per wire protocol (ingest, push, parca, dir).
//
// It knows bytes, labels and time ranges, never how a profile was collected.
package upload

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// A Window is one profile covering [From, Until), ready to be sent.
type Window struct {
	// App is the application name without tags, e.g. "checkout.api".
	App string
	// Tags are the series labels, already validated (keys are [A-Za-z0-9_]).
	Tags map[string]string
	// Name is the profile family the pprof holds: one of the Kind* constants.
	Name string
	// From and Until bound the window.
	From, Until time.Time
	// Data is a gzipped pprof (profile.proto). Sample types are named as
	// runtime/pprof names them (samples/cpu, alloc_objects/alloc_space,
	// inuse_objects/inuse_space, goroutine, contentions/delay).
	Data []byte
	// SampleRate is the CPU sampling frequency in Hz, for Kind CPU; 0 otherwise.
	SampleRate int
}

// Profile families carried in Window.Name. Each backend maps them to its own names.
const (
	KindCPU        = "cpu"
	KindHeap       = "heap"
	KindGoroutines = "goroutines"
	KindMutex      = "mutex"
	KindBlock      = "block"
)

// Size is the number of bytes the window holds against a queue's budget.
func (w *Window) Size() int { return len(w.Data) + 256 }

// A Backend turns windows into requests for one protocol.
//
// Send makes one attempt at delivering batch, in order, and reports how many
// windows (a prefix of batch) were delivered. A non-nil error should be, or
// wrap, an *Error so that the queue can tell a retryable failure from a
// permanent one; an error of any other type is treated as retryable.
type Backend interface {
	Send(ctx context.Context, batch []Window) (delivered int, err error)
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
func sendInChunks(ctx context.Context, op string, batch []Window, maxBytes int,
	encode func([]Window, int) ([]byte, int, error), send func(context.Context, []byte) error) (int, error) {
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
