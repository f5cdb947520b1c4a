package collect

import (
	"os"

	"github.com/pyroscope-sdk/pyroscope-go/internal/pprofenc"
	"github.com/pyroscope-sdk/pyroscope-go/internal/symbolize"
)

// readMappings lists the executable mappings of this process with their GNU
// build IDs, as runtime/pprof does, so go tool pprof can match the profile
// to its binary. Outside Linux, or when /proc is not mounted, it returns none.
// /proc/PID/maps is parsed by internal/symbolize, the module's one reader.
func readMappings() []pprofenc.Mapping {
	maps, err := symbolize.ReadMaps(os.Getpid())
	if err != nil {
		return nil
	}
	var out []pprofenc.Mapping
	for _, m := range maps {
		if m.Path == "" {
			continue // anonymous
		}
		pm := pprofenc.Mapping{Start: m.Start, Limit: m.Limit, Offset: m.Offset, File: m.Path}
		if m.File() && !m.Deleted { // a deleted file's path names another file, or none
			pm.BuildID = symbolize.GNUBuildID(m.Path)
		}
		out = append(out, pm)
	}
	return out
}
