// Package pprofwire is the one table of profile.proto's field numbers,
// shared by the encoder (internal/pprofenc) and the backends that read or
// stamp a profile's header fields (internal/upload).
package pprofwire

// Field numbers of profile.proto (github.com/google/pprof), by message.
const (
	ProfileSampleType        = 1
	ProfileSample            = 2
	ProfileMapping           = 3
	ProfileLocation          = 4
	ProfileFunction          = 5
	ProfileStringTable       = 6
	ProfileTimeNanos         = 9
	ProfileDurationNanos     = 10
	ProfilePeriodType        = 11
	ProfilePeriod            = 12
	ProfileDefaultSampleType = 14

	ValueTypeType = 1
	ValueTypeUnit = 2

	SampleLocationID = 1
	SampleValue      = 2
	SampleLabel      = 3

	LabelKey = 1
	LabelStr = 2
	LabelNum = 3

	MappingID           = 1
	MappingStart        = 2
	MappingLimit        = 3
	MappingOffset       = 4
	MappingFilename     = 5
	MappingBuildID      = 6
	MappingHasFunctions = 7
	MappingHasFilenames = 8
	MappingHasLines     = 9
	MappingHasInline    = 10

	LocationID      = 1
	LocationMapping = 2
	LocationAddress = 3
	LocationLine    = 4

	LineFunction = 1
	LineLine     = 2

	FunctionID         = 1
	FunctionName       = 2
	FunctionSystemName = 3
	FunctionFilename   = 4
	FunctionStartLine  = 5
)
