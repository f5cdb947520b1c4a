package upload

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pyroscope-sdk/pyroscope-go/internal/clock"
	"github.com/pyroscope-sdk/pyroscope-go/internal/logging"
	"github.com/pyroscope-sdk/pyroscope-go/internal/window"
)

// Queue defaults and limits.
const (
	defaultQueueBytes = 8 << 20
	defaultWorkers    = 2
	defaultTimeout    = 10 * time.Second

	// maxBatch bounds how many windows one Send carries, so that one slow
	// attempt holds few windows out of the budget's reach.
	maxBatch = 8

	// closeGrace is how long Close waits, after its deadline, for a Send
	// that does not honour its cancelled context.
	closeGrace = 2 * time.Second
)

// QueueOptions configure a Queue. The zero value picks the defaults.
type QueueOptions struct {
	// MaxBytes bounds the windows held (queued and in flight), counted by
	// Window.Size; when a push goes over, the oldest queued windows are
	// dropped. Default 8 MiB.
	MaxBytes int
	// Workers is the fixed number of goroutines calling Backend.Send.
	// Default 2.
	Workers int
	// Timeout bounds one Send (one batch, the HTTP client's own short
	// retries included). Default 10s.
	Timeout time.Duration
	// Logf receives the queue's messages. Nil discards them.
	Logf logging.Func
	// Credentials are those the backend sends. The queue names their
	// TokenSource when the server rejects them, and removes their secrets
	// from every message it logs or keeps. May be nil.
	Credentials *Credentials
	// Target names where the windows go (an address without credentials),
	// for the line that says deliveries started failing. May be empty.
	Target string

	clock clock.Clock // time source; the real clock when nil
}

// A Queue delivers windows to a Backend in the background, in order for
// each series (App, Name and Tags), on a fixed set of workers. It holds at
// most MaxBytes of windows and drops the oldest when a push goes over, so a
// slow or unreachable server costs bounded memory and never blocks Push.
//
// Failures are handled in two layers. The HTTP client (NewHTTPClient)
// retries a request a couple of times within a second or two, which hides
// a dropped connection or a server restart. The queue handles everything
// longer: a batch that failed with a retryable error goes back to the head
// of the queue and every worker waits, with exponential backoff and full
// jitter (or as long as the server's Retry-After asks), before the next
// attempt. A window the server rejects for good (a 4xx other than 408 and
// 429) is dropped and counted; a rejected token is logged once per cause
// and makes the queue back off as well.
type Queue struct {
	b       Backend
	opts    QueueOptions
	clock   clock.Clock
	redact  redactor
	ctx     context.Context // cancelled when Close gives up
	cancel  context.CancelFunc
	exited  chan struct{} // closed when the last worker returns
	closed  chan struct{} // closed when Close has finished
	closeMu sync.Mutex    // serialises Close calls

	mu          sync.Mutex
	queued      []entry          // waiting windows, in push order
	inflight    map[uint64]entry // windows being sent, by seq
	busy        map[string]int   // series key -> windows of it in flight
	bytes       int              // Size of queued and in-flight windows
	nextSeq     uint64
	closing     bool // Close was called: no more pushes, workers exit when empty
	gaveUp      bool // Close's deadline passed
	workers     int  // workers still running
	failures    int  // consecutive failed attempts, for the backoff
	notBefore   time.Time
	changed     chan struct{} // closed and replaced on every change
	stats       Stats
	drops       dropLog
	authLogged  map[string]bool
	undelivered int
	closeErr    error
	// failing is set by the warning that deliveries fail and cleared by
	// the line that says they recovered: each run of failures is said once.
	failing bool
}

// entry is a queued window with its place in the push order and its series.
type entry struct {
	seq  uint64
	key  string
	size int
	w    window.Window
}

// NewQueue starts a queue's workers. Call Close to stop them.
func NewQueue(b Backend, opts QueueOptions) *Queue {
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = defaultQueueBytes
	}
	if opts.Workers <= 0 {
		opts.Workers = defaultWorkers
	}
	if opts.Timeout <= 0 {
		opts.Timeout = defaultTimeout
	}
	q := &Queue{
		b:          b,
		opts:       opts,
		clock:      opts.clock,
		redact:     redactor{opts.Credentials},
		exited:     make(chan struct{}),
		closed:     make(chan struct{}),
		inflight:   map[uint64]entry{},
		busy:       map[string]int{},
		changed:    make(chan struct{}),
		authLogged: map[string]bool{},
		workers:    opts.Workers,
	}
	if q.clock == nil {
		q.clock = clock.Real{}
	}
	q.stats.DroppedByName = map[string]int64{}
	q.stats.DroppedBySampleType = map[string]map[string]int64{}
	q.ctx, q.cancel = context.WithCancel(context.Background())
	for range opts.Workers {
		go q.work()
	}
	return q
}

