// Package protowire holds the few protocol buffer wire-format primitives the
// SDK's hand-written encoders share: varints, field keys and the headers of
// length-delimited fields. Message layouts stay with the packages that own
// them; this package knows nothing of pprof, Pyroscope or Parca.
package protowire

// Wire types of a field key.
const (
	Varint = 0
	Bytes  = 2
)

// AppendVarint appends v in base-128 varint encoding.
func AppendVarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// SizeVarint is the number of bytes AppendVarint writes for v.
func SizeVarint(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// ReadVarint decodes a varint at the start of p and returns it with the
// number of bytes read, 0 when p holds no complete varint.
func ReadVarint(p []byte) (uint64, int) {
	var v uint64
	for i := 0; i < len(p) && i < 10; i++ {
		v |= uint64(p[i]&0x7f) << (7 * i)
		if p[i] < 0x80 {
			return v, i + 1
		}
	}
	return 0, 0
}

// AppendTag appends the key of field with the given wire type.
func AppendTag(b []byte, field, wire int) []byte {
	return AppendVarint(b, uint64(field)<<3|uint64(wire))
}

// AppendBytesHeader appends the key and length of a length-delimited field;
// the caller appends the n payload bytes.
func AppendBytesHeader(b []byte, field, n int) []byte {
	b = AppendTag(b, field, Bytes)
	return AppendVarint(b, uint64(n))
}

// SizeBytesField is the size of a length-delimited field holding n bytes.
func SizeBytesField(field, n int) int {
	return SizeVarint(uint64(field)<<3) + SizeVarint(uint64(n)) + n
}

// AppendBytes appends a whole length-delimited field holding p.
func AppendBytes(b []byte, field int, p []byte) []byte {
	return append(AppendBytesHeader(b, field, len(p)), p...)
}

// AppendString appends a whole length-delimited field holding s.
func AppendString(b []byte, field int, s string) []byte {
	return append(AppendBytesHeader(b, field, len(s)), s...)
}
