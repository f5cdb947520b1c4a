package pprofenc

import (
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/gzip"

	"github.com/pyroscope-sdk/pyroscope-go/internal/pprofwire"
	"github.com/pyroscope-sdk/pyroscope-go/internal/protowire"
)

// gzipLevel trades CPU for bytes uploaded. On a heap profile of 16k live
// stacks (710 KB before compression) level 6 writes 61 KB in about 2 ms and
// level 1 (gzip.BestSpeed, runtime/pprof's and godeltaprof's choice) writes
// 78 KB in about 1 ms: the profile is sent every window, the extra
// millisecond is spent once.
const gzipLevel = 6

// gzipWriters holds compressors between profiles. A gzip writer carries
// about 1 MB of match tables; the collectors of one profiler finish their
// profiles one after another, so they share one instead of keeping one each.
var gzipWriters sync.Pool

// ValueType names a sample value and its unit, as in profile.proto.
type ValueType struct {
	Type, Unit string
}

// Header holds what describes a whole profile.
type Header struct {
	SampleTypes       []ValueType
	PeriodType        ValueType
	Period            int64
	TimeNanos         int64
	DurationNanos     int64
	DefaultSampleType string
}

// Label is a sample label: a string value when Num is zero, else a number.
type Label struct {
	Key, Str string
	Num      int64
}

// Builder encodes one gzipped pprof profile at a time from samples whose
// locations come from a Symbols cache. Only the locations, functions and
// strings the profile's samples use are written. A Builder reuses its
// buffers from profile to profile; it is not safe for concurrent use.
type Builder struct {
	sym   *Symbols
	epoch uint32

	body []byte // header and samples, then the rest at Finish

	// Each profile numbers its locations and functions 1..n in the order
	// it first uses them: Parca rejects a profile whose IDs are not their
	// 1-based positions in its tables.
	locSeen  []uint32 // per location: epoch it was last written in
	locID    []uint64 // per location: its ID in the profile of locSeen's epoch
	usedLocs []int32
	funcSeen []uint32
	funcID   []uint64 // per function: its ID in the profile of funcSeen's epoch
	usedFns  []int32
	strSeen  []uint32 // per Symbols string: epoch it got an index in
	strIndex []int64
	table    []string         // this profile's string table
	dynIndex map[string]int64 // this profile's strings that are not symbols

}

// NewBuilder returns a Builder writing locations from sym.
func NewBuilder(sym *Symbols) *Builder {
	return &Builder{sym: sym, dynIndex: make(map[string]int64)}
}

// Symbols returns the cache the Builder writes locations from.
func (b *Builder) Symbols() *Symbols { return b.sym }

// Begin starts a new profile described by h, dropping any unfinished one.
func (b *Builder) Begin(h Header) {
	b.epoch++
	if b.epoch == 0 { // wrapped: forget every mark
		clear(b.locSeen)
		clear(b.funcSeen)
		clear(b.strSeen)
		b.epoch = 1
	}
	b.body = b.body[:0]
	b.usedLocs = b.usedLocs[:0]
	b.usedFns = b.usedFns[:0]
	b.table = append(b.table[:0], "")
	clear(b.dynIndex)
	b.dynIndex[""] = 0

	for _, vt := range h.SampleTypes {
		b.body = b.valueType(b.body, pprofwire.ProfileSampleType, vt)
	}
	b.body = b.valueType(b.body, pprofwire.ProfilePeriodType, h.PeriodType)
	b.body = appendInt(b.body, pprofwire.ProfilePeriod, h.Period)
	b.body = appendInt(b.body, pprofwire.ProfileTimeNanos, h.TimeNanos)
	b.body = appendInt(b.body, pprofwire.ProfileDurationNanos, h.DurationNanos)
	if h.DefaultSampleType != "" {
		b.body = appendInt(b.body, pprofwire.ProfileDefaultSampleType, b.dyn(h.DefaultSampleType))
	}
}

func (b *Builder) valueType(buf []byte, field int, vt ValueType) []byte {
	buf, start := startMessage(buf, field)
	buf = appendInt(buf, pprofwire.ValueTypeType, b.dyn(vt.Type))
	buf = appendInt(buf, pprofwire.ValueTypeUnit, b.dyn(vt.Unit))
	return endMessage(buf, start)
}

// dyn returns the string-table index of s, adding it to this profile.
func (b *Builder) dyn(s string) int64 {
	if i, ok := b.dynIndex[s]; ok {
		return i
	}
	i := int64(len(b.table))
	b.table = append(b.table, s)
	b.dynIndex[s] = i
	return i
}

// sym returns the string-table index of the Symbols string id.
func (b *Builder) symString(id int32) int64 {
	if int(id) >= len(b.strSeen) {
		b.strSeen = append(b.strSeen, make([]uint32, len(b.sym.strs)-len(b.strSeen))...)
		b.strIndex = append(b.strIndex, make([]int64, len(b.sym.strs)-len(b.strIndex))...)
	}
	if b.strSeen[id] == b.epoch {
		return b.strIndex[id]
	}
	s := b.sym.strs[id]
	i, ok := b.dynIndex[s]
	if !ok {
		i = int64(len(b.table))
		b.table = append(b.table, s)
		b.dynIndex[s] = i
	}
	b.strSeen[id], b.strIndex[id] = b.epoch, i
	return i
}

