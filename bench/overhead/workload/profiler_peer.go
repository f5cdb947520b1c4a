//go:build peer

package main

import pyroscope "github.com/grafana/pyroscope-go"

// The two profiler_{ours,peer}.go files stay identical but for the build
// constraint, the import path and the variant name: the comparison is only
// fair if both SDKs are driven by the same lines
// (TestProfilerFilesDifferOnlyInImport checks it).

const variant = "peer"

func startProfiler(o profilerOptions) (stop func() error, err error) {
	p, err := pyroscope.Start(pyroscope.Config{
		ApplicationName: o.app,
		ServerAddress:   o.server,
		UploadRate:      o.uploadRate,
		ProfileTypes: []pyroscope.ProfileType{
			pyroscope.ProfileCPU,
			pyroscope.ProfileAllocObjects,
			pyroscope.ProfileAllocSpace,
			pyroscope.ProfileInuseObjects,
			pyroscope.ProfileInuseSpace,
			pyroscope.ProfileGoroutines,
			pyroscope.ProfileMutexCount,
			pyroscope.ProfileMutexDuration,
			pyroscope.ProfileBlockCount,
			pyroscope.ProfileBlockDuration,
		},
	})
	if err != nil {
		return nil, err
	}
	return p.Stop, nil
}
