package protowire

import (
	"bytes"
	"testing"
)

func TestVarint(t *testing.T) {
	for _, v := range []uint64{0, 1, 127, 128, 300, 1 << 32, 1<<64 - 1} {
		b := AppendVarint(nil, v)
		if len(b) != SizeVarint(v) {
			t.Errorf("SizeVarint(%d) = %d, wrote %d bytes", v, SizeVarint(v), len(b))
		}
		got, n := ReadVarint(b)
		if got != v || n != len(b) {
			t.Errorf("ReadVarint(AppendVarint(%d)) = %d, %d", v, got, n)
		}
	}
}

func TestReadVarintIncomplete(t *testing.T) {
	tests := []struct {
		name string
		p    []byte
	}{
		{"empty", nil},
		{"continuation without end", []byte{0x80, 0x80}},
		{"longer than ten bytes", bytes.Repeat([]byte{0xff}, 11)},
	}
	for _, tt := range tests {
		if v, n := ReadVarint(tt.p); n != 0 {
			t.Errorf("%s: ReadVarint(%x) = %d, %d; want n 0", tt.name, tt.p, v, n)
		}
	}
}

func TestLengthDelimited(t *testing.T) {
	tests := []struct {
		field   int
		payload string
		want    []byte
	}{
		// Key of field 1 wire type 2 is 0x0a; field 16 needs a two-byte key.
		{1, "hi", []byte{0x0a, 0x02, 'h', 'i'}},
		{16, "", []byte{0x82, 0x01, 0x00}},
		{2, string(make([]byte, 200)), append([]byte{0x12, 0xc8, 0x01}, make([]byte, 200)...)},
	}
	for _, tt := range tests {
		s := AppendString(nil, tt.field, tt.payload)
		b := AppendBytes(nil, tt.field, []byte(tt.payload))
		if !bytes.Equal(s, tt.want) || !bytes.Equal(b, tt.want) {
			t.Errorf("field %d, %d bytes: AppendString %x, AppendBytes %x; want %x", tt.field, len(tt.payload), s, b, tt.want)
		}
		if n := SizeBytesField(tt.field, len(tt.payload)); n != len(tt.want) {
			t.Errorf("SizeBytesField(%d, %d) = %d, want %d", tt.field, len(tt.payload), n, len(tt.want))
		}
	}
}
