package upload

import (
	"crypto/rand"
	"fmt"
	"slices"
	"strings"

	"github.com/pyroscope-sdk/pyroscope-go/internal/protowire"
	"github.com/pyroscope-sdk/pyroscope-go/internal/window"
)

// This file holds the protobuf messages shared by the push and parca
// backends. Their messages are a handful of strings, bytes and nested
// messages, so they are written by hand, on the wire primitives of
// internal/protowire, rather than through a protobuf runtime that every
// user of the SDK would have to compile.

// A label is one series label. Pyroscope's types.v1.LabelPair and Parca's
// Label share its encoding: name is field 1, value field 2.
type label struct{ name, value string }

func (l label) size() int {
	return protowire.SizeBytesField(1, len(l.name)) + protowire.SizeBytesField(2, len(l.value))
}

func (l label) appendTo(b []byte) []byte {
	b = protowire.AppendString(b, 1, l.name)
	return protowire.AppendString(b, 2, l.value)
}

// sizeLabels is the size of labels written as repeated field number field.
func sizeLabels(field int, labels []label) int {
	n := 0
	for _, l := range labels {
		n += protowire.SizeBytesField(field, l.size())
	}
	return n
}

func appendLabels(b []byte, field int, labels []label) []byte {
	for _, l := range labels {
		b = protowire.AppendBytesHeader(b, field, l.size())
		b = l.appendTo(b)
	}
	return b
}

// A series is one window ready for a push or Parca request: its labels, its
// profile, the push sample ID (empty for Parca), and the size of the series
// message that holds them.
type series struct {
	labels []label
	data   []byte
	id     string
	size   int
}

// fitSeries prepares the series of the longest prefix of batch that fits
// maxBytes, at least one window, and returns them with the size of the
// request that holds them as repeated field number field. A window that
// prepare rejects ends the prefix, so that what precedes it is sent first;
// its error is returned when it is the first window.
func fitSeries(batch []window.Window, maxBytes, field int, prepare func(*window.Window) (series, error)) ([]series, int, error) {
	var (
		all   []series
		total int
	)
	for i := range batch {
		s, err := prepare(&batch[i])
		if err != nil {
			if len(all) > 0 {
				break
			}
			return nil, 0, err
		}
		if len(all) > 0 && total+s.size > maxBytes {
			break
		}
		all = append(all, s)
		total += protowire.SizeBytesField(field, s.size)
	}
	return all, total, nil
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
	case window.KindCPU:
		return "process_cpu", nil
	case window.KindHeap:
		return "memory", nil
	case window.KindGoroutines:
		return "goroutine", nil
	case window.KindGoroutineLeak:
		return "goroutine_leak", nil
	case window.KindMutex, window.KindBlock:
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
func seriesLabels(w *window.Window, extra ...label) ([]label, error) {
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

// walkFields calls fn for each field of the protobuf message p, in order,
// with the value of a varint field in v and the payload of a
// length-delimited one in b; fixed-size fields are skipped. It reports
// whether p was well formed.
func walkFields(p []byte, fn func(field, wire int, v uint64, b []byte)) bool {
	for len(p) > 0 {
		key, n := protowire.ReadVarint(p)
		if n == 0 {
			return false
		}
		p = p[n:]
		field, wire := int(key>>3), int(key&7)
		switch wire {
		case protowire.Varint:
			v, n := protowire.ReadVarint(p)
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
		case protowire.Bytes:
			l, n := protowire.ReadVarint(p)
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

// newUUID returns a random RFC 9562 version 4 UUID in its text form.
func newUUID() string {
	var u [16]byte
	rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:])
}
