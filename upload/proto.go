package upload

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// This file holds the protobuf wire encoding shared by the push and parca
// backends. Their messages are a handful of strings, bytes and nested
// messages, so they are written by hand rather than through a protobuf
// runtime that every user of the SDK would have to compile.

// Protobuf wire types used here.
const (
	wireVarint = 0
	wireBytes  = 2
)

// appendVarint appends v as a protobuf base-128 varint.
func appendVarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// sizeVarint is the number of bytes appendVarint writes for v.
func sizeVarint(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// appendTag appends the key of field with the given wire type.
func appendTag(b []byte, field, wire int) []byte {
	return appendVarint(b, uint64(field)<<3|uint64(wire))
}

// sizeBytesField is the size of a length-delimited field holding n bytes.
func sizeBytesField(field, n int) int {
	return sizeVarint(uint64(field)<<3) + sizeVarint(uint64(n)) + n
}

// appendBytesHeader appends the key and length of a length-delimited field;
// the caller appends the n payload bytes.
func appendBytesHeader(b []byte, field, n int) []byte {
	b = appendTag(b, field, wireBytes)
	return appendVarint(b, uint64(n))
}

// appendBytesField appends a whole length-delimited field.
func appendBytesField(b []byte, field int, p []byte) []byte {
	return append(appendBytesHeader(b, field, len(p)), p...)
}

func appendStringField(b []byte, field int, s string) []byte {
	return append(appendBytesHeader(b, field, len(s)), s...)
}

// A label is one series label. Pyroscope's types.v1.LabelPair and Parca's
// Label share its encoding: name is field 1, value field 2.
type label struct{ name, value string }

func (l label) size() int { return sizeBytesField(1, len(l.name)) + sizeBytesField(2, len(l.value)) }

func (l label) appendTo(b []byte) []byte {
	b = appendStringField(b, 1, l.name)
	return appendStringField(b, 2, l.value)
}

// sizeLabels is the size of labels written as repeated field number field.
func sizeLabels(field int, labels []label) int {
	n := 0
	for _, l := range labels {
		n += sizeBytesField(field, l.size())
	}
	return n
}

func appendLabels(b []byte, field int, labels []label) []byte {
	for _, l := range labels {
		b = appendBytesHeader(b, field, l.size())
		b = l.appendTo(b)
	}
	return b
}

// Label names with a meaning of their own in Pyroscope and Parca.
const (
	labelMetricName  = "__name__"
	labelServiceName = "service_name"
	labelDelta       = "__delta__"
)

// profileName returns the __name__ for the family kind: the name both
// Pyroscope (as Grafana Alloy sends it) and Parca (as its own scraper writes
// it) use, so that the servers' built-in profile types such as
// process_cpu:cpu:nanoseconds:cpu:nanoseconds match. A family the SDK does
// not know passes through when it is a valid PromQL metric name, which
// Parca requires of __name__ joined with the sample types.
func profileName(kind string) (string, error) {
	switch kind {
	case KindCPU:
		return "process_cpu", nil
	case KindHeap:
		return "memory", nil
	case KindGoroutines:
		return "goroutine", nil
	case KindMutex, KindBlock:
		return kind, nil
	}
	valid := kind != ""
	for i, c := range kind {
		letter := c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
		valid = valid && (letter || i > 0 && '0' <= c && c <= '9')
	}
	if !valid {
		return "", fmt.Errorf("profile family %q is not a valid metric name (want [a-zA-Z_][a-zA-Z0-9_]*)", kind)
	}
	return kind, nil
}

// seriesLabels returns w's labels sorted by name: __name__, service_name
// holding w.App, extra, and w's tags. Tags cannot override the reserved
// labels, so a tag named service_name or starting with "__" is skipped.
func seriesLabels(w *Window, extra ...label) ([]label, error) {
	name, err := profileName(w.Name)
	if err != nil {
		return nil, err
	}
	ls := make([]label, 0, 2+len(extra)+len(w.Tags))
	ls = append(ls, label{labelMetricName, name}, label{labelServiceName, w.App})
	ls = append(ls, extra...)
	for k, v := range w.Tags {
		if k == labelServiceName || strings.HasPrefix(k, "__") {
			continue
		}
		ls = append(ls, label{k, v})
	}
	slices.SortFunc(ls, func(a, b label) int { return strings.Compare(a.name, b.name) })
	return ls, nil
}

// Top-level fields of profile.proto that stampProfile reads and writes.
const (
	pprofTimeNanos     = 9
	pprofDurationNanos = 10
)

// stampProfile makes sure the pprof in data (gzipped or not) carries a
// non-zero time_nanos and duration_nanos, taking them from the window's
// bounds when it does not: Parca stores a profile at time_nanos (1970 when
// left at 0) and takes a non-zero duration_nanos to mean a delta. A pprof
// that already carries both is returned as is, without a copy. Since
// protobuf keeps the last value of a repeated scalar field, the missing
// values are appended rather than the profile being re-encoded. Data that
// does not parse is returned unchanged for the server to judge.
func stampProfile(data []byte, from, until time.Time) []byte {
	raw, gzipped := data, false
	if len(data) >= 2 && data[0] == 0x1f && data[1] == 0x8b {
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return data
		}
		raw, err = io.ReadAll(zr)
		if err != nil {
			return data
		}
		gzipped = true
	}
	timeNanos, durationNanos, ok := scanProfileTimes(raw)
	if !ok {
		return data
	}
	if timeNanos != 0 && (durationNanos != 0 || !until.After(from)) {
		return data
	}
	fixed := raw
	if timeNanos == 0 && !from.IsZero() {
		fixed = appendTag(fixed, pprofTimeNanos, wireVarint)
		fixed = appendVarint(fixed, uint64(from.UnixNano()))
	}
	if durationNanos == 0 && until.After(from) {
		fixed = appendTag(fixed, pprofDurationNanos, wireVarint)
		fixed = appendVarint(fixed, uint64(until.Sub(from)))
	}
	if !gzipped {
		return fixed
	}
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	zw.Write(fixed)
	zw.Close()
	return out.Bytes()
}