// Push queues windows for delivery and returns at once. Over the byte
// budget, the oldest queued windows are dropped and counted, and a summary
// is logged at most once a minute. The queue keeps ws[i].Data: the caller
// must not modify it afterwards. Push after Close counts the windows as
// dropped.
func (q *Queue) Push(ws ...window.Window) {
	q.mu.Lock()
	for _, w := range ws {
		q.stats.Pushed++
		if q.closing {
			q.dropLocked(&w, dropClosed)
			continue
		}
		q.queued = append(q.queued, entry{seq: q.nextSeq, key: seriesKey(&w), size: w.Size(), w: w})
		q.nextSeq++
		q.bytes += w.Size()
	}
	for q.bytes > q.opts.MaxBytes && len(q.queued) > 0 {
		old := q.queued[0]
		q.queued[0] = entry{}
		q.queued = q.queued[1:]
		q.bytes -= old.size
		q.dropLocked(&old.w, dropBudget)
	}
	summary := q.drops.take(q.clock.Now(), false)
	q.broadcastLocked()
	q.mu.Unlock()
	q.logDrops(summary)
}

// Flush returns nil once every window pushed before the call was delivered
// or dropped, or ctx's error when ctx is done first. After Close it returns
// at once.
func (q *Queue) Flush(ctx context.Context) error {
	q.mu.Lock()
	target := q.nextSeq
	for !q.gaveUp && q.oldestLocked() < target {
		ch := q.changed
		q.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
		q.mu.Lock()
	}
	q.mu.Unlock()
	return nil
}

// Close stops accepting windows, delivers what is queued until ctx is
// done, then cancels what is in flight and returns how many windows were
// not delivered (also counted in Stats.Dropped). It returns after every
// worker has returned, unless a Backend ignores its context for more than
// a couple of seconds. Calling Close again returns the first call's result.
func (q *Queue) Close(ctx context.Context) (undelivered int, err error) {
	q.closeMu.Lock()
	defer q.closeMu.Unlock()
	select {
	case <-q.closed:
		return q.undelivered, q.closeErr
	default:
	}
	q.mu.Lock()
	q.closing = true
	q.broadcastLocked()
	q.mu.Unlock()

	select {
	case <-q.exited:
	case <-ctx.Done():
	}
	q.cancel()
	stuck := false
	select {
	case <-q.exited:
	default:
		grace := time.NewTimer(closeGrace)
		select {
		case <-q.exited:
		case <-grace.C:
			stuck = true
		}
		grace.Stop()
	}

	q.mu.Lock()
	q.gaveUp = true
	for _, e := range q.queued {
		q.dropLocked(&e.w, dropClosed)
	}
	for _, e := range q.inflight { // only when a Send is stuck
		q.dropLocked(&e.w, dropClosed)
	}
	n := len(q.queued) + len(q.inflight)
	q.queued, q.bytes = nil, 0
	summary := q.drops.take(q.clock.Now(), true)
	q.broadcastLocked()
	q.mu.Unlock()
	q.logDrops(summary)

	if n > 0 && ctx.Err() != nil {
		// The count is Close's first result: the error says only why.
		err = fmt.Errorf("the deadline passed: %w", context.Cause(ctx))
	}
	if stuck {
		err = errors.Join(err, errors.New("a backend did not return after its context was cancelled"))
	}
	q.undelivered, q.closeErr = n, err
	close(q.closed)
	return n, err
}

// Stats returns a snapshot of the queue's counters.
func (q *Queue) Stats() Stats {
	q.mu.Lock()
	defer q.mu.Unlock()
	s := q.stats
	s.DroppedByName = maps.Clone(q.stats.DroppedByName)
	s.DroppedBySampleType = make(map[string]map[string]int64, len(q.stats.DroppedBySampleType))
	for name, byType := range q.stats.DroppedBySampleType {
		s.DroppedBySampleType[name] = maps.Clone(byType)
	}
	s.Queued = len(q.queued) + len(q.inflight)
	s.QueuedBytes = q.bytes
	return s
}

// work is one worker: it takes a batch, sends it, and records the outcome
// until Close says to stop.
// WorkerEntry returns the entry PC of the function a queue's goroutines
// run, for collectors that leave the profiler's own waiting out of the
// block profile (collect.ContentionOptions.Own).
func WorkerEntry() uintptr { return reflect.ValueOf((*Queue).work).Pointer() }

