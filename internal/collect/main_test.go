package collect

import (
	"testing"

	"github.com/pyroscope-sdk/pyroscope-go/internal/leaktest"
)

func TestMain(m *testing.M) {
	// TestGoroutineLeakShowsOnlyTheLeak leaks a goroutine on purpose: no
	// one can ever wake it.
	leaktest.VerifyTestMain(m, "github.com/pyroscope-sdk/pyroscope-go/internal/collect.blockedForever")
}