// Sample adds a sample with the given location IDs (from Symbols), values
// and labels.
func (b *Builder) Sample(locs []uint32, values []int64, labels []Label) {
	if n := len(b.sym.locs); len(b.locSeen) < n {
		b.locSeen = append(b.locSeen, make([]uint32, n-len(b.locSeen))...)
		b.locID = append(b.locID, make([]uint64, n-len(b.locID))...)
	}
	// Values go before locations: runs of samples then share longer byte
	// sequences (the end of one sample's stack, its labels and the start of
	// the next sample's values), which gzip finds more cheaply. On the
	// idle-rich benchmark's heap profile this makes the gzipped profile 7%
	// smaller at the same compression level.
	buf, start := startMessage(b.body, pprofwire.ProfileSample)
	size := 0
	for _, v := range values {
		size += protowire.SizeVarint(uint64(v))
	}
	buf = protowire.AppendBytesHeader(buf, pprofwire.SampleValue, size)
	for _, v := range values {
		buf = protowire.AppendVarint(buf, uint64(v))
	}
	if len(locs) > 0 {
		size := 0
		for _, id := range locs {
			i := id - 1
			if b.locSeen[i] != b.epoch {
				b.locSeen[i] = b.epoch
				b.usedLocs = append(b.usedLocs, int32(i))
				b.locID[i] = uint64(len(b.usedLocs))
			}
			size += protowire.SizeVarint(b.locID[i])
		}
		buf = protowire.AppendBytesHeader(buf, pprofwire.SampleLocationID, size)
		for _, id := range locs {
			buf = protowire.AppendVarint(buf, b.locID[id-1])
		}
	}
	for _, l := range labels {
		var ls int
		buf, ls = startMessage(buf, pprofwire.SampleLabel)
		buf = appendInt(buf, pprofwire.LabelKey, b.dyn(l.Key))
		if l.Num != 0 {
			buf = appendInt(buf, pprofwire.LabelNum, l.Num)
		} else {
			buf = appendInt(buf, pprofwire.LabelStr, b.dyn(l.Str))
		}
		buf = endMessage(buf, ls)
	}
	b.body = endMessage(buf, start)
}

// Finish writes the locations, functions, mappings and string table the
// samples need and writes the profile, gzipped, to w.
func (b *Builder) Finish(w io.Writer) error {
	sym := b.sym
	if n := len(sym.funcs); len(b.funcSeen) < n {
		b.funcSeen = append(b.funcSeen, make([]uint32, n-len(b.funcSeen))...)
		b.funcID = append(b.funcID, make([]uint64, n-len(b.funcID))...)
	}
	buf := b.body
	for _, i := range b.usedLocs {
		loc := &sym.locs[i]
		var start int
		buf, start = startMessage(buf, pprofwire.ProfileLocation)
		buf = appendUint(buf, pprofwire.LocationID, b.locID[i])
		buf = appendUint(buf, pprofwire.LocationMapping, loc.mapping)
		buf = appendUint(buf, pprofwire.LocationAddress, loc.addr)
		for _, ln := range loc.lines {
			var ls int
			buf, ls = startMessage(buf, pprofwire.LocationLine)
			if b.funcSeen[ln.fn] != b.epoch {
				b.funcSeen[ln.fn] = b.epoch
				b.usedFns = append(b.usedFns, ln.fn)
				b.funcID[ln.fn] = uint64(len(b.usedFns))
			}
			buf = appendUint(buf, pprofwire.LineFunction, b.funcID[ln.fn])
			buf = appendInt(buf, pprofwire.LineLine, ln.line)
			buf = endMessage(buf, ls)
		}
		buf = endMessage(buf, start)
	}
	for _, i := range b.usedFns {
		fn := &sym.funcs[i]
		name := b.symString(fn.name)
		var start int
		buf, start = startMessage(buf, pprofwire.ProfileFunction)
		buf = appendUint(buf, pprofwire.FunctionID, b.funcID[i])
		buf = appendInt(buf, pprofwire.FunctionName, name)
		buf = appendInt(buf, pprofwire.FunctionSystemName, name)
		buf = appendInt(buf, pprofwire.FunctionFilename, b.symString(fn.file))
		buf = appendInt(buf, pprofwire.FunctionStartLine, fn.startLine)
		buf = endMessage(buf, start)
	}
	for i, m := range sym.mappings {
		var start int
		buf, start = startMessage(buf, pprofwire.ProfileMapping)
		buf = appendUint(buf, pprofwire.MappingID, uint64(i)+1)
		buf = appendUint(buf, pprofwire.MappingStart, m.Start)
		buf = appendUint(buf, pprofwire.MappingLimit, m.Limit)
		buf = appendUint(buf, pprofwire.MappingOffset, m.Offset)
		buf = appendInt(buf, pprofwire.MappingFilename, b.dyn(m.File))
		buf = appendInt(buf, pprofwire.MappingBuildID, b.dyn(m.BuildID))
		hasFuncs := !sym.mapFail[i]
		buf = appendBool(buf, pprofwire.MappingHasFunctions, hasFuncs)
		buf = appendBool(buf, pprofwire.MappingHasFilenames, hasFuncs)
		buf = appendBool(buf, pprofwire.MappingHasLines, hasFuncs)
		buf = appendBool(buf, pprofwire.MappingHasInline, hasFuncs)
		buf = endMessage(buf, start)
	}
	for _, s := range b.table {
		buf = protowire.AppendString(buf, pprofwire.ProfileStringTable, s)
	}
	b.body = buf

	gz, _ := gzipWriters.Get().(*gzip.Writer)
	if gz == nil {
		var err error
		if gz, err = gzip.NewWriterLevel(w, gzipLevel); err != nil {
			return fmt.Errorf("pprofenc: gzip writer: %w", err)
		}
	} else {
		gz.Reset(w)
	}
	defer gzipWriters.Put(gz)
	if _, err := gz.Write(buf); err != nil {
		return fmt.Errorf("pprofenc: writing profile: %w", err)
	}
	if err := gz.Close(); err != nil {
		return fmt.Errorf("pprofenc: writing profile: %w", err)
	}
	return nil
}
