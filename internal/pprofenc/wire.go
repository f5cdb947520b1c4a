package pprofenc

import "github.com/pyroscope-sdk/pyroscope-go/internal/protowire"

// appendUint appends a varint field, omitting it when zero as proto3 does.
func appendUint(b []byte, field int, v uint64) []byte {
	if v == 0 {
		return b
	}
	b = protowire.AppendTag(b, field, protowire.Varint)
	return protowire.AppendVarint(b, v)
}

func appendInt(b []byte, field int, v int64) []byte {
	return appendUint(b, field, uint64(v))
}

func appendBool(b []byte, field int, v bool) []byte {
	if !v {
		return b
	}
	return append(protowire.AppendTag(b, field, protowire.Varint), 1)
}

// startMessage opens a length-delimited field and returns the offset where
// its body starts; endMessage fills in the length. One byte is reserved for
// the length, which fits most messages; longer ones shift their body.
func startMessage(b []byte, field int) ([]byte, int) {
	b = protowire.AppendTag(b, field, protowire.Bytes)
	b = append(b, 0)
	return b, len(b)
}

func endMessage(b []byte, start int) []byte {
	n := len(b) - start
	if n < 0x80 {
		b[start-1] = byte(n)
		return b
	}
	extra := protowire.SizeVarint(uint64(n)) - 1
	for range extra {
		b = append(b, 0)
	}
	copy(b[start+extra:], b[start:start+n])
	protowire.AppendVarint(b[start-1:start-1], uint64(n))
	return b
}