func (q *Queue) work() {
	defer func() {
		q.mu.Lock()
		q.workers--
		if q.workers == 0 {
			close(q.exited)
		}
		q.mu.Unlock()
	}()
	for {
		batch, wait, changed, ok := q.next()
		if !ok {
			return
		}
		if batch == nil {
			if !q.sleep(wait, changed) {
				return
			}
			continue
		}
		ws := make([]window.Window, len(batch))
		for i := range batch {
			ws[i] = batch[i].w
		}
		ctx, cancel := context.WithTimeout(q.ctx, q.opts.Timeout)
		n, err := q.b.Send(ctx, ws)
		cancel()
		q.mu.Lock()
		lines := q.finishLocked(batch, n, err)
		q.broadcastLocked()
		q.mu.Unlock()
		for _, l := range lines {
			q.logf(l.level, "%s", append([]any{l.msg}, l.attrs...)...)
		}
	}
}

// A logLine is a message decided under the lock and logged after it, so
// that a Logf calling back into the queue cannot deadlock.
type logLine struct {
	level logging.Level
	msg   string
	attrs []any // slog.Attr values: attempts, status
}

// next returns the batch to send now; or, when there is none, how long to
// wait (0: until changed is closed); or ok=false when the worker should
// return.
func (q *Queue) next() (batch []entry, wait time.Duration, changed <-chan struct{}, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.ctx.Err() != nil {
		return nil, 0, nil, false
	}
	if q.closing && len(q.queued) == 0 && len(q.inflight) == 0 {
		return nil, 0, nil, false
	}
	if d := q.notBefore.Sub(q.clock.Now()); d > 0 {
		return nil, d, q.changed, true
	}
	taken := map[string]bool{}
	keep := q.queued[:0]
	for _, e := range q.queued {
		if len(batch) < maxBatch && (taken[e.key] || q.busy[e.key] == 0) {
			taken[e.key] = true
			batch = append(batch, e)
			continue
		}
		keep = append(keep, e)
	}
	clear(q.queued[len(keep):])
	q.queued = keep
	for _, e := range batch {
		q.inflight[e.seq] = e
		q.busy[e.key]++
	}
	return batch, 0, q.changed, true
}

// sleep waits for d to pass or for ch to close, and reports false when the
// worker should return instead.
func (q *Queue) sleep(d time.Duration, ch <-chan struct{}) bool {
	var fired <-chan time.Time
	if d > 0 {
		c, stop := q.clock.NewTimer(d)
		defer stop()
		fired = c
	}
	select {
	case <-ch:
	case <-fired:
	case <-q.ctx.Done():
		return false
	}
	return true
}

// finishLocked records the outcome of sending batch: the first n windows
// were delivered, and err says why the rest were not. It returns what to log.
func (q *Queue) finishLocked(batch []entry, n int, err error) []logLine {
	n = min(max(n, 0), len(batch))
	if err == nil && n < len(batch) {
		err = fmt.Errorf("backend delivered %d of %d windows and reported no error", n, len(batch))
	}
	now := q.clock.Now()
	for _, e := range batch {
		delete(q.inflight, e.seq)
		if q.busy[e.key]--; q.busy[e.key] <= 0 {
			delete(q.busy, e.key)
		}
	}
	if q.gaveUp {
		// Close has returned and counted these windows as undelivered.
		return nil
	}
	for _, e := range batch[:n] {
		q.stats.Uploaded++
		q.stats.BytesSent += int64(len(e.w.Data))
		q.bytes -= e.size
	}
	var lines []logLine
	if n > 0 {
		q.stats.LastSuccess = now
		if q.failing {
			q.failing = false
			lines = append(lines, logLine{logging.Info, fmt.Sprintf("delivery%s recovered after %s",
				q.targetSuffix(), plural(q.failures, "failed attempt")), nil})
		}
		q.failures = 0
		clear(q.authLogged)
	}
	if err == nil {
		return lines
	}
	rest := batch[n:]
	// raw is what the server said, for the lines that quote the last error;
	// msg explains a rejected token as well, once, where it is said.
	raw := q.redact.redact(err.Error())
	var e *Error
	if errors.As(err, &e) && e.Auth {
		q.opts.Credentials.explainRejection(e)
	}
	msg := q.redact.redact(err.Error())
	if q.ctx.Err() == nil || !errors.Is(err, context.Canceled) {
		// Close's own cancelling is no news about the server.
		q.stats.LastError, q.stats.LastErrorAt = msg, now
	}
	if q.ctx.Err() != nil || Retryable(err) {
		q.requeueLocked(rest)
		q.stats.Retried += int64(len(rest))
		q.failures++
		var after time.Duration
		if e != nil {
			after = e.RetryAfter
		}
		wait := backoff(q.failures, queueBackoffBase, queueBackoffCap, after)
		q.notBefore = now.Add(wait)
		if !q.failing && q.ctx.Err() == nil {
			// The first failure of a run is said at warn, once; the
			// retries that follow are debug until delivery recovers.
			q.failing = true
			return append(lines, logLine{logging.Warn, fmt.Sprintf("delivery%s failed, will retry: %s", q.targetSuffix(), msg),
				failureAttrs(q.failures, e)})
		}
		return append(lines, logLine{logging.Debug, fmt.Sprintf("upload failed, retrying %s in %s: %s", plural(len(rest), "window"), wait.Round(time.Millisecond), msg),
			failureAttrs(q.failures, e)})
	}
	// Rejected for good: drop the window the server refused, keep the rest.
	q.bytes -= rest[0].size
	q.dropLocked(&rest[0].w, dropRejected)
	q.requeueLocked(rest[1:])
	if e != nil && e.Auth {
		q.failures++
		q.notBefore = now.Add(max(backoff(q.failures, queueBackoffBase, queueBackoffCap, e.RetryAfter), authMinWait))
		if line := q.authLineLocked(e, msg); line != "" {
			lines = append(lines, logLine{logging.Error, line, failureAttrs(q.failures, e)})
		}
	}
	if s := q.drops.take(now, false); s != "" {
		lines = append(lines, logLine{logging.Warn, s + "; last error: " + raw, failureAttrs(q.failures, e)})
	}
	return lines
}

