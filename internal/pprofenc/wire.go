package pprofenc

import "github.com/pyroscope-sdk/pyroscope-go/internal/protowire"

// Protocol buffer field numbers of profile.proto (github.com/google/pprof).
const (
	profSampleType        = 1
	profSample            = 2
	profMapping           = 3
	profLocation          = 4
	profFunction          = 5
	profStringTable       = 6
	profTimeNanos         = 9
	profDurationNanos     = 10
	profPeriodType        = 11
	profPeriod            = 12
	profDefaultSampleType = 14

	valueTypeType = 1
	valueTypeUnit = 2

	sampleLocationID = 1
	sampleValue      = 2
	sampleLabel      = 3

	labelKey = 1
	labelStr = 2
	labelNum = 3

	mappingID           = 1
	mappingStart        = 2
	mappingLimit        = 3
	mappingOffset       = 4
	mappingFilename     = 5
	mappingBuildID      = 6
	mappingHasFunctions = 7
	mappingHasFilenames = 8
	mappingHasLines     = 9
	mappingHasInline    = 10

	locationID      = 1
	locationMapping = 2
	locationAddress = 3
	locationLine    = 4

	lineFunction = 1
	lineLine     = 2

	functionID         = 1
	functionName       = 2
	functionSystemName = 3
	functionFilename   = 4
	functionStartLine  = 5
)

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
