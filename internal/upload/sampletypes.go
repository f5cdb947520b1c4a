package upload

import (
	"bytes"
	"compress/gzip"
	"io"

	"github.com/pyroscope-sdk/pyroscope-go/internal/pprofwire"
	"github.com/pyroscope-sdk/pyroscope-go/internal/protowire"
)

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

// sampleTypeNames returns the names of an uncompressed profile's sample
// types, in order. ok is false when the bytes are not a well-formed
// profile.
func sampleTypeNames(raw []byte) (names []string, ok bool) {
	var typeIdx []uint64
	var strs []string
	ok = walkFields(raw, func(field, wire int, _ uint64, b []byte) {
		switch {
		case field == pprofwire.ProfileSampleType && wire == protowire.Bytes:
			var idx uint64
			ok := walkFields(b, func(f, w int, v uint64, _ []byte) {
				if f == pprofwire.ValueTypeType && w == protowire.Varint {
					idx = v
				}
			})
			if !ok {
				idx = ^uint64(0)
			}
			typeIdx = append(typeIdx, idx)
		case field == pprofwire.ProfileStringTable && wire == protowire.Bytes:
			strs = append(strs, string(b))
		}
	})
	if !ok {
		return nil, false
	}
	for _, i := range typeIdx {
		if i >= uint64(len(strs)) {
			return nil, false
		}
		names = append(names, strs[i])
	}
	return names, true
}

// keepSampleTypes returns an uncompressed profile holding only the sample
// types of raw at the indexes keep (ascending), with each sample's values cut
// to match, and the given time_nanos and duration_nanos (0: none); samples
// left with only zeros are dropped. Every other field is copied as it is
// (profile.proto has no fixed-size fields, which walkFields would skip). raw
// must be well formed (sampleTypeNames said so).
func keepSampleTypes(raw []byte, keep []int, timeNanos, durationNanos int64) []byte {
	out := make([]byte, 0, len(raw))
	kept := func(i int) bool {
		for _, k := range keep {
			if k == i {
				return true
			}
		}
		return false
	}
	typeIndex := 0
	var values []uint64
	walkFields(raw, func(field, wire int, v uint64, b []byte) {
		switch {
		case field == pprofwire.ProfileSampleType && wire == protowire.Bytes:
			if kept(typeIndex) {
				out = protowire.AppendBytes(out, field, b)
			}
			typeIndex++
		case field == pprofwire.ProfileSample && wire == protowire.Bytes:
			values = values[:0]
			var rest []byte
			walkFields(b, func(f, w int, v uint64, p []byte) {
				switch {
				case f == pprofwire.SampleValue && w == protowire.Varint:
					values = append(values, v)
				case f == pprofwire.SampleValue && w == protowire.Bytes: // packed
					for len(p) > 0 {
						x, n := protowire.ReadVarint(p)
						if n == 0 {
							return
						}
						values = append(values, x)
						p = p[n:]
					}
				default:
					rest = appendField(rest, f, w, v, p)
				}
			})
			var packed []byte
			nonzero := false
			for _, k := range keep {
				var x uint64
				if k < len(values) {
					x = values[k]
				}
				nonzero = nonzero || x != 0
				packed = protowire.AppendVarint(packed, x)
			}
			if !nonzero {
				return
			}
			rest = protowire.AppendBytes(rest, pprofwire.SampleValue, packed)
			out = protowire.AppendBytes(out, field, rest)
		case field == pprofwire.ProfileTimeNanos || field == pprofwire.ProfileDurationNanos:
			// Replaced below: a parser may refuse a second value
			// (google/pprof takes it for concatenated profiles).
		default:
			out = appendField(out, field, wire, v, b)
		}
	})
	for _, f := range []struct {
		field int
		v     int64
	}{{pprofwire.ProfileTimeNanos, timeNanos}, {pprofwire.ProfileDurationNanos, durationNanos}} {
		if f.v != 0 {
			out = appendField(out, f.field, protowire.Varint, uint64(f.v), nil)
		}
	}
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
