package upload

import (
	"strings"
	"testing"
	"time"

	"github.com/pyroscope-sdk/pyroscope-go/internal/config"
	"github.com/pyroscope-sdk/pyroscope-go/internal/window"
)

func TestDropLogSummary(t *testing.T) {
	var d dropLog
	t0 := time.Unix(1_700_000_000, 0)
	if s := d.take(t0, false); s != "" {
		t.Errorf("summary with no drops: %q", s)
	}
	d.add(dropBudget, window.KindCPU)
	if s := d.take(t0, false); s != "dropped 1 profile window: 1 over the byte budget (cpu 1)" {
		t.Errorf("first summary = %q", s)
	}
	d.add(dropBudget, window.KindCPU)
	d.add(dropBudget, window.KindHeap)
	d.add(dropRejected, window.KindHeap)
	if s := d.take(t0.Add(59*time.Second), false); s != "" {
		t.Errorf("summary within the minute: %q", s)
	}
	want := "dropped 3 profile windows: 2 over the byte budget (cpu 1, heap 1); 1 rejected by the server (heap 1)"
	if s := d.take(t0.Add(time.Minute), false); s != want {
		t.Errorf("summary after a minute = %q, want %q", s, want)
	}
	d.add(dropClosed, window.KindBlock)
	if s := d.take(t0.Add(time.Minute), true); !strings.Contains(s, "1 undelivered at Close (block 1)") {
		t.Errorf("forced summary = %q", s)
	}
}

func TestRedactorRemovesEverySecret(t *testing.T) {
	r := redactor{&Credentials{Token: config.NewSecret(canaryToken), BasicUser: canaryUser, BasicPassword: config.NewSecret(canaryPassword)}}
	for _, c := range canaries {
		got := r.redact("server said: " + c + " is wrong")
		assertNoSecret(t, "redacted message", got)
		if !strings.Contains(got, "[redacted]") {
			t.Errorf("redact(%q) = %q", c, got)
		}
	}
	if got := (redactor{}).redact("plain"); got != "plain" {
		t.Errorf("nil credentials changed the message: %q", got)
	}
}