// requeueLocked puts windows back in their place in the push order.
func (q *Queue) requeueLocked(es []entry) {
	if len(es) == 0 {
		return
	}
	q.queued = append(q.queued, es...)
	slices.SortFunc(q.queued, func(a, b entry) int {
		switch {
		case a.seq < b.seq:
			return -1
		case a.seq > b.seq:
			return 1
		}
		return 0
	})
}

// authLineLocked says, once per distinct cause (operation and status)
// until the next success, that the server rejected the credentials (msg,
// which explainRejection wrote); it returns "" when that cause was said
// already.
func (q *Queue) authLineLocked(e *Error, msg string) string {
	cause := fmt.Sprintf("%s|%d", e.Op, e.Status)
	if q.authLogged[cause] {
		return ""
	}
	q.authLogged[cause] = true
	return msg + "; uploads back off until it is fixed"
}

// dropLocked counts one dropped window.
func (q *Queue) dropLocked(w *window.Window, reason string) {
	q.stats.Dropped++
	q.stats.DroppedByName[w.Name]++
	byType := q.stats.DroppedBySampleType[w.Name]
	if byType == nil {
		byType = map[string]int64{}
		q.stats.DroppedBySampleType[w.Name] = byType
	}
	for _, st := range w.SampleTypes {
		byType[st.Name]++
	}
	q.drops.add(reason, w.Name)
}

// oldestLocked returns the push sequence number of the oldest window not
// yet delivered or dropped, or nextSeq when there is none.
func (q *Queue) oldestLocked() uint64 {
	oldest := q.nextSeq
	if len(q.queued) > 0 {
		oldest = q.queued[0].seq
	}
	for seq := range q.inflight {
		oldest = min(oldest, seq)
	}
	return oldest
}

func (q *Queue) broadcastLocked() {
	close(q.changed)
	q.changed = make(chan struct{})
}

func (q *Queue) logDrops(summary string) {
	if summary == "" {
		return
	}
	q.mu.Lock()
	last := q.stats.LastError
	q.mu.Unlock()
	if last != "" {
		summary += "; last error: " + last
	}
	q.logf(logging.Warn, "%s", summary)
}

// logf formats a message, removes any secret from it and hands it to Logf.
// Attributes (slog.Attr) at the end of args are passed on as they are.
func (q *Queue) logf(level logging.Level, format string, args ...any) {
	if q.opts.Logf == nil {
		return
	}
	args, attrs := logging.Split(args)
	out := []any{q.redact.redact(fmt.Sprintf(format, args...))}
	for _, a := range attrs {
		out = append(out, a)
	}
	q.opts.Logf(level, "%s", out...)
}

// targetSuffix is " to <Target>", or "" when the queue has no Target.
func (q *Queue) targetSuffix() string {
	if q.opts.Target == "" {
		return ""
	}
	return " to " + q.opts.Target
}

// plural says n things: "1 window", "2 windows".
func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}

// failureAttrs are the attributes of a line about a failed attempt: how
// many attempts in a row failed, and the status the server answered.
func failureAttrs(attempts int, e *Error) []any {
	attrs := []any{slog.Int("attempts", max(attempts, 1))}
	if e != nil && e.Status != 0 {
		attrs = append(attrs, slog.Int("status", e.Status))
	}
	return attrs
}

// seriesKey names the series a window belongs to; windows of one series
// are delivered in push order.
func seriesKey(w *window.Window) string {
	var b strings.Builder
	b.WriteString(w.App)
	b.WriteByte(0)
	b.WriteString(w.Name)
	for _, k := range slices.Sorted(maps.Keys(w.Tags)) {
		b.WriteByte(0)
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(w.Tags[k])
	}
	return b.String()
}
