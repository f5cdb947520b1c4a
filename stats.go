package pyroscope

import "time"

// Stats are a Profiler's counters since Start, so that a program can check
// that its profiles reach the server. The maps are keyed by the
// ProfileTypes asked for. Types of one family travel in one window (the
// four heap types, mutex_count and mutex_duration, block_count and
// block_duration), so one window of a family counts once for each of its
// types that was asked for. Sent to Parca, which takes a profile as either
// a change or a snapshot, the heap travels as two windows, allocations
// (alloc_*) and live memory (inuse_*), each counting for its own types: the
// maps still count each type once per cut, while Uploaded and Dropped,
// which count windows, count both.
type Stats struct {
	// Collected counts the windows collected, per profile type.
	Collected map[ProfileType]int64
	// Uploaded counts the windows delivered, and BytesSent the bytes of
	// their profiles.
	Uploaded  int64
	BytesSent int64
	// Retried counts windows put back for another attempt after a
	// retryable failure.
	Retried int64
	// Dropped counts the windows given up on: pushed out by newer ones
	// over the QueueBytes budget, rejected by the server (a 4xx other than
	// 408 and 429), or still undelivered when Stop gave up. DroppedByType
	// splits it per profile type, counting as Collected does.
	Dropped       int64
	DroppedByType map[ProfileType]int64
	// Queued and QueuedBytes are what waits for delivery now, in flight
	// included.
	Queued      int
	QueuedBytes int
	// LastError is the message of the last failed attempt, without any
	// secret, and LastErrorAt its time; LastSuccess is when a window was
	// last delivered.
	LastError   string
	LastErrorAt time.Time
	LastSuccess time.Time
}

// Stats returns a snapshot of the counters. It is safe to call at any time,
// also after Stop.
func (p *Profiler) Stats() Stats {
	d := p.dst.Stats()
	st := Stats{
		Collected: map[ProfileType]int64{}, DroppedByType: map[ProfileType]int64{},
		Uploaded: d.Uploaded, BytesSent: d.BytesSent, Retried: d.Retried, Dropped: d.Dropped,
		Queued: d.Queued, QueuedBytes: d.QueuedBytes,
		LastError: d.LastError, LastErrorAt: d.LastErrorAt, LastSuccess: d.LastSuccess,
	}
	for _, k := range p.sinks {
		// The sinks of one family hold different sample types: the
		// windows dropped with k's first are k's.
		if len(k.samples) == 0 {
			continue
		}
		if n := d.DroppedBySampleType[k.name][k.samples[0].Name]; n > 0 {
			for _, t := range k.types {
				st.DroppedByType[t] += n
			}
		}
	}
	p.mu.Lock()
	for t, n := range p.counts {
		st.Collected[t] = n
	}
	p.mu.Unlock()
	return st
}
