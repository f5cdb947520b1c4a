package collect

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// TestGoroutineLeakShowsOnlyTheLeak leaks a goroutine on purpose: no
	// one can ever wake it.
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/pyroscope-sdk/pyroscope-go/internal/collect.blockedForever"))
}
