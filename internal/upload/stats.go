package upload

import (
	"encoding/base64"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Stats are a queue's counters since it was made, so a user can see that
// profiles reach the server. Windows pushed = Uploaded + Dropped + Queued.
type Stats struct {
	// Pushed counts windows handed to the queue.
	Pushed int64
	// Uploaded counts windows the backend delivered, and BytesSent the
	// bytes of their profiles.
	Uploaded  int64
	BytesSent int64
	// Retried counts windows put back for another attempt after a
	// retryable failure.
	Retried int64
	// Dropped counts windows given up on: pushed out by newer ones when the
	// queue was over its byte budget, rejected by the server (a 4xx other
	// than 408 and 429), or still undelivered when Close gave up.
	// DroppedByName splits it by Window.Name, and DroppedBySampleType by
	// Window.Name and then by each sample type the windows held, for the
	// families whose types travel in several windows (the heap, for
	// Parca, as allocations and live memory).
	Dropped             int64
	DroppedByName       map[string]int64
	DroppedBySampleType map[string]map[string]int64
	// Queued and QueuedBytes are what waits now, in flight included.
	Queued      int
	QueuedBytes int
	// LastError is the message of the last failed attempt, with any secret
	// of the queue's Credentials removed, and LastErrorAt its time.
	LastError   string
	LastErrorAt time.Time
	// LastSuccess is when a window was last delivered.
	LastSuccess time.Time
}

// Reasons a window is dropped, as the drop summary names them.
const (
	dropBudget   = "over the byte budget"
	dropRejected = "rejected by the server"
	dropClosed   = "undelivered at Close"
)

// dropSummaryEvery is the least time between two logged drop summaries.
const dropSummaryEvery = time.Minute

// dropLog collects drops between two summaries so that a long outage logs
// one line a minute, not one per window.
type dropLog struct {
	last    time.Time                 // when a summary was last logged
	pending map[string]map[string]int // reason -> window.Window.Name -> count
}

func (d *dropLog) add(reason, name string) {
	if d.pending == nil {
		d.pending = map[string]map[string]int{}
	}
	if d.pending[reason] == nil {
		d.pending[reason] = map[string]int{}
	}
	d.pending[reason][name]++
}

// take returns the summary of the drops since the last one and resets it,
// or "" when there is none or the last was logged less than a minute ago
// (unless force is set).
func (d *dropLog) take(now time.Time, force bool) string {
	if len(d.pending) == 0 || (!force && !d.last.IsZero() && now.Sub(d.last) < dropSummaryEvery) {
		return ""
	}
	var parts []string
	total := 0
	for _, reason := range slices.Sorted(maps.Keys(d.pending)) {
		byName := d.pending[reason]
		n := 0
		var names []string
		for _, name := range slices.Sorted(maps.Keys(byName)) {
			n += byName[name]
			names = append(names, fmt.Sprintf("%s %d", name, byName[name]))
		}
		total += n
		parts = append(parts, fmt.Sprintf("%d %s (%s)", n, reason, strings.Join(names, ", ")))
	}
	d.pending, d.last = nil, now
	return fmt.Sprintf("dropped %s: %s", plural(total, "profile window"), strings.Join(parts, "; "))
}

// redactor removes the secrets of a Credentials from text that may have
// come from a server (an error body that echoes the Authorization header),
// so that no log line or Stats field carries them.
type redactor struct{ c *Credentials }

func (r redactor) redact(s string) string {
	if r.c == nil {
		return s
	}
	var secrets []string
	if tok := r.c.token(); tok.IsSet() {
		secrets = append(secrets, tok.Reveal())
	}
	if r.c.Token.IsSet() {
		secrets = append(secrets, r.c.Token.Reveal())
	}
	if p := r.c.BasicPassword; p.IsSet() {
		basic := base64.StdEncoding.EncodeToString([]byte(r.c.BasicUser + ":" + p.Reveal()))
		secrets = append(secrets, basic, p.Reveal())
	}
	for _, v := range secrets {
		s = strings.ReplaceAll(s, v, "[redacted]")
	}
	return s
}
