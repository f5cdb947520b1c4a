package pyroscope_test

import (
	"context"
	"net/http"
	"os"
	"testing"
	"time"

	pyroscope "github.com/pyroscope-sdk/pyroscope-go"
)

// grafanaStyleLogger has the method set grafana/pyroscope-go's Logger asks
// for, written with interface{} as code of that era is.
type grafanaStyleLogger struct{}

func (grafanaStyleLogger) Infof(_ string, _ ...interface{})  {}
func (grafanaStyleLogger) Debugf(_ string, _ ...interface{}) {}
func (grafanaStyleLogger) Errorf(_ string, _ ...interface{}) {}

// TestGrafanaV14ProgramBuilds is a program written for
// github.com/grafana/pyroscope-go v1.4 with only its import path changed: it
// sets every Config field that SDK has, with the same types, and uses every
// other exported name it has. That this file compiles is the check; running
// it proves the values are accepted.
func TestGrafanaV14ProgramBuilds(t *testing.T) {
	var logger pyroscope.Logger = grafanaStyleLogger{}
	_ = pyroscope.StandardLogger
	types := append([]pyroscope.ProfileType{}, pyroscope.DefaultProfileTypes...)
	types = append(types,
		pyroscope.ProfileCPU, pyroscope.ProfileInuseObjects, pyroscope.ProfileAllocObjects,
		pyroscope.ProfileInuseSpace, pyroscope.ProfileAllocSpace, pyroscope.ProfileGoroutines,
		pyroscope.ProfileMutexCount, pyroscope.ProfileMutexDuration, pyroscope.ProfileBlockCount,
		pyroscope.ProfileBlockDuration, pyroscope.ProfileGoroutineLeak,
	)
	var rate uint32 = pyroscope.DefaultSampleRate
	cfg := pyroscope.Config{
		ApplicationName:        "compat.app",
		Tags:                   map[string]string{"env": "test"},
		ServerAddress:          "file://" + t.TempDir(),
		BasicAuthUser:          "",
		BasicAuthPassword:      "",
		TenantID:               "tenant",
		UploadRate:             time.Hour,
		Logger:                 logger,
		ProfileTypes:           types,
		DisableGCRuns:          false,
		HTTPHeaders:            map[string]string{"X-Team": "core"},
		HTTPClient:             &http.Client{},
		AuthToken:              os.Getenv("PYROSCOPE_AUTH_TOKEN_UNSET_IN_TESTS"),
		DisableAutomaticResets: false,
		DisableCumulativeMerge: true,
		SampleRate:             rate,
	}
	p, err := pyroscope.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var labels pyroscope.LabelSet = pyroscope.Labels("handler", "/checkout")
	pyroscope.TagWrapper(context.Background(), labels, func(ctx context.Context) {})
	p.Flush(false)
	p.Flush(true)
	var stop func() error = p.Stop
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}