// scanProfileTimes reads the top-level time_nanos and duration_nanos of an
// uncompressed profile.proto. ok is false when the bytes are not a
// well-formed protobuf message.
func scanProfileTimes(p []byte) (timeNanos, durationNanos int64, ok bool) {
	ok = walkFields(p, func(field, wire int, v uint64, _ []byte) {
		switch {
		case wire == wireVarint && field == pprofTimeNanos:
			timeNanos = int64(v)
		case wire == wireVarint && field == pprofDurationNanos:
			durationNanos = int64(v)
		}
	})
	return timeNanos, durationNanos, ok
}

// walkFields calls fn for each field of the protobuf message p, in order,
// with the value of a varint field in v and the payload of a
// length-delimited one in b; fixed-size fields are skipped. It reports
// whether p was well formed.
func walkFields(p []byte, fn func(field, wire int, v uint64, b []byte)) bool {
	for len(p) > 0 {
		key, n := readVarint(p)
		if n == 0 {
			return false
		}
		p = p[n:]
		field, wire := int(key>>3), int(key&7)
		switch wire {
		case wireVarint:
			v, n := readVarint(p)
			if n == 0 {
				return false
			}
			p = p[n:]
			fn(field, wire, v, nil)
		case 1: // 64-bit
			if len(p) < 8 {
				return false
			}
			p = p[8:]
		case wireBytes:
			l, n := readVarint(p)
			if n == 0 || uint64(len(p)-n) < l {
				return false
			}
			fn(field, wire, 0, p[n:n+int(l)])
			p = p[n+int(l):]
		case 5: // 32-bit
			if len(p) < 4 {
				return false
			}
			p = p[4:]
		default:
			return false
		}
	}
	return true
}

// readVarint decodes a varint at the start of p and returns it with the
// number of bytes read, 0 when p holds no complete varint.
func readVarint(p []byte) (uint64, int) {
	var v uint64
	for i := 0; i < len(p) && i < 10; i++ {
		v |= uint64(p[i]&0x7f) << (7 * i)
		if p[i] < 0x80 {
			return v, i + 1
		}
	}
	return 0, 0
}

// newUUID returns a random RFC 9562 version 4 UUID in its text form.
func newUUID() string {
	var u [16]byte
	rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:])
}
