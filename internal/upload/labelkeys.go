package upload

import (
	"bytes"
	"compress/gzip"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/pyroscope-sdk/pyroscope-go/internal/config"
	"github.com/pyroscope-sdk/pyroscope-go/internal/pprofwire"
	"github.com/pyroscope-sdk/pyroscope-go/internal/protowire"
	"github.com/pyroscope-sdk/pyroscope-go/internal/window"
)

// Sample labels are the one part of a profile's bytes that other code in
// the program decides: dd-trace-go sets "span id", "local root span id"
// and "trace endpoint", and Pyroscope refuses a whole upload (422 "invalid
// label name") for a key it cannot store. Destination.Push rewrites such
// keys with config.TagKey, the rule of the series tags, before any backend
// sees the window, so that no backend parses a profile for it. Keys a
// server stores as they are ("span_id", which otel-profiling-go sets and
// Pyroscope links spans by) are left alone.

// labelled reports whether windows of kind carry sample labels: the Go
// runtime attaches them to CPU samples and goroutines only.
func labelled(kind string) bool {
	return kind == window.KindCPU || kind == window.KindGoroutines || kind == window.KindGoroutineLeak
}

// storableLabelKeys returns data, a profile gzipped or not, with every
// sample label key that config.TagKey would change replaced by its
// translation; data itself when no key needs it or data is not a
// well-formed profile (the server then says what is wrong with it).
func storableLabelKeys(data []byte) []byte {
	raw, err := gunzipped(data)
	if err != nil {
		return data
	}
	var strs []string
	keys := map[uint64]bool{}
	ok := walkFields(raw, func(field, wire int, _ uint64, b []byte) {
		switch {
		case field == pprofwire.ProfileStringTable && wire == protowire.Bytes:
			strs = append(strs, string(b))
		case field == pprofwire.ProfileSample && wire == protowire.Bytes:
			walkFields(b, func(f, w int, _ uint64, l []byte) {
				if f == pprofwire.SampleLabel && w == protowire.Bytes {
					if k, ok := labelKey(l); ok {
						keys[k] = true
					}
				}
			})
		}
	})
	if !ok {
		return data
	}
	translate := map[uint64]string{} // key index -> its translation
	for k := range keys {
		if k >= uint64(len(strs)) {
			return data
		}
		if to := config.TagKey(strs[k]); to != strs[k] {
			translate[k] = to
		}
	}
	if len(translate) == 0 {
		return data
	}
	// Translated keys reuse a string of the table when it has theirs, else
	// get a new one at its end.
	index := make(map[string]uint64, len(strs))
	for i, s := range strs {
		if _, dup := index[s]; !dup {
			index[s] = uint64(i)
		}
	}
	var added []string
	intern := func(s string) uint64 {
		i, ok := index[s]
		if !ok {
			i = uint64(len(strs) + len(added))
			index[s] = i
			added = append(added, s)
		}
		return i
	}
	out := make([]byte, 0, len(raw)+64)
	walkFields(raw, func(field, wire int, v uint64, b []byte) {
		if field != pprofwire.ProfileSample || wire != protowire.Bytes {
			out = appendField(out, field, wire, v, b)
			return
		}
		renamed := sampleRenames(b, strs, translate, intern)
		if renamed == nil {
			out = protowire.AppendBytes(out, field, b)
			return
		}
		var sample []byte
		walkFields(b, func(f, w int, v uint64, l []byte) {
			if f == pprofwire.SampleLabel && w == protowire.Bytes {
				l = renameLabelKey(l, renamed)
			}
			sample = appendField(sample, f, w, v, l)
		})
		out = protowire.AppendBytes(out, field, sample)
	})
	for _, s := range added {
		out = protowire.AppendString(out, pprofwire.ProfileStringTable, s)
	}
	if isGzip(data) {
		return gzipped(out)
	}
	return out
}

// sampleRenames says which label keys of the encoded Sample b to replace,
// and by which string: nil when none of its keys is in translate. A
// translation never takes the name of another key of the same sample: the
// keys the server stores as they are keep their names, the translated ones
// take theirs in byte order of the original keys, and one whose name is
// taken gets the first free of name_2, name_3, ... So a sample with both
// dd-trace-go's "span id" and otel-profiling-go's "span_id" keeps both
// values, under span_id and span_id_2.
func sampleRenames(b []byte, strs []string, translate map[uint64]string, intern func(string) uint64) map[uint64]uint64 {
	var own []uint64 // key indexes of the sample that need translating
	taken := map[string]bool{}
	walkFields(b, func(f, w int, _ uint64, l []byte) {
		if f != pprofwire.SampleLabel || w != protowire.Bytes {
			return
		}
		k, ok := labelKey(l)
		if !ok || k >= uint64(len(strs)) {
			return
		}
		if _, ok := translate[k]; ok {
			if !slices.Contains(own, k) {
				own = append(own, k)
			}
		} else {
			taken[strs[k]] = true
		}
	})
	if len(own) == 0 {
		return nil
	}
	slices.SortFunc(own, func(a, b uint64) int { return strings.Compare(strs[a], strs[b]) })
	renamed := make(map[uint64]uint64, len(own))
	for _, k := range own {
		name := translate[k]
		for n := 2; taken[name]; n++ {
			name = translate[k] + "_" + strconv.Itoa(n)
		}
		taken[name] = true
		renamed[k] = intern(name)
	}
	return renamed
}

// labelKey returns the key (a string table index) of an encoded Label.
func labelKey(l []byte) (key uint64, ok bool) {
	walkFields(l, func(f, w int, v uint64, _ []byte) {
		if f == pprofwire.LabelKey && w == protowire.Varint {
			key, ok = v, true
		}
	})
	return key, ok
}

// renameLabelKey returns the encoded Label l with its key replaced as
// renamed says, or l itself.
func renameLabelKey(l []byte, renamed map[uint64]uint64) []byte {
	k, ok := labelKey(l)
	to, found := renamed[k]
	if !ok || !found {
		return l
	}
	var out []byte
	walkFields(l, func(f, w int, v uint64, b []byte) {
		if f == pprofwire.LabelKey && w == protowire.Varint {
			v = to
		}
		out = appendField(out, f, w, v, b)
	})
	return out
}

// appendField writes one field as walkFields reported it.
func appendField(out []byte, field, wire int, v uint64, b []byte) []byte {
	if wire == protowire.Varint {
		out = protowire.AppendTag(out, field, protowire.Varint)
		return protowire.AppendVarint(out, v)
	}
	return protowire.AppendBytes(out, field, b)
}

// isGzip reports whether data starts with the gzip magic number.
func isGzip(data []byte) bool { return len(data) >= 2 && data[0] == 0x1f && data[1] == 0x8b }

// gunzipped returns data uncompressed if it is gzipped, else data itself.
func gunzipped(data []byte) ([]byte, error) {
	if !isGzip(data) {
		return data, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(zr)
}

// gzipped returns raw compressed with gzip.
func gzipped(raw []byte) []byte {
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	zw.Write(raw)
	zw.Close()
	return out.Bytes()
}
